/** `poc doctor`: can this machine run the stack? Each check says what to do when it fails. */
import { detectCompose, engineVersion, engineProblem } from '../docker/index.js';
import { loadWorkspaceConfig } from '../activities/workspace.js';
import { cliVersion, findTemporalCli, goAvailable, NO_CLI_HELP } from '../worker/devserver.js';
import type { Connection } from '@temporalio/client';
import { execa } from 'execa';
import { ENV_FILES, clientAddress, slackConfigured, type PocConfig } from '../core/config.js';
import { SEARCH_ATTRIBUTE_KEYS } from '../core/contract.js';
import { connectTemporal, connectionOptions, describeConnectionError, describeSecurity } from '../core/temporal.js';

export type CheckState = 'PASS' | 'WARN' | 'FAIL';
export interface Check {
  name: string;
  state: CheckState;
  detail: string;
}

export async function runDoctor(config: PocConfig): Promise<Check[]> {
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
    cli = findTemporalCli(config);
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
    const go = goAvailable(config);
    add(
      'Temporal CLI',
      config.temporalAddress ? 'WARN' : go ? 'WARN' : 'FAIL',
      go ? `not built yet; \`poc up\` builds it with ${go} (a few minutes, once)` : NO_CLI_HELP,
    );
  }

  await checkTemporal(config, add);

  const problem = await engineProblem().catch((err: Error) => err.message);
  if (problem)
    add('Docker engine', 'FAIL', `${problem} — start Docker (Docker Desktop, or \`sudo dockerd\`) for pipelines`);
  else add('Docker engine', 'PASS', `server ${await engineVersion()}`);

  try {
    const compose = await detectCompose(config.compose);
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

  await checkBuildHost(config, add);

  add(
    'Settings files',
    'PASS',
    config.envFiles.length
      ? `read ${config.envFiles.join(', ')} (values never shown; the real environment wins over them)`
      : `none (\`${ENV_FILES.join('` and `')}\` in ${process.cwd()} are read when present)`,
  );
  await checkOllama(config, add);
  await checkOutboundHttps(config, add);

  add(
    'Slack bot',
    slackConfigured(config.slack) ? 'PASS' : 'WARN',
    slackConfigured(config.slack)
      ? `tokens set (${config.slack.appToken ? 'Socket Mode' : `HTTP mode on port ${config.slack.port}`})`
      : config.slack.botToken
        ? 'SLACK_BOT_TOKEN is set but neither SLACK_APP_TOKEN nor SLACK_SIGNING_SECRET is; the bot stays off'
        : 'SLACK_BOT_TOKEN / SLACK_APP_TOKEN not set; the bot stays off',
  );
  return checks;
}

/** This machine as a build host: its name, labels and slots, and git for runs from a repository. */
async function checkBuildHost(config: PocConfig, add: (name: string, state: CheckState, detail: string) => void) {
  const { host } = config;
  if (host.slots === 0) {
    add('Build host', 'PASS', 'POC_HOST_SLOTS=0: a worker here runs workflows only, no steps');
    return;
  }
  const labels = host.labels.length > 0 ? `labels ${host.labels.join(', ')}` : 'no labels';
  add(
    'Build host',
    'PASS',
    `"${host.name}" — ${host.slots} slot(s), ${labels}, lost after ${host.timeoutSeconds} s without a heartbeat`,
  );
  const git = await execa('git', ['--version'], { reject: false, timeout: 10_000 });
  add(
    'git',
    git.exitCode === 0 ? 'PASS' : 'WARN',
    git.exitCode === 0
      ? `${String(git.stdout).trim()}; clones and checkouts in ${host.reposDir}`
      : 'git is not installed: runs from a repository (`poc run --repo …`) cannot check out on this host',
  );
}

/**
 * The Temporal lines: how we connect (TLS, API key — never the key), whether the server answers
 * and its version, whether the namespace exists, whether our search attributes are registered.
 */
