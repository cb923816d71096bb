/**
 * The cluster's PostgreSQL: Debian's `postgresql` package run by hand (initdb + postgres in a
 * data folder of ours, a port of ours, no system service). PostgreSQL refuses to run as root, so
 * as root it runs as the system user `poc-postgres` (created once), otherwise as the current user.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';

export const PG_SYSTEM_USER = 'poc-postgres';
/** The database role Temporal connects as (the superuser initdb creates). */
export const PG_ROLE = 'temporal';
export const DATABASES = { temporal: 'temporal', visibility: 'temporal_visibility' } as const;

export interface PgUser {
  name: string;
  uid: number;
  gid: number;
  /** True when commands must drop privileges to run as this user. */
  switchUser: boolean;
}

function executableIn(dir: string, names: string[]): boolean {
  return names.every((name) => {
    try {
      fs.accessSync(path.join(dir, name), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const PG_PROGRAMS = ['initdb', 'pg_ctl', 'postgres', 'pg_isready', 'psql'];

/**
 * The folder holding initdb, pg_ctl and postgres: POC_POSTGRES_BIN_DIR, else the newest
 * /usr/lib/postgresql/<major>/bin (Debian keeps them off PATH, and `pg_config --bindir` names the
 * client-only /usr/bin), else PATH.
 */
export function findPostgresBinDir({
  postgresBinDir: explicit,
  searchPath,
}: {
  postgresBinDir: string | undefined;
  searchPath: string;
}): string {
  if (explicit) {
    if (!executableIn(explicit, PG_PROGRAMS))
      throw new Error(
        `POC_POSTGRES_BIN_DIR=${explicit} lacks one of ${PG_PROGRAMS.join(', ')}; ` +
          "point it at PostgreSQL's bin folder or unset it",
      );
    return explicit;
  }
  const debianRoot = '/usr/lib/postgresql';
  const majors = fs.existsSync(debianRoot)
    ? fs
        .readdirSync(debianRoot)
        .filter((name) => /^\d+(\.\d+)?$/.test(name))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  for (const major of majors) {
    const dir = path.join(debianRoot, major, 'bin');
    if (executableIn(dir, PG_PROGRAMS)) return dir;
  }
  for (const dir of searchPath.split(path.delimiter)) {
    if (dir && executableIn(dir, PG_PROGRAMS)) return dir;
  }
  throw new Error(
    'PostgreSQL server programs (initdb, pg_ctl, postgres) not found; ' +
      'install them (Debian: apt-get install postgresql) or set POC_POSTGRES_BIN_DIR',
  );
}

async function idOf(name: string): Promise<{ uid: number; gid: number } | undefined> {
  const uid = await execa('id', ['-u', name], { reject: false });
  const gid = await execa('id', ['-g', name], { reject: false });
  if (uid.exitCode !== 0 || gid.exitCode !== 0) return undefined;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** Who runs PostgreSQL: ourselves when not root; as root, `poc-postgres` (made a system user once). */
export async function ensurePgUser(log: (line: string) => void): Promise<PgUser> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return {
      name: os.userInfo().username,
      uid: process.getuid?.() ?? -1,
      gid: process.getgid?.() ?? -1,
      switchUser: false,
    };
  }
  let ids = await idOf(PG_SYSTEM_USER);
  if (!ids) {
    log(`creating the system user ${PG_SYSTEM_USER} to run PostgreSQL (it refuses to run as root)`);
    await execa('useradd', [
      '--system',
      '--user-group',
      '--no-create-home',
      '--home-dir',
      '/nonexistent',
      '--shell',
      '/usr/sbin/nologin',
      PG_SYSTEM_USER,
    ]);
    ids = await idOf(PG_SYSTEM_USER);
    if (!ids) throw new Error(`useradd ${PG_SYSTEM_USER} succeeded but the user cannot be found`);
  }
  return { name: PG_SYSTEM_USER, ...ids, switchUser: true };
}

/**
 * Command and arguments that run `program` as `user`. setpriv execs in place (no extra process,
 * unlike runuser), so the pid we supervise is PostgreSQL's own.
 */
export function asUser(user: PgUser, program: string, args: string[]): { file: string; args: string[] } {
  if (!user.switchUser) return { file: program, args };
  return {
    file: 'setpriv',
    args: [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--', program, ...args],
  };
}

export interface PgLayout {
  /** Owned by the PostgreSQL user: the data folder lives in it. */
  home: string;
  dataDir: string;
}

export function pgLayout(clusterDir: string): PgLayout {
  const home = path.join(clusterDir, 'postgres');
  return { home, dataDir: path.join(home, 'data') };
}

/** A new random password for the `temporal` role (kept in the cluster's private plan file). */
export function newPassword(): string {
  return crypto.randomBytes(18).toString('base64url');
}

/**
 * initdb once: a superuser role `temporal` with a password, scram auth, no Unix socket users. The
 * PostgreSQL user must be able to reach the folder: we open the cluster folder for traversal
 * (o+x, not read), and fail with the fix when a parent folder is closed.
 */
export async function initDataDir({
  binDir,
  user,
  layout,
  password,
  log,
}: {
  binDir: string;
  user: PgUser;
  layout: PgLayout;
  password: string;
  log: (line: string) => void;
}): Promise<'created' | 'existing'> {
  if (fs.existsSync(path.join(layout.dataDir, 'PG_VERSION'))) return 'existing';
  const clusterDir = path.dirname(layout.home);
  fs.chmodSync(clusterDir, fs.statSync(clusterDir).mode | 0o001);
  fs.mkdirSync(layout.home, { recursive: true, mode: 0o700 });
  if (user.switchUser) fs.chownSync(layout.home, user.uid, user.gid);
  const reach = asUser(user, 'test', ['-w', layout.home]);
  if ((await execa(reach.file, reach.args, { reject: false })).exitCode !== 0) {
    throw new Error(
      `${user.name} cannot reach ${layout.home}: a parent folder is closed to other users; ` +
        'choose a cluster folder under an open path (e.g. /var/tmp) or run chmod o+x on its parents',
    );
  }
  const pwfile = path.join(layout.home, 'initdb.pw');
  fs.writeFileSync(pwfile, password + '\n', { mode: 0o600 });
  if (user.switchUser) fs.chownSync(pwfile, user.uid, user.gid);
  log(`initdb ${layout.dataDir} (PostgreSQL from ${binDir}, running as ${user.name})`);
  try {
    const cmd = asUser(user, path.join(binDir, 'initdb'), [
      '-D',
      layout.dataDir,
      '-U',
      PG_ROLE,
      `--pwfile=${pwfile}`,
      '--auth=scram-sha-256',
      '-E',
      'UTF8',
      '--no-locale',
      '--no-instructions',
    ]);
    const result = await execa(cmd.file, cmd.args, { cwd: layout.home, reject: false, all: true });
    if (result.exitCode !== 0)
      throw new Error(
        `initdb failed: ${String(result.all ?? '')
          .trim()
          .split('\n')
          .slice(-3)
          .join(' | ')}`,
      );
  } finally {
    fs.rmSync(pwfile, { force: true });
  }
  return 'created';
}

/** The postmaster's command line: TCP on 127.0.0.1 only, no Unix socket (its default is the system service's). */
export function postgresCommand({
  binDir,
  user,
  layout,
  port,
}: {
  binDir: string;
  user: PgUser;
  layout: PgLayout;
  port: number;
}): { file: string; args: string[] } {
  return asUser(user, path.join(binDir, 'postgres'), [
    '-D',
    layout.dataDir,
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    `port=${port}`,
    '-c',
    'unix_socket_directories=',
    // Four services × (persistence + visibility) pools, plus the schema tool and psql.
    '-c',
    'max_connections=300',
    '-c',
    'logging_collector=off',
  ]);
}

/** `pg_ctl stop -m fast`: disconnects clients, checkpoints, exits; waits up to `timeoutS`. */
export async function pgCtlStop({
  binDir,
  user,
  layout,
  timeoutS = 60,
}: {
  binDir: string;
  user: PgUser;
  layout: PgLayout;
  timeoutS?: number;
}): Promise<void> {
  const cmd = asUser(user, path.join(binDir, 'pg_ctl'), [
    'stop',
    '-D',
    layout.dataDir,
    '-m',
    'fast',
    '-w',
    '-t',
    String(timeoutS),
  ]);
  await execa(cmd.file, cmd.args, { cwd: layout.home, reject: false });
}

/** True once the server accepts connections (pg_isready over TCP). */
export async function pgReady(binDir: string, port: number): Promise<boolean> {
  const result = await execa(path.join(binDir, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-t', '2'], {
    reject: false,
  });
  return result.exitCode === 0;
}

async function existingDatabases(binDir: string, port: number, password: string): Promise<string[]> {
  const result = await execa(
    path.join(binDir, 'psql'),
    ['-h', '127.0.0.1', '-p', String(port), '-U', PG_ROLE, '-d', 'postgres', '-Atc', 'SELECT datname FROM pg_database'],
    { env: { PGPASSWORD: password, PGCONNECT_TIMEOUT: '10' }, reject: false, all: true },
  );
  if (result.exitCode !== 0) throw new Error(`psql could not list databases: ${String(result.all ?? '').trim()}`);
  return result.stdout
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
}

export interface SchemaSource {
  sqlToolPath: string;
  /** Versioned folders from the server module; undefined = the SQL tool's embedded schemas. */
  schemaDirs: { temporal: string; visibility: string } | undefined;
}

/**
 * Both databases with their schemas, the way Temporal's own auto-setup does it: create-database
 * and setup-schema (versioning tables only) for a new database, then update-schema, which applies
 * only the versions the database lacks, on every start (a newer server brings new versions).
 */
export async function ensureSchemas({
  binDir,
  port,
  password,
  source,
  log,
}: {
  binDir: string;
  port: number;
  password: string;
  source: SchemaSource;
  log: (line: string) => void;
}): Promise<void> {
  const existing = await existingDatabases(binDir, port, password);
  for (const [kind, database] of Object.entries(DATABASES) as Array<[keyof typeof DATABASES, string]>) {
    const tool = async (args: string[]) => {
      const result = await execa(
        source.sqlToolPath,
        ['--plugin', 'postgres12', '--ep', '127.0.0.1', '-p', String(port), '-u', PG_ROLE, '--db', database, ...args],
        { env: { SQL_PASSWORD: password }, reject: false, all: true },
      );
      if (result.exitCode !== 0)
        throw new Error(
          `temporal-sql-tool ${args[0]} on ${database} failed: ${String(result.all ?? '')
            .trim()
            .split('\n')
            .slice(-3)
            .join(' | ')}`,
        );
    };
    if (!existing.includes(database)) {
      log(`creating database ${database} and its schema`);
      await tool(['create-database', '--defaultdb', 'postgres']);
      await tool(['setup-schema', '-v', '0.0']);
    }
    const dir = source.schemaDirs?.[kind];
    await tool(dir ? ['update-schema', '-d', dir] : ['update-schema', '--schema-name', `postgresql/v12/${kind}`]);
  }
}
