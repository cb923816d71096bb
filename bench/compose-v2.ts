/**
 * Docker Compose v2+ for the benches that want it: Debian packages only the Python v1
 * (`docker-compose` 1.29), whose client costs about 0.45 s of CPU per `run` (v5: about 0.07 s).
 * Built once from its Go module with this machine's Go, cached beside the Temporal CLI, and
 * handed to a worker as a Docker CLI plugin through a DOCKER_CONFIG folder of its own — nothing
 * outside the bench's folders sees it.
 *
 * `go install module/cmd@version` refuses this module (its go.mod has exclude directives), so the
 * module is downloaded, copied and built as the main module, as its own Makefile does.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { loadConfig } from '../core/config.js';

export const COMPOSE_MODULE = 'github.com/docker/compose/v5';
export const COMPOSE_VERSION = 'v5.6.0';

/** The built `docker-compose` (v5), building it the first time (a minute or two). */
export async function ensureComposeV2(log: (line: string) => void = () => undefined): Promise<string> {
  const binary = path.join(loadConfig().cacheDir, 'compose', COMPOSE_VERSION, 'docker-compose');
  if (fs.existsSync(binary)) return binary;
  log(`building Docker Compose ${COMPOSE_VERSION} from ${COMPOSE_MODULE} (once)…`);
  const { stdout } = await execa('go', ['mod', 'download', '-json', `${COMPOSE_MODULE}@${COMPOSE_VERSION}`]);
  const moduleDir = (JSON.parse(stdout) as { Dir: string }).Dir;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'poc-compose-build-'));
  try {
    const source = path.join(work, 'src');
    fs.cpSync(moduleDir, source, { recursive: true });
    for (const file of fs.readdirSync(source, { recursive: true }) as string[])
      fs.chmodSync(path.join(source, file), fs.statSync(path.join(source, file)).isDirectory() ? 0o755 : 0o644);
    fs.mkdirSync(path.dirname(binary), { recursive: true });
    const partial = `${binary}.${process.pid}.partial`;
    await execa('go', ['build', '-o', partial, './cmd'], { cwd: source, timeout: 30 * 60_000 });
    fs.renameSync(partial, binary);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return binary;
}

/** A DOCKER_CONFIG folder under `dir` whose only plugin is that Compose: `docker compose` finds it. */
export function dockerConfigWithCompose(dir: string, binary: string): string {
  const plugins = path.join(dir, 'docker-config', 'cli-plugins');
  fs.mkdirSync(plugins, { recursive: true });
  fs.symlinkSync(binary, path.join(plugins, 'docker-compose'));
  return path.dirname(plugins);
}
