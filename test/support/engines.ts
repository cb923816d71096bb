/**
 * Docker engines of their own for simulated build hosts on one machine: each `dockerd` has its
 * own socket, data root, exec root and pid file, no bridge and no iptables (PITFALLS, "Several
 * Docker engines on one machine"). Started and stopped by pid; images come from the engine the
 * tests already use (`docker save | docker load`), so nothing is pulled.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';

export interface Engine {
  name: string;
  /** `unix:///…/docker.sock`, for DOCKER_HOST. */
  dockerHost: string;
  pid(): number | undefined;
  /** Starts it again on the same folders (containers of before are still there). */
  start(): Promise<void>;
  /** SIGTERM by pid, as `systemctl stop docker` would: running containers are stopped. */
  stop(): Promise<void>;
  /** Stops it and removes its folders. */
  remove(): Promise<void>;
  /** `docker` against this engine. */
  docker(args: string[]): Promise<string>;
  /** Names of our step containers on this engine (label `poc.workflow-id`), running or not. */
  stepContainers(): Promise<string[]>;
}

/** Whether this machine can run engines of its own (dockerd installed, and we are root). */
export function canRunEngines(): boolean {
  if (process.getuid?.() !== 0) return false;
  return (process.env.PATH ?? '').split(':').some((dir) => dir && fs.existsSync(path.join(dir, 'dockerd')));
}

const engines = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of engines) child.kill('SIGKILL');
});

/** An engine named `name` with its folders under `dir` (keep `dir` short: the socket path has a limit). */
export async function startEngine(dir: string, name: string): Promise<Engine> {
  const home = path.join(dir, name);
  const socket = path.join(home, 'docker.sock');
  // The exec root holds containerd's sockets too: a short path under /run, as dockerd's own default.
  const execRoot = path.join('/run', `poc-${name}-${crypto.randomBytes(3).toString('hex')}`);
  fs.mkdirSync(path.join(home, 'data'), { recursive: true });
  const dockerHost = `unix://${socket}`;
  let child: ChildProcess | undefined;
  const docker = async (args: string[]) =>
    String((await execa('docker', args, { env: { DOCKER_HOST: dockerHost }, timeout: 120_000 })).stdout);

  const engine: Engine = {
    name,
    dockerHost,
    pid: () => child?.pid,
    async start() {
      const log = fs.openSync(path.join(home, 'dockerd.log'), 'a');
      child = spawn(
        'dockerd',
        [
          '-H',
          dockerHost,
          '--data-root',
          path.join(home, 'data'),
          '--exec-root',
          execRoot,
          '--pidfile',
          path.join(home, 'dockerd.pid'),
          '--bridge=none',
          '--iptables=false',
          '--ip6tables=false',
        ],
        { stdio: ['ignore', log, log] },
      );
      fs.closeSync(log);
      engines.add(child);
      const started = child;
      started.once('exit', () => engines.delete(started));
      const deadline = Date.now() + 60_000;
      for (;;) {
        const info = await execa('docker', ['info', '--format', '{{.ServerVersion}}'], {
          env: { DOCKER_HOST: dockerHost },
          reject: false,
          timeout: 10_000,
        });
        if (info.exitCode === 0) return;
        if (started.exitCode !== null || Date.now() > deadline) {
          started.kill('SIGKILL');
          throw new Error(`dockerd ${name} did not come up; see ${path.join(home, 'dockerd.log')}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    },
    async stop() {
      const running = child;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGTERM');
      const force = setTimeout(() => running.kill('SIGKILL'), 45_000);
      await exited;
      clearTimeout(force);
    },
    async remove() {
      await engine.stop();
      for (const folder of [home, execRoot]) {
        try {
          fs.rmSync(folder, { recursive: true, force: true });
        } catch {
          // A mount the engine left behind; the machine's own cleanup takes it.
        }
      }
    },
    docker,
    async stepContainers() {
      const out = await docker(['ps', '-a', '--filter', 'label=poc.workflow-id', '--format', '{{.Names}}']);
      return out.split('\n').filter(Boolean);
    },
  };
  await engine.start();
  return engine;
}

/** Copies `image` from the engine of this process (DOCKER_HOST as set) into `engine`. */
export async function copyImage(image: string, engine: Engine): Promise<void> {
  const present = await execa('docker', ['image', 'inspect', image], {
    env: { DOCKER_HOST: engine.dockerHost },
    reject: false,
  });
  if (present.exitCode === 0) return;
  await execa('docker', ['save', image], { buffer: { stdout: false } }).pipe('docker', ['load', '--quiet'], {
    env: { DOCKER_HOST: engine.dockerHost },
  });
}
