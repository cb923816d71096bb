/**
 * What a step's Compose call is given, never more: the variables Compose itself needs to reach
 * the engine, and the ones the workspace asks for by name — those its compose files interpolate
 * (`${NAME}`, `$NAME`) or pass through (`environment: [NAME]`), and those `poc.config.json`
 * lists under `env`. The worker's other variables (a Slack token, a provider key nobody asked
 * for) never reach Compose, hence never a container. Pure functions of text and values.
 */
import crypto from 'node:crypto';
import path from 'node:path';

/** What Compose (either flavour) and the Docker client need for themselves. */
const COMPOSE_OWN = new Set([
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'TMPDIR',
  'TZ',
  'LANG',
  'LANGUAGE',
  'XDG_RUNTIME_DIR',
  'DOCKER_HOST',
  'DOCKER_CONTEXT',
  'DOCKER_CONFIG',
  'DOCKER_CERT_PATH',
  'DOCKER_TLS',
  'DOCKER_TLS_VERIFY',
  'DOCKER_API_VERSION',
  'DOCKER_BUILDKIT',
  'DOCKER_DEFAULT_PLATFORM',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'ALL_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'all_proxy',
  // How Compose behaves, not what it runs (COMPOSE_PROJECT_NAME, COMPOSE_FILE, COMPOSE_PROFILES and
  // COMPOSE_ENV_FILES are left out on purpose: the run and the workspace decide those).
  'COMPOSE_PARALLEL_LIMIT',
  'COMPOSE_HTTP_TIMEOUT',
  'COMPOSE_ANSI',
  'COMPOSE_STATUS_STDOUT',
  'COMPOSE_API_VERSION',
  'COMPOSE_TLS_VERSION',
  'COMPOSE_CONVERT_WINDOWS_PATHS',
  'COMPOSE_DOCKER_CLI_BUILD',
  'COMPOSE_BAKE',
]);
const COMPOSE_OWN_PATTERN = /^(LC_[A-Z_]+|BUILDX_[A-Z_]+)$/;

/**
 * The worker's own credentials: never passed, even when a compose file names them (a step that
 * rewrites the compose file must not get the bot's token or the Temporal key from the next run).
 */
const NEVER_PASSED = new Set([
  'SLACK_BOT_TOKEN',
  'SLACK_APP_TOKEN',
  'SLACK_SIGNING_SECRET',
  'TEMPORAL_API_KEY',
  'TEMPORAL_TLS_CLIENT_KEY_DATA',
  'TEMPORAL_TLS_CLIENT_KEY_PATH',
]);

/** Set by us on every call: logs stay plain text. */
const COMPOSE_FIXED: Record<string, string> = { COMPOSE_PROGRESS: 'plain', BUILDKIT_PROGRESS: 'plain' };

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The variable names a compose file asks for: interpolated anywhere (`${NAME}`, `${NAME:-x}`,
 * `$NAME`; `$$` is a literal dollar) or passed through by name in an `environment` list or map.
 */
export function composeVariables(text: string): string[] {
  const names = new Set<string>();
  const unescaped = text.replace(/\$\$/g, '');
  for (const match of unescaped.matchAll(/\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))/g)) {
    names.add(match[1] ?? match[2]);
  }
  for (const name of passedThrough(text)) names.add(name);
  return [...names].sort();
}

/** Names under `environment:` with no value (`- NAME`, `NAME:`, `[A, B]`): Compose takes them from its environment. */
function passedThrough(text: string): string[] {
  const names: string[] = [];
  const lines = text.split(/\r?\n/);
  const unquote = (s: string) => s.trim().replace(/^(["'])(.*)\1$/, '$2');
  for (let i = 0; i < lines.length; i++) {
    const key = /^(\s*)environment:\s*(.*?)\s*(#.*)?$/.exec(lines[i]);
    if (!key) continue;
    const indent = key[1].length;
    const inline = key[2];
    if (inline.startsWith('[')) {
      names.push(
        ...inline
          .replace(/^\[|\]$/g, '')
          .split(',')
          .map(unquote)
          .filter((n) => NAME.test(n)),
      );
      continue;
    }
    if (inline) continue;
    for (let j = i + 1; j < lines.length; j++) {
      const line = lines[j];
      if (!line.trim() || /^\s*#/.test(line)) continue;
      const lineIndent = line.length - line.trimStart().length;
      const item = /^\s*-\s+(.*?)\s*(#.*)?$/.exec(line);
      if (lineIndent < indent || (lineIndent === indent && !item)) break;
      if (item) {
        const entry = unquote(item[1]);
        if (NAME.test(entry)) names.push(entry);
        continue;
      }
      const pair = /^\s*(["']?)([A-Za-z_][A-Za-z0-9_]*)\1\s*:\s*(~|null)?\s*(#.*)?$/.exec(line);
      if (pair) names.push(pair[2]);
    }
  }
  return names;
}

/**
 * The environment of a Compose call: Compose's own variables and the `wanted` ones, from
 * `workerEnv` — never the worker's Slack or Temporal credentials, whoever asks.
 */
export function composeEnvironment(workerEnv: NodeJS.ProcessEnv, wanted: readonly string[]): Record<string, string> {
  const given: Record<string, string> = {};
  const asked = new Set(wanted);
  for (const [name, value] of Object.entries(workerEnv)) {
    if (value === undefined || NEVER_PASSED.has(name)) continue;
    if (COMPOSE_OWN.has(name) || COMPOSE_OWN_PATTERN.test(name) || asked.has(name)) given[name] = value;
  }
  return { ...given, ...COMPOSE_FIXED };
}

/**
 * The Compose project of a workspace: its folder's name (as Compose allows it) and a digest of its
 * full path, so two folders of the same name never share volumes or networks, and the runs of
 * one workspace share its volumes (a dependency cache survives from run to run).
 */
export function composeProjectName(workspaceRealPath: string): string {
  const base =
    path
      .basename(workspaceRealPath)
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, '-')
      .replace(/^[^a-z0-9]+/, '')
      .slice(0, 40) || 'workspace';
  const digest = crypto.createHash('sha256').update(workspaceRealPath).digest('hex').slice(0, 10);
  return `poc-${base}-${digest}`;
}
