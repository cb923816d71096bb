/**
 * How every piece reaches Temporal — the client, the worker's two connections, the bot, every
 * `poc` command, the doctor — from one place: `connectionOptions(config)` turns the config's
 * Temporal settings (Temporal's own TEMPORAL_* variables and the CLI's temporal.toml profiles,
 * read by `loadConfig`) into the options both `Connection.connect` and `NativeConnection.connect`
 * take, and `describeConnectionError(err, config)` turns whatever a failed connection throws into
 * one line naming the setting at fault and the fix.
 */
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { Connection, isGrpcServiceError, type TLSConfig } from '@temporalio/client';
import { clientAddress, type PocConfig, type TlsSource } from './config.js';

/** What `Connection.connect` and `NativeConnection.connect` both take. */
export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
  metadata?: Record<string, string>;
}

/** Temporal cannot be used with these settings; the message is one line naming the setting and the fix. */
export class TemporalConnectionError extends Error {
  constructor(
    /** The setting at fault (a variable or a temporal.toml key), or `TEMPORAL_ADDRESS` for reachability. */
    readonly setting: string,
    message: string,
  ) {
    super(message);
    this.name = 'TemporalConnectionError';
  }
}

/** Reads a PEM file or text of a TLS setting; a missing, unreadable or non-PEM file is one line naming it. */
function pem(source: TlsSource, what: string): Buffer {
  if ('data' in source) {
    if (!source.data.includes('-----BEGIN ')) {
      throw new TemporalConnectionError(source.setting, `${source.setting} does not hold PEM text (${what}); fix it`);
    }
    return Buffer.from(source.data);
  }
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(source.path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'a folder, not a file'
            : (code ?? 'unreadable');
    throw new TemporalConnectionError(
      source.setting,
      `${source.setting}=${source.path}: ${why}; point it at the ${what} (PEM) or unset it`,
    );
  }
  if (!bytes.includes('-----BEGIN ')) {
    throw new TemporalConnectionError(
      source.setting,
      `${source.setting}=${source.path} is not a PEM file; point it at the ${what} in PEM form`,
    );
  }
  return bytes;
}

/**
 * The connection options of `config`: the address (the embedded dev server when none is set),
 * TLS with the configured files read now, the API key and the profile's gRPC headers. Throws a
 * TemporalConnectionError for a file that is missing, unreadable or not PEM.
 */
export function connectionOptions(config: PocConfig): TemporalConnectionOptions {
  const { temporal } = config;
  const options: TemporalConnectionOptions = { address: clientAddress(config) };
  if (temporal.apiKey) options.apiKey = temporal.apiKey;
  if (temporal.metadata && Object.keys(temporal.metadata).length > 0) options.metadata = temporal.metadata;
  if (temporal.tls) {
    const { clientCert, clientKey, serverCaCert, serverName } = temporal.tls;
    const tlsConfig: TLSConfig = {};
    if (serverName) tlsConfig.serverNameOverride = serverName;
    if (serverCaCert) tlsConfig.serverRootCACertificate = pem(serverCaCert, 'CA certificate');
    if (clientCert && clientKey) {
      tlsConfig.clientCertPair = { crt: pem(clientCert, 'client certificate'), key: pem(clientKey, 'client key') };
    }
    options.tls = Object.keys(tlsConfig).length > 0 ? tlsConfig : true;
  }
  return options;
}

/** Human words for how this config connects: "TLS with a client certificate, API key". Never the key. */
export function describeSecurity(config: PocConfig): string {
  const { tls: tlsSettings, apiKey } = config.temporal;
  const parts: string[] = [];
  if (!tlsSettings) parts.push('plain gRPC (no TLS)');
  else {
    const extras = [
      tlsSettings.clientCert ? 'client certificate' : undefined,
      tlsSettings.serverCaCert
        ? `CA ${'path' in tlsSettings.serverCaCert ? tlsSettings.serverCaCert.path : 'from text'}`
        : undefined,
      tlsSettings.serverName ? `server name ${tlsSettings.serverName}` : undefined,
    ].filter(Boolean);
    parts.push(`TLS${extras.length ? ` (${extras.join(', ')})` : ''}`);
  }
  parts.push(apiKey ? `API key from ${config.temporal.apiKeySetting}` : 'no API key');
  if (config.temporal.profile) parts.push(`profile "${config.temporal.profile}" of ${config.temporal.configFile}`);
  return parts.join(', ');
}

