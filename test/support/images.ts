/**
 * Local base images for tests on a machine with no registry: each is a `docker import` of a root
 * filesystem assembled from THIS host's own binaries and the shared libraries `ldd` says they
 * need. Built once and reused (skipped when the tag exists; POC_TEST_REBUILD_IMAGES=1 forces).
 *
 *   ensureBashImage()      `poc-test-bash:latest`: bash, sh and coreutils, for fixture workspaces.
 *   ensureNodeBaseImage()  tagged as Dockerfile.poc's default NODE_IMAGE: node, npm/npx, git, curl,
 *                          CA certificates, setpriv and the tools the runner scripts use — so
 *                          `docker compose build runner` works with no network.
 *
 * Nothing is downloaded: the archive is streamed from `tar` on the host straight into the engine.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { repoRoot } from '../../core/config.js';

export const BASH_IMAGE = 'poc-test-bash:latest';
/** Label on every image built here, so a real image with the same tag is told apart. */
export const LOCAL_IMAGE_LABEL = 'poc.local-import';

const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Dockerfile.poc's default base (`ARG NODE_IMAGE=…`): read from the file so the two never drift. */
export function defaultNodeBaseImage(dockerfile = path.join(repoRoot, 'Dockerfile.poc')): string {
  const match = /^ARG\s+NODE_IMAGE=(\S+)/m.exec(fs.readFileSync(dockerfile, 'utf8'));
  if (!match) throw new Error(`${dockerfile} has no "ARG NODE_IMAGE=<image>" line`);
  return match[1];
}

const BASH_TOOLS = {
  required: ['bash', 'sh', 'cat', 'tee', 'sleep', 'env', 'ls', 'mkdir', 'rm', 'echo', 'printf', 'true', 'false'],
  optional: [
    'dash',
    'cp',
    'mv',
    'ln',
    'id',
    'head',
    'tail',
    'wc',
    'date',
    'touch',
    'chmod',
    'chown',
    'dirname',
    'basename',
    'sort',
    'uniq',
    'uname',
    'pwd',
    'test',
    'seq',
    'yes',
    'grep',
    'sed',
    'tr',
    'cut',
    'stat',
    'readlink',
    'realpath',
    'mktemp',
    'timeout',
    'kill',
    'sha256sum',
    'find',
    'xargs',
    'awk',
    'tar',
    'gzip',
  ],
};
const NODE_TOOLS = {
  required: [
    ...BASH_TOOLS.required,
    'node',
    'npm',
    'npx',
    'git',
    'curl',
    'setpriv',
    'stat',
    'grep',
    'sed',
    'cut',
    'awk',
    'chown',
    'id',
  ],
  optional: [...BASH_TOOLS.optional, 'diff', 'which', 'hostname', 'nproc', 'du', 'df', 'less'],
};

function which(tool: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, tool);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // Not in this PATH entry.
    }
  }
  return undefined;
}

