/**
 * Hostile and malformed inputs, generated from a seed (a failure names its seed and index, so it
 * can be replayed): shell metacharacters that would create a canary file if any text reached a
 * shell — on the host, or inside a step's container (a file in the mounted workspace) — quotes,
 * newlines, 100 kB text, unknown flags and steps, wrong JSON types, and `__proto__` /
 * `constructor` as real keys of the JSON a client sends.
 */

/** Where a shell injection inside a step's container would write: the workspace mounted at /workspace. */
export const CONTAINER_CANARY = 'CANARY-if-this-exists-text-reached-a-shell-in-a-container';

/** Small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function hostileStrings(canary: string): string[] {
  const inContainer = `/workspace/${CONTAINER_CANARY}`;
  return [
    `; touch ${inContainer}`,
    `$(touch ${inContainer})`,
    `\`touch ${inContainer}\``,
    `"; touch ${inContainer}; echo "`,
    `; touch ${canary}`,
    `$(touch ${canary})`,
    `\`touch ${canary}\``,
    `| touch ${canary}`,
    `&& touch ${canary}`,
    `\n touch ${canary}\n`,
    `'; touch ${canary}; echo '`,
    `"; touch ${canary}; echo "`,
    `$'\\x3b' touch ${canary}`,
    `--workspace=/ ; touch ${canary}`,
    `lint;touch ${canary}`,
    `../../../../etc/passwd`,
    '"unclosed',
    "'unclosed",
    '\\',
    '--',
    '-',
    '--steps',
    '--steps=',
    '--backend=',
    '--nope',
    '-x',
    '\u0000',
    'a\u0000b',
    '\r\n\r\n',
    '<@U123> <#C1|x> <http://evil|click> &amp; &lt;',
    '💥'.repeat(50),
    '\u202e\u202dreverse',
    ' '.repeat(500),
    'x'.repeat(100_000),
    '{"json": true}',
    '[]',
    'null',
    '%s%s%s%n',
    '${HOME}',
    '$OPENAI_API_KEY',
    'pipeline-../../x',
    `--upload-pack=touch ${canary}`,
    `-oProxyCommand=touch ${canary}`,
    `ext::sh -c touch% ${canary}`,
    `file://${canary}.git`,
  ];
}

const WORDS = [
  'run',
  'llm',
  'status',
  'list',
  'logs',
  'cancel',
  'retry',
  'skip',
  'abort',
  'approve',
  'deny',
  'schedule',
  'help',
  'bogus',
  'RUN',
  'create',
  'trigger',
];
const FLAGS = [
  '--steps',
  '--ask',
  '--approve',
  '--backend',
  '--model',
  '--prompt',
  '--limit',
  '--lines',
  '--cron',
  '--overlap',
  '--follow',
  '--json',
  '--bogus',
  '-s',
  '-b',
  '-z',
  '--max-tokens',
  '--temperature',
  '--repo',
  '--ref',
  '--on',
  '--queue-timeout',
];

function pick<T>(rand: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rand() * xs.length)];
}

/** Word lists for the command grammar (CLI argv, or a Slack message once joined). */
export function hostileCommands(seed: number, count: number, canary: string): string[][] {
  const rand = prng(seed);
  const strings = hostileStrings(canary);
  return Array.from({ length: count }, () => {
    const words = [rand() < 0.8 ? pick(rand, WORDS) : pick(rand, strings)];
    const extra = Math.floor(rand() * 5);
    for (let i = 0; i < extra; i++) {
      const r = rand();
      words.push(r < 0.35 ? pick(rand, FLAGS) : r < 0.8 ? pick(rand, strings) : pick(rand, WORDS));
    }
    return words;
  });
}

function hostileValue(rand: () => number, strings: string[]): unknown {
  const r = rand();
  if (r < 0.3) return pick(rand, strings);
  if (r < 0.4) return Math.floor(rand() * 1e9) * (rand() < 0.5 ? -1 : 1);
  if (r < 0.45) return rand() < 0.5;
  if (r < 0.5) return null;
  if (r < 0.6) return [pick(rand, strings), 42, null];
  if (r < 0.65) return { nested: pick(rand, strings) };
  if (r < 0.7) return 1.5;
  if (r < 0.8) return [pick(rand, ['lint', 'test', 'build', 'deploy', 'Lint', 'a b', ''])];
  return pick(rand, strings).slice(0, 50);
}

const PIPELINE_FIELDS = [
  'goal',
  'steps',
  'workspace',
  'requestedBy',
  'onFailure',
  'approve',
  'stepTimeoutSeconds',
  'decisionTimeoutSeconds',
  'slack',
  'repo',
  'ref',
  'labels',
  'queueTimeoutSeconds',
  'stpes',
  'command',
  '__proto__',
  'constructor',
];
const LLM_FIELDS = [
  'backend',
  'model',
  'prompt',
  'system',
  'maxTokens',
  'temperature',
  'requestedBy',
  'slack',
  'api_key',
  'url',
];

/**
 * Workflow inputs as the Temporal client (or `temporal workflow start --input`) could send them.
 * Each object is built as JSON text and parsed, as a server or client would: `__proto__` and
 * `constructor` then are the object's own keys, not its prototype (assigning them would not be).
 */
export function hostileInputs(seed: number, count: number, canary: string, kind: 'pipeline' | 'llm'): unknown[] {
  const rand = prng(seed);
  const strings = hostileStrings(canary);
  const fields = kind === 'pipeline' ? PIPELINE_FIELDS : LLM_FIELDS;
  return Array.from({ length: count }, () => {
    const r = rand();
    if (r < 0.05) return pick(rand, [null, 42, 'a string', [], true]);
    const entries: [string, unknown][] =
      kind === 'llm'
        ? [
            ['backend', 'openai'],
            ['model', 'gpt-x'],
            ['prompt', 'hi'],
          ]
        : [];
    const n = 1 + Math.floor(rand() * 3);
    for (let i = 0; i < n; i++) {
      const field = pick(rand, fields);
      const value = hostileValue(rand, strings);
      const existing = entries.findIndex(([key]) => key === field);
      if (existing >= 0) entries[existing] = [field, value];
      else entries.push([field, value]);
    }
    const json = `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`).join(',')}}`;
    return JSON.parse(json) as Record<string, unknown>;
  });
}

/** Workflow ids as a hostile caller could pick them (Temporal takes any text): shell syntax, paths, look-alikes. */
export function hostileIds(seed: number, count: number, canary: string): string[] {
  const rand = prng(seed);
  const shells = hostileStrings(canary).filter((text) => /touch|\.\.|\$|`/.test(text) && text.length < 200);
  return Array.from({ length: count }, (_, i) => {
    const r = rand();
    const tail = r < 0.6 ? pick(rand, shells) : r < 0.8 ? `a/b_${i}` : `a_b:${i}`;
    return `pipeline-fuzz-${i}-${tail}`.split('\u0000').join('');
  });
}