const GRPC_UNAUTHENTICATED = 16;
const GRPC_PERMISSION_DENIED = 7;
const GRPC_NOT_FOUND = 5;

/** The gRPC status behind an error (the client wraps it in `cause`). */
function grpcStatusOf(err: unknown): { code: number; details: string } | undefined {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    if (isGrpcServiceError(e)) return { code: e.code, details: e.details || e.message };
    if (e === (e as { cause?: unknown }).cause) break;
  }
  return undefined;
}

function messagesOf(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    parts.push(String((e as Error).message ?? e));
  }
  return parts.join(' | ');
}

type Problem =
  | 'unauthenticated'
  | 'permissionDenied'
  | 'namespaceMissing'
  | 'wrongCa'
  | 'serverCertExpired'
  | 'serverName'
  | 'clientCertRequired'
  | 'clientCertRejected'
  | 'notTls'
  | 'expectsTls'
  | 'unreachable';

/** What the error says by itself (gRPC status, the native client's TLS messages), if it says enough. */
function classify(err: unknown): { problem: Problem; detail: string } | undefined {
  const status = grpcStatusOf(err);
  const text = messagesOf(err);
  if (status?.code === GRPC_UNAUTHENTICATED || /valid authentication credentials/.test(text))
    return { problem: 'unauthenticated', detail: status?.details ?? nativeDetail(text) };
  if (status?.code === GRPC_PERMISSION_DENIED || /does not have permission/.test(text))
    return { problem: 'permissionDenied', detail: status?.details ?? nativeDetail(text) };
  if ((err as Error)?.name === 'NamespaceNotFoundError' || (status?.code === GRPC_NOT_FOUND && /namespace/i.test(text)))
    return { problem: 'namespaceMissing', detail: status?.details ?? text };
  // The native (Rust) client names TLS failures in its message.
  if (/UnknownIssuer|BadSignature|UnknownCA\b(?!.*alert)/.test(text))
    return { problem: 'wrongCa', detail: 'unknown issuer' };
  if (/InvalidCertificate\((Expired|NotValidYet)/.test(text))
    return { problem: 'serverCertExpired', detail: 'expired' };
  if (/NotValidForName/.test(text)) return { problem: 'serverName', detail: 'name mismatch' };
  if (/alert: CertificateRequired|certificate required/i.test(text))
    return { problem: 'clientCertRequired', detail: 'certificate required' };
  if (/alert: (BadCertificate|UnknownCA|CertificateExpired|DecryptError|AccessDenied)/.test(text))
    return { problem: 'clientCertRejected', detail: /alert: (\w+)/.exec(text)?.[1] ?? 'rejected' };
  return undefined;
}

function nativeDetail(text: string): string {
  return /message: "([^"]*)"/.exec(text)?.[1] ?? text.split('\n')[0].slice(0, 200);
}

const WRONG_CA = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_SIGNATURE_FAILURE',
]);
const CLIENT_CERT_REJECTED = new Set([
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED',
  'ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR',
  'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED',
]);

/**
 * Asks the server directly, with Node's TLS, what goes wrong: Node's client (grpc-js) reports
 * every TLS failure as "Failed to connect before the deadline", so the reason is found here.
 */