function isElf(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(4);
    return fs.readSync(fd, head, 0, 4, 0) === 4 && head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The host paths that make up an image. Paths are kept canonical in their folder part (the
 * host's /bin → usr/bin style links are recreated once at the top) and every symlink brings its
 * target, every ELF file the libraries it loads.
 */
class RootfsPlan {
  readonly paths = new Set<string>();
  private readonly lddDone = new Set<string>();

  constructor() {
    // Merged-/usr hosts: /bin, /lib, /lib64, /sbin are links; ELF interpreters are named through them.
    for (const top of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
      try {
        if (fs.lstatSync(top).isSymbolicLink()) this.paths.add(top);
      } catch {
        // Absent on this host.
      }
    }
  }

  async add(file: string): Promise<void> {
    let canonical: string;
    let stat: fs.Stats;
    try {
      canonical = path.join(fs.realpathSync(path.dirname(file)), path.basename(file));
      if (this.paths.has(canonical)) return;
      stat = fs.lstatSync(canonical);
    } catch {
      return; // A dangling link's target: nothing to copy, and the link alone does no harm.
    }
    this.addParents(canonical);
    this.paths.add(canonical);
    if (stat.isSymbolicLink()) {
      await this.add(path.resolve(path.dirname(canonical), fs.readlinkSync(canonical)));
    } else if (stat.isFile() && isElf(canonical)) {
      await this.addLibraries(canonical, stat);
    }
  }

  /** A whole folder (npm, git-core): every entry, and the libraries of its executables. */
  async addTree(dir: string): Promise<void> {
    const root = fs.realpathSync(dir);
    this.addParents(root);
    this.paths.add(root);
    for (const entry of fs.readdirSync(root, { recursive: true, withFileTypes: false }) as string[]) {
      const file = path.join(root, entry);
      this.paths.add(file);
      const stat = fs.lstatSync(file);
      if (stat.isFile() && stat.mode & 0o111 && isElf(file)) await this.addLibraries(file, stat);
    }
  }

  private addParents(file: string): void {
    for (let dir = path.dirname(file); dir !== '/'; dir = path.dirname(dir)) this.paths.add(dir);
  }

  private async addLibraries(file: string, stat: fs.Stats): Promise<void> {
    // Hard links (git's builtins) share an inode: one ldd per inode is enough.
    const key = `${stat.dev}:${stat.ino}`;
    if (this.lddDone.has(key)) return;
    this.lddDone.add(key);
    const result = await execa('ldd', [file], { reject: false, env: { LC_ALL: 'C' } });
    if (result.exitCode !== 0) return; // Static binaries: nothing to bring.
    for (const line of String(result.stdout).split('\n')) {
      const lib = /=>\s*(\/\S+)/.exec(line)?.[1] ?? /^\s*(\/\S+)\s+\(0x/.exec(line)?.[1];
      if (lib) await this.add(lib);
    }
  }
}

export interface ImageSpec {
  tag: string;
  tools: { required: string[]; optional: string[] };
  /** Extra host paths, whole folders included. */
  trees?: string[];
  files?: string[];
  /** Generated files, relative to the image root. */
  generated: Record<string, string>;
  changes: string[];
  users: { name: string; uid: number; gid: number; home: string }[];
}

async function imageId(tag: string): Promise<string | undefined> {
  const result = await execa('docker', ['image', 'inspect', '--format', '{{.Id}}', tag], { reject: false });
  return result.exitCode === 0 ? String(result.stdout).trim() : undefined;
}

export async function imageExists(tag: string): Promise<boolean> {
  return (await imageId(tag)) !== undefined;
}

/** Builds the image unless its tag exists already; returns whether it built. */
export async function ensureImage(spec: ImageSpec): Promise<boolean> {
  const previous = await imageId(spec.tag);
  if (previous && process.env.POC_TEST_REBUILD_IMAGES !== '1') return false;
  const plan = new RootfsPlan();
  const missing: string[] = [];
  for (const tool of [...new Set([...spec.tools.required, ...spec.tools.optional])]) {
    const found = which(tool);
    if (found) await plan.add(found);
    else if (spec.tools.required.includes(tool)) missing.push(tool);
  }
  if (missing.length > 0)
    throw new Error(`cannot build ${spec.tag}: this host has no ${missing.join(', ')} to copy into it`);
  for (const tree of spec.trees ?? []) if (fs.existsSync(tree)) await plan.addTree(tree);
  for (const file of spec.files ?? []) if (fs.existsSync(file)) await plan.add(file);

  const overlay = fs.mkdtempSync(path.join(os.tmpdir(), 'poc-rootfs-'));
  try {
    // mkdtemp makes 0700; this folder becomes the image's "/".
    fs.chmodSync(overlay, 0o755);
    const generated: Record<string, string> = {
      'etc/passwd': [
        'root:x:0:0:root:/root:/bin/bash',
        ...spec.users.map((u) => `${u.name}:x:${u.uid}:${u.gid}::${u.home}:/bin/bash`),
        'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
        '',
      ].join('\n'),
      'etc/group': ['root:x:0:', ...spec.users.map((u) => `${u.name}:x:${u.gid}:`), 'nogroup:x:65534:', ''].join('\n'),
      'etc/nsswitch.conf': 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n',
      // As Debian's: login shells (`bash -lc`, how steps run) reset PATH from here.
      'etc/profile': [
        'if [ "$(id -u)" -eq 0 ]; then PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"; ' +
          'else PATH="/usr/local/bin:/usr/bin:/bin"; fi',
        'export PATH',
        'if [ -d /etc/profile.d ]; then for i in /etc/profile.d/*.sh; do [ -r "$i" ] && . "$i"; done; unset i; fi',
        '',
      ].join('\n'),
      ...spec.generated,
    };
    for (const [rel, content] of Object.entries(generated)) {
      fs.mkdirSync(path.join(overlay, path.dirname(rel)), { recursive: true, mode: 0o755 });
      fs.writeFileSync(path.join(overlay, rel), content, { mode: 0o644 });
    }
    // Users' home folders are left to the image built on top (Dockerfile.poc creates and owns them).
    for (const dir of ['tmp', 'root', 'var/tmp', 'etc/profile.d', 'usr/local/bin']) {
      fs.mkdirSync(path.join(overlay, dir), { recursive: true, mode: 0o755 });
    }
    fs.chmodSync(path.join(overlay, 'tmp'), 0o1777);
    fs.chmodSync(path.join(overlay, 'var/tmp'), 0o1777);
    fs.chmodSync(path.join(overlay, 'root'), 0o700);

    const list = path.join(overlay, '..', `${path.basename(overlay)}.list`);
    // Docker refuses an archive naming a path twice: what the overlay holds comes from there.
    const generatedPaths = new Set(
      (fs.readdirSync(overlay, { recursive: true }) as string[]).map((rel) => rel.replace(/\/+$/, '')),
    );
    const hostPaths = [...plan.paths].map((p) => p.slice(1)).filter((rel) => !generatedPaths.has(rel));
    fs.writeFileSync(list, hostPaths.sort().join('\n') + '\n');
    try {
      const changes = [`ENV ${PATH_ENV}`, `LABEL ${LOCAL_IMAGE_LABEL}=1`, ...spec.changes].flatMap((c) => [
        '--change',
        c,
      ]);
      // The archive streams into the engine; buffering it would keep hundreds of MB in memory.
      await execa(
        'tar',
        [
          '--create',
          '--file=-',
          '--numeric-owner',
          '--owner=0',
          '--group=0',
          '--no-recursion',
          '-C',
          '/',
          '--files-from',
          list,
          '--recursion',
          '-C',
          overlay,
          '.',
        ],
        { buffer: { stdout: false } },
      ).pipe('docker', [
        'import',
        '--message',
        'poc-orchestrator test image from host binaries',
        ...changes,
        '-',
        spec.tag,
      ]);
    } finally {
      fs.rmSync(list, { force: true });
    }
  } finally {
    fs.rmSync(overlay, { recursive: true, force: true });
  }
  // A forced rebuild would otherwise leave the old image behind, untagged (kept while in use).
  if (previous && previous !== (await imageId(spec.tag)))
    await execa('docker', ['image', 'rm', previous], { reject: false });
  return true;
}

export async function ensureBashImage(tag = BASH_IMAGE): Promise<string> {
  await ensureImage({ tag, tools: BASH_TOOLS, generated: {}, changes: ['CMD ["bash"]'], users: [] });
  return tag;
}

/** npm's package folder on this host (npm is a link to its bin/npm-cli.js). */
function npmPackageDir(): string | undefined {
  const npm = which('npm');
  if (!npm) return undefined;
  let dir = path.dirname(fs.realpathSync(npm));
  while (dir !== '/' && !fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return dir === '/' ? undefined : dir;
}

export async function ensureNodeBaseImage(tag = defaultNodeBaseImage()): Promise<string> {
  const gitCore = (await execa('git', ['--exec-path'], { reject: false })).stdout.trim();
  const npmDir = npmPackageDir();
  if (!npmDir) throw new Error(`cannot build ${tag}: npm's package folder was not found on this host`);
  await ensureImage({
    tag,
    tools: NODE_TOOLS,
    trees: [npmDir, gitCore, '/usr/share/git-core/templates'].filter(Boolean),
    files: [
      '/etc/ssl/certs/ca-certificates.crt',
      '/etc/ssl/openssl.cnf',
      '/usr/lib/ssl/cert.pem',
      '/usr/lib/ssl/certs',
      '/usr/lib/ssl/openssl.cnf',
    ],
    generated: {},
    changes: [`ENV NODE_VERSION=${process.versions.node}`, 'CMD ["node"]'],
    // As in the official Node images, so Dockerfile.poc's "user exists already" path is the one taken.
    users: [{ name: 'node', uid: 1000, gid: 1000, home: '/home/node' }],
  });
  return tag;
}

export interface FixtureStep {
  run?: string;
  build?: boolean;
  timeoutSeconds?: number;
}

/**
 * The files of a compose project whose `runner` service is the bash image: no network, never
 * pulled, nothing to build (`build` steps pass as "uses an image, skipping"). `steps` go to
 * poc.config.json; `files` are added as they are (scripts, fixtures).
 */
export function fixtureFiles(
  steps: Record<string, string | FixtureStep>,
  {
    files = {},
    image = BASH_IMAGE,
    config = {},
  }: { files?: Record<string, string>; image?: string; config?: Record<string, unknown> } = {},
): Record<string, string> {
  return {
    'docker-compose.yml': [
      'services:',
      '  runner:',
      `    image: ${image}`,
      '    pull_policy: never',
      '    network_mode: none',
      '    init: true',
      '    working_dir: /workspace',
      '    volumes:',
      '      - .:/workspace',
      '',
    ].join('\n'),
    'poc.config.json': JSON.stringify({ steps, ...config }, null, 2) + '\n',
    'runner/artifacts/.keep': '',
    ...files,
  };
}

/** A compose project folder of fixtureFiles (scripts, `*.sh`, are made executable). */
export function fixtureWorkspace(
  dir: string,
  steps: Record<string, string | FixtureStep>,
  opts: { files?: Record<string, string>; image?: string; config?: Record<string, unknown> } = {},
): string {
  for (const [rel, content] of Object.entries(fixtureFiles(steps, opts))) {
    const file = path.join(dir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content, { mode: rel.endsWith('.sh') ? 0o755 : 0o644 });
  }
  return dir;
}
