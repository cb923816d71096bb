/**
 * `poc cluster up|status|down`: the production-shaped Temporal of cluster/ (PostgreSQL, frontend,
 * history, matching and worker as four processes, mTLS, the Web UI) from the command line, in the
 * folder POC_CLUSTER_DIR names. `up` and `status` print the status and the variables that point
 * everything else at the cluster; `--json` prints the status object exactly, `--env` only the
 * `export` lines (for `eval "$(npx poc cluster up --env)"`).
 */
import type { PocConfig } from '../core/config.js';
import type { Command } from '../client/grammar.js';
import type { ClusterStatus } from '../cluster/index.js';

type ClusterCommand = Extract<Command, { name: 'cluster' }>;

export interface ClusterIo {
  /** The result (status, JSON, exports). */
  out: (text: string) => void;
  /** Progress and messages. */
  err: (text: string) => void;
}

/** A value as a POSIX shell word: bare when it is safe, single-quoted otherwise. */
export function shellWord(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

export function exportLines(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([name, value]) => `export ${name}=${shellWord(value)}`)
    .join('\n');
}

/** The status for people: where it answers, what runs (restarts too), and how to point things at it. */
export function renderClusterStatus(status: ClusterStatus, dir: string, env: Record<string, string>): string {
  const processes = status.processes
    .map((p) => `${p.role} ${p.pid ?? '(restarting)'}${p.restarts ? ` (restarted ${p.restarts}×)` : ''}`)
    .join(', ');
  return [
    `Temporal cluster in ${dir}`,
    `  frontend    ${status.address} (mTLS, server name ${status.tls.serverName}), namespace "${status.namespace}"`,
    `  Web UI      ${status.uiUrl ?? 'none (the UI server could not be built here; see cluster/README.md)'}`,
    `  processes   ${processes}`,
    `  CA          ${status.tls.caCertPath}`,
    `  client      ${status.tls.clientCertPath} + ${status.tls.clientKeyPath}`,
    `  logs        ${dir}/logs/<role>.log, ${dir}/supervisor.log`,
    '',
    'Point poc (worker, bot, every command), the temporal CLI and your code at it:',
    exportLines(env)
      .split('\n')
      .map((line) => `  ${line}`)
      .join('\n'),
    '',
    'Stop it with `npx poc cluster down` (--wipe also deletes its database and certificates).',
  ].join('\n');
}

export async function runClusterCommand(command: ClusterCommand, config: PocConfig, io: ClusterIo): Promise<number> {
  const { clusterDown, clusterEnvironment, clusterStatus, clusterUp } = await import('../cluster/index.js');
  const dir = config.cluster.dir;
  const show = (status: ClusterStatus) => {
    const env = clusterEnvironment(status);
    if (command.json) io.out(JSON.stringify(status, null, 2));
    else if (command.env) io.out(exportLines(env));
    else io.out(renderClusterStatus(status, dir, env));
  };
  switch (command.action) {
    case 'up': {
      const status = await clusterUp({ config, dir, log: io.err });
      show(status);
      return 0;
    }
    case 'status': {
      const status = await clusterStatus({ dir });
      if (!status) {
        if (command.json) io.out('null');
        io.err(`no cluster runs in ${dir}; start one with \`npx poc cluster up\``);
        return 1;
      }
      show(status);
      return 0;
    }
    case 'down': {
      const running = await clusterStatus({ dir });
      await clusterDown({ dir, wipe: command.wipe, log: io.err });
      const what = running ? `cluster stopped (${dir})` : `no cluster was running in ${dir}`;
      const after = command.wipe
        ? '; its data is deleted'
        : running
          ? '; `npx poc cluster up` starts it again with its data'
          : '';
      if (command.json) io.out(JSON.stringify({ dir, stopped: Boolean(running), wiped: command.wipe }));
      else io.out(`${what}${after}`);
      return 0;
    }
  }
}