async function probe(
  options: TemporalConnectionOptions,
  timeoutMs = 3_000,
): Promise<{ problem: Problem; detail: string } | undefined> {
  const [, host, portText] = /^\[?(.*?)\]?:(\d+)$/.exec(options.address) ?? [];
  if (!host) return undefined;
  const port = Number(portText);
  const tlsOn = Boolean(options.tls);
  const settings = typeof options.tls === 'object' ? options.tls : {};
  return new Promise((resolve) => {
    let settled = false;
    let socket: net.Socket | undefined;
    const timer = setTimeout(() => done(undefined), timeoutMs);
    const done = (value: { problem: Problem; detail: string } | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket?.destroy();
      resolve(value);
    };
    const onError = (err: NodeJS.ErrnoException) => {
      const code = err.code ?? '';
      if (['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT'].includes(code))
        return done({ problem: 'unreachable', detail: code });
      if (!tlsOn) return done(undefined);
      if (WRONG_CA.has(code)) return done({ problem: 'wrongCa', detail: code });
      if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID')
        return done({ problem: 'serverCertExpired', detail: code });
      if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return done({ problem: 'serverName', detail: err.message });
      if (
        code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' ||
        (code === 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE' && !settings.clientCertPair)
      )
        return done({ problem: 'clientCertRequired', detail: code });
      if (CLIENT_CERT_REJECTED.has(code)) return done({ problem: 'clientCertRejected', detail: code });
      if (/wrong version number|packet length too long|ERR_SSL_WRONG_VERSION_NUMBER/i.test(`${code} ${err.message}`))
        return done({ problem: 'notTls', detail: code || err.message });
      return done(undefined);
    };
    if (tlsOn) {
      const servername = settings.serverNameOverride ?? (net.isIP(host) ? undefined : host);
      const buffer = (bytes: Uint8Array | undefined) => (bytes ? Buffer.from(bytes) : undefined);
      // No servername for an IP address: Node then checks the certificate's IP entries.
      const tlsSocket = tls.connect({
        host,
        port,
        servername,
        ca: buffer(settings.serverRootCACertificate),
        cert: buffer(settings.clientCertPair?.crt),
        key: buffer(settings.clientCertPair?.key),
        ALPNProtocols: ['h2'],
        rejectUnauthorized: true,
      });
      // TLS 1.3 finishes the handshake before the server has checked our certificate: say
      // something (the HTTP/2 preface) and see whether an answer or an alert comes back.
      socket = tlsSocket;
      tlsSocket.once('secureConnect', () =>
        tlsSocket.write(
          Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]),
        ),
      );
      tlsSocket.once('data', () => done(undefined));
      tlsSocket.once('error', onError);
    } else {
      // Plain gRPC failed: does the server want TLS? A handshake that succeeds says so.
      const plain = net.connect({ host, port });
      socket = plain;
      plain.once('error', onError);
      plain.once('connect', () => {
        plain.removeAllListeners('error');
        plain.destroy();
        const tlsSocket = tls.connect({
          host,
          port,
          servername: net.isIP(host) ? undefined : host,
          rejectUnauthorized: false,
          ALPNProtocols: ['h2'],
        });
        socket = tlsSocket;
        tlsSocket.once('secureConnect', () => done({ problem: 'expectsTls', detail: 'TLS handshake accepted' }));
        tlsSocket.once('error', () => done(undefined));
      });
    }
  });
}

/**
 * One line for a failed connection or call: what is wrong, which setting, and the fix. Asks the
 * server again (a TLS handshake of our own) when the error alone does not say.
 */
export async function describeConnectionError(err: unknown, config: PocConfig): Promise<string> {
  if (err instanceof TemporalConnectionError) return err.message;
  let options: TemporalConnectionOptions;
  try {
    options = connectionOptions(config);
  } catch (settingsErr) {
    if (settingsErr instanceof TemporalConnectionError) return settingsErr.message;
    throw settingsErr;
  }
  const found = classify(err) ?? (await probe(options));
  return explain(found, err, config, options);
}