async function checkTemporal(config: PocConfig, add: (name: string, state: CheckState, detail: string) => void) {
  const address = clientAddress(config);
  const where = config.temporalAddress
    ? `${address} (${config.temporal.addressSetting})`
    : `${address} (embedded dev server)`;
  try {
    connectionOptions(config);
  } catch (err) {
    add('Temporal access', 'FAIL', (err as Error).message);
    return;
  }
  add('Temporal access', 'PASS', `${where}, namespace "${config.namespace}"; ${describeSecurity(config)}`);

  let connection: Connection;
  try {
    connection = await connectTemporal(config, { checkNamespace: false, connectTimeoutMs: 3_000 });
  } catch (err) {
    const embeddedDown = !config.temporalAddress;
    add(
      'Temporal server',
      embeddedDown ? 'WARN' : 'FAIL',
      embeddedDown ? `${address} not running; \`poc up\` starts it` : (err as Error).message,
    );
    return;
  }
  try {
    const info = await connection.workflowService.getSystemInfo({}).catch(() => undefined);
    add(
      'Temporal server',
      'PASS',
      `${address} answers: Temporal server ${info?.serverVersion || 'of unknown version'}`,
    );
    try {
      const ns = await connection.workflowService.describeNamespace({ namespace: config.namespace });
      const retention = ns.config?.workflowExecutionRetentionTtl?.seconds;
      add(
        'Namespace',
        'PASS',
        `"${config.namespace}" exists${retention ? ` (history kept ${days(Number(retention))})` : ''}`,
      );
    } catch (err) {
      add('Namespace', 'FAIL', await describeConnectionError(err, config));
      return;
    }
    try {
      const listed = await connection.operatorService.listSearchAttributes({ namespace: config.namespace });
      const present = { ...listed.customAttributes };
      const missing = SEARCH_ATTRIBUTE_KEYS.map((key) => key.name).filter((name) => !(name in present));
      add(
        'Search attributes',
        missing.length ? 'WARN' : 'PASS',
        missing.length
          ? `missing on "${config.namespace}": ${missing.join(', ')}; \`poc worker\` registers them at start where ` +
              `allowed, else: temporal operator search-attribute create --namespace ${config.namespace} ` +
              missing.map((name) => `--name ${name} --type Keyword`).join(' ')
          : `${SEARCH_ATTRIBUTE_KEYS.map((key) => key.name).join(', ')} registered on "${config.namespace}"`,
      );
    } catch (err) {
      add('Search attributes', 'WARN', `cannot list them (${await describeConnectionError(err, config)})`);
    }
  } finally {
    await connection.close().catch(() => undefined);
  }
}

type Add = (name: string, state: CheckState, detail: string) => void;
const PROBE_TIMEOUT_MS = 5_000;

/** The cause of a failed fetch, in a few words (`ECONNREFUSED`, `getaddrinfo ENOTFOUND …`, a timeout). */
function whyUnreachable(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return `no answer within ${PROBE_TIMEOUT_MS / 1000} s`;
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}

/** Which Ollama is used and where the setting came from (OLLAMA_HOST wins over OLLAMA_BASE_URL); WARN only. */
async function checkOllama(config: PocConfig, add: Add): Promise<void> {
  const { host, setting } = config.llm.ollama;
  const url = (/^https?:\/\//i.test(host) ? host : `http://${host}`).replace(/\/+$/, '');
  const from = setting
    ? `from ${setting}${setting === 'OLLAMA_HOST' ? '; it wins over OLLAMA_BASE_URL' : ''}`
    : 'the default; set OLLAMA_HOST (or OLLAMA_BASE_URL) for another';
  try {
    const response = await fetch(`${url}/api/version`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    const body = (await response.json().catch(() => ({}))) as { version?: string };
    add('Ollama', 'PASS', `${url} (${from}) answers: Ollama ${body.version ?? `HTTP ${response.status}`}`);
  } catch (err) {
    add(
      'Ollama',
      'WARN',
      `${url} (${from}) does not answer (${whyUnreachable(err)}); needed only for --backend ollama`,
    );
  }
}

/**
 * Outbound HTTPS to the hosted providers this machine would call: required (FAIL), as the
 * original's doctor had it, unless the machine is declared offline (POC_OFFLINE=1).
 */
async function checkOutboundHttps(config: PocConfig, add: Add): Promise<void> {
  if (config.offline) {
    add(
      'Outbound HTTPS',
      'WARN',
      'not checked: POC_OFFLINE=1 declares this machine offline (hosted providers unusable)',
    );
    return;
  }
  const targets = [
    { backend: 'openai', url: config.llm.openai.baseUrl ?? 'https://api.openai.com/v1' },
    { backend: 'anthropic', url: config.llm.anthropic.baseUrl ?? 'https://api.anthropic.com' },
  ].filter((t) => t.url.startsWith('https://'));
  if (targets.length === 0) {
    add('Outbound HTTPS', 'PASS', 'not needed: OPENAI_BASE_URL and ANTHROPIC_BASE_URL are plain http servers');
    return;
  }
  const failures: string[] = [];
  const answered: string[] = [];
  for (const { backend, url } of targets) {
    const origin = new URL(url).origin;
    try {
      // Any HTTP answer (401 without a key included) proves the way out works.
      const response = await fetch(origin, { method: 'HEAD', signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
      answered.push(`${origin} (${backend}, HTTP ${response.status})`);
    } catch (err) {
      failures.push(`${origin} (${backend}): ${whyUnreachable(err)}`);
    }
  }
  if (failures.length === 0) add('Outbound HTTPS', 'PASS', `${answered.join(', ')} answered`);
  else
    add(
      'Outbound HTTPS',
      'FAIL',
      `no answer from ${failures.join('; ')} — fix the network or proxy, ` +
        'or set POC_OFFLINE=1 if this machine is offline on purpose (then only --backend ollama works)',
    );
}

function days(seconds: number): string {
  const n = Math.round(seconds / 86_400);
  return `${n} day${n === 1 ? '' : 's'}`;
}

export function renderChecks(checks: Check[], color: boolean): string {
  const paint = (state: CheckState) =>
    !color ? state : `\u001b[${state === 'PASS' ? 32 : state === 'WARN' ? 33 : 31}m${state}\u001b[0m`;
  return checks
    .map((c, i) => `${String(i + 1).padStart(2)}. ${paint(c.state)}  ${c.name.padEnd(16)} ${c.detail}`)
    .join('\n');
}
