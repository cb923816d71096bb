/** `poc doctor`: can this machine run the stack? Each check says what to do when it fails. */
import { detectCompose, engineVersion, engineProblem } from '../docker/index.js';
import { loadWorkspaceConfig } from '../activities/workspace.js';
import { cliVersion, findTemporalCli, frontendAnswers, goAvailable, NO_CLI_HELP } from '../worker/devserver.js';
import { clientAddress, type PocConfig } from '../core/config.js';

export type CheckState = 'PASS' | 'WARN' | 'FAIL';
export interface Check {
  name: string;
  state: CheckState;
  detail: string;
}

export async function runDoctor(config: PocConfig, env = process.env): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (name: string, state: CheckState, detail: string) => checks.push({ name, state, detail });

  const node = process.versions.node;
  add(
    'Node.js',
    Number(node.split('.')[0]) >= 20 ? 'PASS' : 'FAIL',
    `v${node}${Number(node.split('.')[0]) >= 20 ? '' : ' — Node 20 or newer is needed'}`,
  );

  let cli;
  try {
    cli = findTemporalCli(env);
  } catch (err) {
    add('Temporal CLI', 'FAIL', (err as Error).message);
  }
  if (cli)
    add(
      'Temporal CLI',
      'PASS',
      `${cli.path} (from ${cli.source}; ${await cliVersion(cli.path).catch(() => 'does not run')})`,
    );
  else if (!checks.some((c) => c.name === 'Temporal CLI')) {
    const go = goAvailable(env);
    add(
      'Temporal CLI',
      config.temporalAddress ? 'WARN' : go ? 'WARN' : 'FAIL',
      go ? `not built yet; \`poc up\` builds it with ${go} (a few minutes, once)` : NO_CLI_HELP,
    );
  }

  const address = clientAddress(config);
  const reachable = await frontendAnswers(address);
  add(
    'Temporal server',
    reachable ? 'PASS' : config.temporalAddress ? 'FAIL' : 'WARN',
    reachable
      ? `${address} answers (namespace ${config.namespace})`
      : config.temporalAddress
        ? `${address} (TEMPORAL_ADDRESS) does not answer`
        : `${address} not running; \`poc up\` starts it`,
  );

  const problem = await engineProblem().catch((err: Error) => err.message);
  if (problem)
    add('Docker engine', 'FAIL', `${problem} — start Docker (Docker Desktop, or \`sudo dockerd\`) for pipelines`);
  else add('Docker engine', 'PASS', `server ${await engineVersion()}`);

  try {
    const compose = await detectCompose(env);
    add(
      'Docker Compose',
      'PASS',
      `${compose.command}${compose.prefix.length ? ' ' + compose.prefix.join(' ') : ''} ` +
        `${compose.version} (${compose.flavour === 'v1' ? 'v1' : 'v2+'})`,
    );
  } catch (err) {
    add('Docker Compose', 'FAIL', (err as Error).message);
  }

  try {
    const ws = loadWorkspaceConfig(config.workspace);
    add('Workspace', 'PASS', `${config.workspace} (service "${ws.service}", steps ${[...ws.steps.keys()].join(', ')})`);
  } catch (err) {
    add('Workspace', 'FAIL', (err as Error).message);
  }

  add(
    'Slack bot',
    env.SLACK_BOT_TOKEN && (env.SLACK_APP_TOKEN || env.SLACK_SIGNING_SECRET) ? 'PASS' : 'WARN',
    env.SLACK_BOT_TOKEN ? 'tokens set' : 'SLACK_BOT_TOKEN / SLACK_APP_TOKEN not set; the bot stays off',
  );
  return checks;
}

export function renderChecks(checks: Check[], color: boolean): string {
  const paint = (state: CheckState) =>
    !color ? state : `\u001b[${state === 'PASS' ? 32 : state === 'WARN' ? 33 : 31}m${state}\u001b[0m`;
  return checks
    .map((c, i) => `${String(i + 1).padStart(2)}. ${paint(c.state)}  ${c.name.padEnd(16)} ${c.detail}`)
    .join('\n');
}
