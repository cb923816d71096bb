/**
 * Connection settings and their errors, without a Temporal cluster: certificates made with the
 * `openssl` CLI, and a local HTTP/2 TLS server (requestCert / rejectUnauthorized) that answers
 * the two calls a connection makes (GetSystemInfo, DescribeNamespace) as a frontend would. Each
 * wrong setting must come back as one line naming the setting and the fix — from Node's client
 * (`poc` commands, the bot) and from the worker's native client alike.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { NativeConnection } from '@temporalio/worker';
import { loadConfig } from '../core/config.js';
import {
  TemporalConnectionError,
  connectTemporal,
  connectionOptions,
  describeConnectionError,
} from '../core/temporal.js';

let dir: string;
const file = (name: string) => path.join(dir, name);

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A CA, a second unrelated CA, a server certificate for 127.0.0.1 and a client certificate. */
function makeCertificates(): void {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'poc-tls-'));
  const subject = (cn: string) => ['-subj', `/CN=${cn}`];
  for (const ca of ['ca', 'other-ca']) {
    openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${ca}.key`,
      '-out',
      `${ca}.pem`,
      '-days',
      '2',
      ...subject(ca),
    );
  }
  fs.writeFileSync(file('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  fs.writeFileSync(file('client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, ext] of [
    ['server', 'server.ext'],
    ['client', 'client.ext'],
  ]) {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, ...subject(name));
    openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-extfile',
      ext,
    );
  }
  fs.writeFileSync(file('not-pem.txt'), 'hello\n');
}

interface FakeFrontend {
  address: string;
  close(): Promise<void>;
}

/** gRPC over HTTP/2 + TLS, just enough of it: an empty reply, or a status with a message. */
async function fakeFrontend({
  requestCert = true,
  auth,
  namespaces = ['default'],
}: {
  requestCert?: boolean;
  /** Answer every call UNAUTHENTICATED unless it carries `Bearer <auth>`. */
  auth?: string;
  namespaces?: string[];
} = {}): Promise<FakeFrontend> {
  const server = http2.createSecureServer({
    key: fs.readFileSync(file('server.key')),
    cert: fs.readFileSync(file('server.pem')),
    ca: fs.readFileSync(file('ca.pem')),
    requestCert,
    rejectUnauthorized: requestCert,
  });
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      let status = 0;
      let message = '';
      if (auth !== undefined && headers.authorization !== `Bearer ${auth}`) {
        status = 16;
        message = 'Request unauthorized.';
      } else if (String(headers[':path']).endsWith('/DescribeNamespace')) {
        // The request's field 1 is the namespace (a short string: tag, length, bytes).
        const body = Buffer.concat(chunks).subarray(5);
        const namespace = body[0] === 0x0a ? body.subarray(2, 2 + body[1]).toString() : '';
        if (!namespaces.includes(namespace)) {
          status = 5;
          message = `Namespace ${namespace} is not found.`;
        }
      }
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () =>
        stream.sendTrailers({ 'grpc-status': String(status), 'grpc-message': encodeURIComponent(message) }),
      );
      if (status === 0) stream.write(Buffer.from([0, 0, 0, 0, 0]));
      stream.end();
    });
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => sessions.add(session));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const session of sessions) session.destroy();
        server.close(() => resolve());
      }),
  };
}

const frontends: FakeFrontend[] = [];
async function frontend(options?: Parameters<typeof fakeFrontend>[0]): Promise<string> {
  const started = await fakeFrontend(options);
  frontends.push(started);
  return started.address;
}

function mtlsEnv(address: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    TEMPORAL_ADDRESS: address,
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: file('ca.pem'),
    TEMPORAL_TLS_CLIENT_CERT_PATH: file('client.pem'),
    TEMPORAL_TLS_CLIENT_KEY_PATH: file('client.key'),
    ...extra,
  };
}

/** The one line `poc` would print, from Node's client (with the namespace check). */
async function clientLine(env: NodeJS.ProcessEnv): Promise<string> {
  try {
    const connection = await connectTemporal(loadConfig(env), { connectTimeoutMs: 1_500 });
    await connection.close();
  } catch (err) {
    expect(err).toBeInstanceOf(TemporalConnectionError);
    return (err as Error).message;
  }
  return 'connected';
}

/** The one line the worker would print, from the native client. */
async function nativeLine(env: NodeJS.ProcessEnv): Promise<string> {
  const config = loadConfig(env);
  try {
    const connection = await NativeConnection.connect(connectionOptions(config));
    await connection.close();
  } catch (err) {
    return describeConnectionError(err, config);
  }
  return 'connected';
}

function expectOneLine(line: string): void {
  expect(line).not.toContain('\n');
  expect(line).not.toMatch(/\bat .*\.(js|ts):\d+/);
}

beforeAll(() => makeCertificates());

afterAll(async () => {
  for (const started of frontends) await started.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('connectionOptions', () => {
  test('reads the configured files into TLS options, with the API key and server name', () => {
    const options = connectionOptions(
      loadConfig(mtlsEnv('127.0.0.1:7233', { TEMPORAL_API_KEY: 'key-123456', TEMPORAL_TLS_SERVER_NAME: 'localhost' })),
    );
    expect(options.address).toBe('127.0.0.1:7233');
    expect(options.apiKey).toBe('key-123456');
    const tls = options.tls as {
      serverNameOverride?: string;
      serverRootCACertificate?: Uint8Array;
      clientCertPair?: object;
    };
    expect(tls.serverNameOverride).toBe('localhost');
    expect(Buffer.from(tls.serverRootCACertificate as Uint8Array).toString()).toContain('BEGIN CERTIFICATE');
    expect(tls.clientCertPair).toBeDefined();
    expect(connectionOptions(loadConfig({})).tls).toBeUndefined();
    expect(connectionOptions(loadConfig({ TEMPORAL_ADDRESS: 'h:7233', TEMPORAL_TLS: 'true' })).tls).toBe(true);
  });

  test('a missing, unreadable or non-PEM file is one line naming the setting (no connection tried)', () => {
    const cases: [NodeJS.ProcessEnv, RegExp][] = [
      [
        { TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/nowhere/ca.pem' },
        /^TEMPORAL_TLS_SERVER_CA_CERT_PATH=\/nowhere\/ca\.pem: no such file; point it at the CA certificate/,
      ],
      [
        { TEMPORAL_TLS_CLIENT_CERT_PATH: '/nowhere/client.pem' },
        /^TEMPORAL_TLS_CLIENT_CERT_PATH=\/nowhere\/client\.pem: no such file/,
      ],
      [{ TEMPORAL_TLS_CLIENT_KEY_PATH: os.tmpdir() }, /^TEMPORAL_TLS_CLIENT_KEY_PATH=.*: a folder, not a file/],
      [
        { TEMPORAL_TLS_SERVER_CA_CERT_PATH: file('not-pem.txt') },
        /^TEMPORAL_TLS_SERVER_CA_CERT_PATH=.* is not a PEM file/,
      ],
    ];
    for (const [extra, message] of cases) {
      let thrown: unknown;
      try {
        connectionOptions(loadConfig(mtlsEnv('127.0.0.1:7233', extra)));
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(TemporalConnectionError);
      expect((thrown as Error).message).toMatch(message);
      expectOneLine((thrown as Error).message);
    }
  });
});

describe('describeConnectionError: one line naming the setting and the fix', () => {
  test('the right settings connect', async () => {
    const address = await frontend();
    expect(await clientLine(mtlsEnv(address))).toBe('connected');
    expect(await nativeLine(mtlsEnv(address))).toBe('connected');
  });

  test('a wrong CA', async () => {
    const env = mtlsEnv(await frontend(), { TEMPORAL_TLS_SERVER_CA_CERT_PATH: file('other-ca.pem') });
    for (const line of [await clientLine(env), await nativeLine(env)]) {
      expect(line).toMatch(
        /^the certificate of Temporal at 127\.0\.0\.1:\d+ is not signed by the CA of TEMPORAL_TLS_SERVER_CA_CERT_PATH/,
      );
      expect(line).toContain("point it at the CA that signed the server's certificate");
      expectOneLine(line);
    }
  });

  test('no client certificate for a server that requires one', async () => {
    const env = mtlsEnv(await frontend(), { TEMPORAL_TLS_CLIENT_CERT_PATH: '', TEMPORAL_TLS_CLIENT_KEY_PATH: '' });
    for (const line of [await clientLine(env), await nativeLine(env)]) {
      expect(line).toMatch(/requires a client certificate \(mTLS\) and none is set; set TEMPORAL_TLS_CLIENT_CERT_PATH/);
      expectOneLine(line);
    }
  });

  test('an invalid or expired API key', async () => {
    const env = mtlsEnv(await frontend({ requestCert: false, auth: 'the-right-key' }), {
      TEMPORAL_TLS_CLIENT_CERT_PATH: '',
      TEMPORAL_TLS_CLIENT_KEY_PATH: '',
      TEMPORAL_API_KEY: 'an-expired-key',
    });
    for (const line of [await clientLine(env), await nativeLine(env)]) {
      expect(line).toMatch(/rejected the API key of TEMPORAL_API_KEY \(Request unauthorized\.\)/);
      expect(line).toContain('create a new key and set TEMPORAL_API_KEY');
      expect(line).not.toContain('an-expired-key');
      expectOneLine(line);
    }
    expect(await clientLine({ ...env, TEMPORAL_API_KEY: 'the-right-key' })).toBe('connected');
  });

  test('a namespace the server does not have', async () => {
    const line = await clientLine(mtlsEnv(await frontend(), { TEMPORAL_NAMESPACE: 'nope' }));
    expect(line).toMatch(/^namespace "nope" \(TEMPORAL_NAMESPACE\) does not exist on 127\.0\.0\.1:\d+; create it with/);
    expect(line).toContain('`temporal operator namespace create --namespace nope --address 127.0.0.1:');
    expectOneLine(line);
  });

  test('a server that speaks TLS, dialled without it', async () => {
    const line = await clientLine({ TEMPORAL_ADDRESS: await frontend({ requestCert: false }) });
    expect(line).toMatch(/speaks TLS; set TEMPORAL_TLS=true/);
    expectOneLine(line);
  });

  test('nothing listening', async () => {
    const closed = await fakeFrontend();
    await closed.close();
    const env = { TEMPORAL_ADDRESS: closed.address };
    for (const line of [await clientLine(env), await nativeLine(env)]) {
      expect(line).toMatch(/^cannot reach Temporal at 127\.0\.0\.1:\d+ \(TEMPORAL_ADDRESS; ECONNREFUSED\)/);
      expectOneLine(line);
    }
  });
});