function explain(
  found: { problem: Problem; detail: string } | undefined,
  err: unknown,
  config: PocConfig,
  options: TemporalConnectionOptions,
): string {
  const { temporal } = config;
  const address = options.address;
  const at = `Temporal at ${address}`;
  const tlsSettings = temporal.tls || {};
  const embedded = config.temporalAddress === undefined;
  switch (found?.problem) {
    case 'unauthenticated':
    case 'permissionDenied': {
      const said = found.problem === 'unauthenticated' ? 'rejected' : 'refused';
      if (temporal.apiKey)
        return (
          `${at} ${said} the API key of ${temporal.apiKeySetting} (${found.detail}): ` +
          'it is invalid, expired or revoked, ' +
          `or has no access to namespace "${config.namespace}"; create a new key and set ${temporal.apiKeySetting}`
        );
      if (tlsSettings.clientCert)
        return (
          `${at} ${said} the client certificate of ${tlsSettings.clientCert.setting} (${found.detail}); ` +
          `use a certificate the server accepts for namespace "${config.namespace}", or set TEMPORAL_API_KEY`
        );
      return (
        `${at} requires credentials (${found.detail}); set TEMPORAL_API_KEY, or TEMPORAL_TLS_CLIENT_CERT_PATH ` +
        'and TEMPORAL_TLS_CLIENT_KEY_PATH'
      );
    }
    case 'namespaceMissing':
      return (
        `namespace "${config.namespace}" (${temporal.namespaceSetting}) does not exist on ${address}; create it with ` +
        `\`temporal operator namespace create --namespace ${config.namespace} --address ${address}\` ` +
        `or set ${temporal.namespaceSetting} to an existing one`
      );
    case 'wrongCa':
      return tlsSettings.serverCaCert
        ? `the certificate of ${at} is not signed by the CA of ${tlsSettings.serverCaCert.setting}` +
            `${'path' in tlsSettings.serverCaCert ? ` (${tlsSettings.serverCaCert.path})` : ''}; ` +
            "point it at the CA that signed the server's certificate"
        : `the certificate of ${at} is not signed by a CA Node trusts (${found.detail}); ` +
            "set TEMPORAL_TLS_SERVER_CA_CERT_PATH to the CA that signed the server's certificate";
    case 'serverCertExpired':
      return (
        `the certificate of ${at} has expired or is not valid yet (${found.detail}); ` +
        "renew the server's certificate, or check this machine's clock"
      );
    case 'serverName':
      return (
        `the certificate of ${at} is not valid for ` +
        `"${tlsSettings.serverName ?? address.replace(/:\d+$/, '')}"; ` +
        'set TEMPORAL_TLS_SERVER_NAME to a name the certificate carries'
      );
    case 'clientCertRequired':
      return (
        `${at} requires a client certificate (mTLS) and none is set; set TEMPORAL_TLS_CLIENT_CERT_PATH and ` +
        'TEMPORAL_TLS_CLIENT_KEY_PATH to a certificate signed by a CA the server trusts'
      );
    case 'clientCertRejected':
      return (
        `${at} rejected the client certificate of ` +
        `${tlsSettings.clientCert?.setting ?? 'TEMPORAL_TLS_CLIENT_CERT_PATH'} ` +
        `(${found.detail}); use a certificate signed by a CA the server trusts`
      );
    case 'notTls':
      return (
        `${at} does not speak TLS, but ${temporal.tlsSetting ?? 'TEMPORAL_TLS'} turns TLS on; ` +
        'unset it (and TEMPORAL_TLS_*, TEMPORAL_API_KEY) or set TEMPORAL_TLS=false'
      );
    case 'expectsTls':
      return (
        `${at} speaks TLS; set TEMPORAL_TLS=true (and TEMPORAL_TLS_SERVER_CA_CERT_PATH for a private CA, ` +
        'TEMPORAL_TLS_CLIENT_CERT_PATH / _KEY_PATH for mTLS)'
      );
    case 'unreachable':
    default: {
      const why = found?.problem === 'unreachable' ? found.detail : firstLine(err);
      return embedded
        ? `cannot reach Temporal at ${address} (${why}); start the stack with \`npm start\` (or \`poc up\`), ` +
            'or set TEMPORAL_ADDRESS to your server'
        : `cannot reach Temporal at ${address} (${temporal.addressSetting}; ${why}); check that the server is up, ` +
            'or set TEMPORAL_ADDRESS to one that is';
    }
  }
}

function firstLine(err: unknown): string {
  const status = grpcStatusOf(err);
  const text = status ? status.details : String((err as Error)?.message ?? err);
  return text.split('\n')[0].slice(0, 200);
}

/**
 * A client connection to the configured Temporal, checked: the server answers (with these TLS
 * settings and credentials) and the namespace exists. Every failure is a TemporalConnectionError
 * with one line.
 */
export async function connectTemporal(
  config: PocConfig,
  { connectTimeoutMs = 5_000, checkNamespace = true }: { connectTimeoutMs?: number; checkNamespace?: boolean } = {},
): Promise<Connection> {
  const options = connectionOptions(config);
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...options, connectTimeout: connectTimeoutMs });
  } catch (err) {
    throw new TemporalConnectionError(config.temporal.addressSetting, await describeConnectionError(err, config));
  }
  if (checkNamespace) {
    try {
      await connection.workflowService.describeNamespace({ namespace: config.namespace });
    } catch (err) {
      await connection.close().catch(() => undefined);
      throw new TemporalConnectionError(config.temporal.namespaceSetting, await describeConnectionError(err, config));
    }
  }
  return connection;
}
