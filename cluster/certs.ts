/**
 * Certificates for the cluster's mTLS, made with the `openssl` CLI (no npm dependency): a CA, a
 * server certificate for the frontend (SAN localhost and 127.0.0.1) and one client certificate
 * that both our clients and the server's own system worker present. EC P-256 keys in PKCS#8:
 * Node's TLS (the client) and rustls (the worker's native connection) both read them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';

/** The name clients check the frontend's certificate against (it is in the certificate's SAN). */
export const SERVER_NAME = 'localhost';

export interface ClusterCerts {
  dir: string;
  caCertPath: string;
  caKeyPath: string;
  serverCertPath: string;
  serverKeyPath: string;
  clientCertPath: string;
  clientKeyPath: string;
  serverName: string;
}

export function certPaths(dir: string): ClusterCerts {
  return {
    dir,
    caCertPath: path.join(dir, 'ca.pem'),
    caKeyPath: path.join(dir, 'ca.key'),
    serverCertPath: path.join(dir, 'frontend.pem'),
    serverKeyPath: path.join(dir, 'frontend.key'),
    clientCertPath: path.join(dir, 'client.pem'),
    clientKeyPath: path.join(dir, 'client.key'),
    serverName: SERVER_NAME,
  };
}

const LEAF_DAYS = 825;
const CA_DAYS = 3650;
/** Certificates closer than this to their end are made again at `up`. */
const RENEW_BEFORE_SECONDS = 30 * 24 * 3600;

async function openssl(args: string[], cwd: string): Promise<void> {
  const result = await execa('openssl', args, { cwd, reject: false, all: true });
  if (result.exitCode !== 0)
    throw new Error(
      `openssl ${args[0]} failed: ${String(result.all ?? '')
        .trim()
        .split('\n')
        .slice(-2)
        .join(' | ')}`,
    );
}

async function newKey(file: string, cwd: string): Promise<void> {
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file], cwd);
  fs.chmodSync(file, 0o600);
}

async function validFor(cert: string, seconds: number, cwd: string): Promise<boolean> {
  const result = await execa('openssl', ['x509', '-in', cert, '-noout', '-checkend', String(seconds)], {
    cwd,
    reject: false,
  });
  return result.exitCode === 0;
}

async function coversHost(cert: string, host: string, cwd: string): Promise<boolean> {
  const result = await execa('openssl', ['x509', '-in', cert, '-noout', '-checkhost', host], { cwd, reject: false });
  return result.exitCode === 0 && !/does NOT match/.test(result.stdout);
}

/** A leaf certificate signed by the CA, with the extensions written to a file openssl reads. */
async function signLeaf(
  certs: ClusterCerts,
  name: 'frontend' | 'client',
  subject: string,
  extensions: string[],
): Promise<void> {
  const key = name === 'frontend' ? certs.serverKeyPath : certs.clientKeyPath;
  const cert = name === 'frontend' ? certs.serverCertPath : certs.clientCertPath;
  const csr = path.join(certs.dir, `${name}.csr`);
  const ext = path.join(certs.dir, `${name}.ext`);
  await newKey(key, certs.dir);
  await openssl(['req', '-new', '-key', key, '-out', csr, '-subj', subject], certs.dir);
  fs.writeFileSync(ext, extensions.join('\n') + '\n');
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      certs.caCertPath,
      '-CAkey',
      certs.caKeyPath,
      '-CAcreateserial',
      '-out',
      cert,
      '-days',
      String(LEAF_DAYS),
      '-sha256',
      '-extfile',
      ext,
    ],
    certs.dir,
  );
  fs.rmSync(csr, { force: true });
  fs.rmSync(ext, { force: true });
}

/**
 * The cluster's certificates in `dir`, made when missing, about to expire or lacking one of
 * `hostNames` (kept otherwise, so a client configured with them keeps working across
 * `down`/`up`). `hostNames` are extra DNS names of the frontend, e.g. a Compose service name.
 */
export async function ensureCerts(
  dir: string,
  { hostNames = [] }: { hostNames?: string[] } = {},
): Promise<ClusterCerts> {
  const certs = certPaths(dir);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const all = [
    certs.caCertPath,
    certs.caKeyPath,
    certs.serverCertPath,
    certs.serverKeyPath,
    certs.clientCertPath,
    certs.clientKeyPath,
  ];
  if (all.every((file) => fs.existsSync(file))) {
    const fresh = await Promise.all(
      [certs.caCertPath, certs.serverCertPath, certs.clientCertPath].map((c) => validFor(c, RENEW_BEFORE_SECONDS, dir)),
    );
    const covered = await Promise.all(hostNames.map((host) => coversHost(certs.serverCertPath, host, dir)));
    if (fresh.every(Boolean) && covered.every(Boolean)) return certs;
  }
  await newKey(certs.caKeyPath, dir);
  await openssl(
    [
      'req',
      '-x509',
      '-new',
      '-key',
      certs.caKeyPath,
      '-out',
      certs.caCertPath,
      '-days',
      String(CA_DAYS),
      '-sha256',
      '-subj',
      '/O=poc-orchestrator/CN=poc-orchestrator cluster CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  await signLeaf(certs, 'frontend', `/O=poc-orchestrator/CN=${SERVER_NAME}`, [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth',
    `subjectAltName=${[`DNS:${SERVER_NAME}`, 'IP:127.0.0.1', ...hostNames.map((host) => `DNS:${host}`)].join(',')}`,
    'subjectKeyIdentifier=hash',
    'authorityKeyIdentifier=keyid',
  ]);
  await signLeaf(certs, 'client', '/O=poc-orchestrator/CN=poc-orchestrator client', [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=clientAuth',
    'subjectKeyIdentifier=hash',
    'authorityKeyIdentifier=keyid',
  ]);
  return certs;
}

/**
 * `node --import tsx cluster/certs.ts DIR [--host NAME]… [--shared]`: the same certificates for a
 * deployment (deploy/compose.yaml runs it). `--shared` makes the keys readable by other users,
 * for containers that run as their own user and read them from a volume only the stack mounts.
 */
async function main(argv: string[]): Promise<void> {
  const dir = argv.find((arg, i) => !arg.startsWith('--') && argv[i - 1] !== '--host');
  if (!dir) throw new Error('usage: cluster/certs.ts DIR [--host NAME]... [--shared]');
  const hostNames = argv.flatMap((arg, i) => (argv[i - 1] === '--host' ? [arg] : []));
  const certs = await ensureCerts(path.resolve(dir), { hostNames });
  if (argv.includes('--shared')) {
    fs.chmodSync(certs.dir, 0o755);
    for (const key of [certs.serverKeyPath, certs.clientKeyPath]) fs.chmodSync(key, 0o644);
  }
  process.stdout.write(JSON.stringify(certs, null, 2) + '\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  });
}
