/**
 * The one command grammar (client/grammar.ts) of the `poc` CLI and Slack: how text becomes words,
 * every verb on both surfaces, every option type and form, every error with its one-line message
 * and usage, and the help texts.
 */
import { describe, expect, test } from '@jest/globals';
import {
  COMMANDS,
  DECISION_ACTIONS,
  UsageError,
  helpText,
  parseCommand,
  shown,
  tokenize,
  type Surface,
} from '../../client/grammar.js';

/** Each verb's usage as users read it (after `poc ` or `!poc `). */
const USAGE: Record<string, string> = {
  run: 'run [goal] [--steps a,b] [--ask] [--approve a,b|all] [--on label,…] [--repo URL [--ref REF]]',
  llm: 'llm --backend ollama|openai|anthropic --model M [--system S] [--max-tokens N] [--temperature T] ' + '<prompt>',
  chat: 'chat [--backend ollama|openai|anthropic] [--model M] [--system S] [prompt]',
  end: 'end [id]',
  models: 'models --backend ollama|openai|anthropic',
  status: 'status [id]',
  list: 'list [--limit N] [--kind pipeline|llm|chat] [--phase PHASE]',
  logs: 'logs <id> [step] [--lines N]',
  cancel: 'cancel [id]',
  retry: 'retry <id>',
  skip: 'skip <id>',
  abort: 'abort <id>',
  approve: 'approve <id>',
  'approve-all': 'approve-all <id>',
  deny: 'deny <id>',
  schedule:
    'schedule create <name> --cron "0 3 * * *" [--steps a,b] [--goal G] [--overlap skip|buffer] | ' +
    'list | pause|unpause|delete|trigger|describe <name>',
  hosts: 'hosts',
  help: 'help [command]',
  up: 'up',
  server: 'server',
  worker: 'worker',
  bot: 'bot',
  doctor: 'doctor',
  version: 'version',
  cluster: 'cluster up|status|down [--env] [--wipe] [--json]',
};
const CLI_ONLY = ['models', 'up', 'server', 'worker', 'bot', 'doctor', 'version', 'cluster'];
const SURFACES: Surface[] = ['cli', 'slack'];

const prefixOf = (surface: Surface) => (surface === 'slack' ? '!poc' : 'poc');
const usageOf = (verb: string, surface: Surface) => `${prefixOf(surface)} ${USAGE[verb]}`;
const parse = (line: string, surface: Surface = 'cli') => parseCommand(tokenize(line), surface);

/** The UsageError `fn` throws (anything else, or nothing, fails the test). */
function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (err) {
    if (err instanceof UsageError) return err;
    throw err;
  }
  throw new Error('expected a UsageError; nothing was thrown');
}

const RUN = {
  name: 'run',
  goal: undefined,
  steps: undefined,
  ask: false,
  approve: undefined,
  follow: false,
  workspace: undefined,
  id: undefined,
  json: false,
};
const LLM = {
  name: 'llm',
  backend: 'ollama',
  model: 'm',
  prompt: 'hi',
  system: undefined,
  maxTokens: undefined,
  temperature: undefined,
  direct: false,
  json: false,
};
const CREATE = {
  name: 'schedule',
  action: 'create',
  schedule: 'nightly',
  cron: '0 3 * * *',
  steps: undefined,
  goal: undefined,
  overlap: 'skip',
  json: false,
};

describe('tokenize', () => {
  test.each<[string, string[]]>([
    ['', []],
    ['   ', []],
    ['\t run \n  lint  ', ['run', 'lint']],
    ['run the build', ['run', 'the', 'build']],
    ['a "b c" d', ['a', 'b c', 'd']],
    ["a 'b c' d", ['a', 'b c', 'd']],
    ['x"y z"w', ['xy zw']],
    [`"a"'b'c`, ['abc']],
    ['""', ['']],
    ["''", ['']],
    ['a "" b', ['a', '', 'b']],
    ['"say \\"hi\\""', ['say "hi"']],
    ['"a\\\\b"', ['a\\b']],
    ['"a\\nb"', ['a\\nb']],
    ["'a\\\"b'", ['a\\"b']],
    [`"it's"`, ["it's"]],
    [`'say "hi"'`, ['say "hi"']],
    ['a\\"b', ['a"b']],
    ["it\\'s", ["it's"]],
    ['\\\\', ['\\']],
    ['a\\ b', ['a\\', 'b']],
    ['end\\', ['end\\']],
    ['"line one\nline two"', ['line one\nline two']],
    ['\u201cmy goal\u201d --ask', ['my goal', '--ask']],
    ['\u2018my goal\u2019', ['my goal']],
    ['\u201cmixed"', ['mixed']],
    ['$(touch x) ; `id` | rm', ['$(touch', 'x)', ';', '`id`', '|', 'rm']],
  ])('%j → %j', (text, words) => {
    expect(tokenize(text)).toEqual(words);
  });

  const fix = 'close it or escape it with \\';
  const commandList = '`!poc help` lists the commands';
  test.each<[string, string]>([
    ['run "open', `unclosed double quote; ${fix}; usage: ${usageOf('run', 'slack')}`],
    ["run 'open", `unclosed single quote; ${fix}; usage: ${usageOf('run', 'slack')}`],
    ['"a\\"', `unclosed double quote; ${fix}; ${commandList}`],
    ['\u201copen', `unclosed double quote; ${fix}; ${commandList}`],
    ["fix it, don't break it", `unclosed single quote; ${fix}; ${commandList}`],
    ['don\u2019t', `unclosed single quote; ${fix}; ${commandList}`],
  ])('%j: %s (the usage of the command it interrupted, or where the commands are)', (text, message) => {
    const err = usageError(() => tokenize(text));
    expect(err.message).toBe(message);
    expect(err.usage).toBeUndefined();
    expect(err.name).toBe('UsageError');
  });
});

describe('every verb on both surfaces', () => {
  /** Verbs of both surfaces, the same command on each (`logs` differs in its default and has its own test). */
  const BOTH: [string, Record<string, unknown>][] = [
    ['run', RUN],
    [
      'run fix the build --steps lint,test --ask --approve test',
      { ...RUN, goal: 'fix the build', steps: ['lint', 'test'], ask: true, approve: ['test'] },
    ],
    ['run -s lint --approve all', { ...RUN, steps: ['lint'], approve: 'all' }],
    [
      'run --on gpu,arm64 --repo https://git.example.com/app.git --ref release/1.2 --queue-timeout 600',
      {
        ...RUN,
        labels: ['gpu', 'arm64'],
        repo: 'https://git.example.com/app.git',
        ref: 'release/1.2',
        queueTimeoutSeconds: 600,
      },
    ],
    ['run --repo git@git.example.com:team/app.git', { ...RUN, repo: 'git@git.example.com:team/app.git' }],
    ['hosts', { name: 'hosts', json: false }],
    ['llm --backend ollama --model m hi', LLM],
    [
      'llm -b openai -m gpt-4o-mini why is the sky blue',
      { ...LLM, backend: 'openai', model: 'gpt-4o-mini', prompt: 'why is the sky blue' },
    ],
    [
      'llm -b openai -m gpt -p "the prompt" --system "be brief" --max-tokens 100 --temperature 0.5',
      {
        ...LLM,
        backend: 'openai',
        model: 'gpt',
        prompt: 'the prompt',
        system: 'be brief',
        maxTokens: 100,
        temperature: 0.5,
      },
    ],
    ['chat why is the build red?', { name: 'chat', prompt: 'why is the build red?', keep: false, json: false }],
    [
      'chat -b anthropic -m claude --system "be brief" hello',
      {
        name: 'chat',
        prompt: 'hello',
        backend: 'anthropic',
        model: 'claude',
        system: 'be brief',
        keep: false,
        json: false,
      },
    ],
    ['end', { name: 'end', id: undefined, json: false }],
    ['end chat-ab12', { name: 'end', id: 'chat-ab12', json: false }],
    ['list --kind chat', { name: 'list', limit: 10, kind: 'chat', phase: undefined, json: false }],
    ['status', { name: 'status', id: undefined, json: false }],
    ['status ab12cd34', { name: 'status', id: 'ab12cd34', json: false }],
    ['list', { name: 'list', limit: 10, kind: undefined, phase: undefined, json: false }],
    ['list --limit 5 --kind llm --phase failed', { name: 'list', limit: 5, kind: 'llm', phase: 'FAILED', json: false }],
    [
      'list -n 1000 --kind pipeline --phase Awaiting_Decision',
      { name: 'list', limit: 1000, kind: 'pipeline', phase: 'AWAITING_DECISION', json: false },
    ],
    ['logs ab12 lint --lines 20', { name: 'logs', id: 'ab12', step: 'lint', follow: false, lines: 20, json: false }],
    ['logs ab12 -n 10000', { name: 'logs', id: 'ab12', step: undefined, follow: false, lines: 10000, json: false }],
    ['cancel', { name: 'cancel', id: undefined, json: false }],
    ['cancel llm-ab12', { name: 'cancel', id: 'llm-ab12', json: false }],
    ['retry ab12', { name: 'retry', id: 'ab12', json: false }],
    ['skip ab12', { name: 'skip', id: 'ab12', json: false }],
    ['abort ab12', { name: 'abort', id: 'ab12', json: false }],
    ['approve ab12', { name: 'approve', id: 'ab12', json: false }],
    ['approve-all ab12', { name: 'approve-all', id: 'ab12', json: false }],
    ['deny pipeline-ab12', { name: 'deny', id: 'pipeline-ab12', json: false }],
    ['schedule list', { name: 'schedule', action: 'list', json: false }],
    ['schedule create nightly --cron "0 3 * * *"', CREATE],
    [
      'schedule create nightly --cron "  0 3 * * 1-5 " -s lint,test --goal "the nightly" --overlap buffer',
      { ...CREATE, cron: '0 3 * * 1-5', steps: ['lint', 'test'], goal: 'the nightly', overlap: 'buffer' },
    ],
    ['schedule create n_1 --cron=@daily', { ...CREATE, schedule: 'n_1', cron: '@daily' }],
    ['schedule pause nightly', { name: 'schedule', action: 'pause', schedule: 'nightly', json: false }],
    ['schedule unpause nightly', { name: 'schedule', action: 'unpause', schedule: 'nightly', json: false }],
    ['schedule delete nightly', { name: 'schedule', action: 'delete', schedule: 'nightly', json: false }],
    ['schedule trigger nightly', { name: 'schedule', action: 'trigger', schedule: 'nightly', json: false }],
    ['schedule describe nightly', { name: 'schedule', action: 'describe', schedule: 'nightly', json: false }],
    ['help', { name: 'help', topic: undefined }],
    ['help LOGS', { name: 'help', topic: 'logs' }],
    ['Status AB12', { name: 'status', id: 'AB12', json: false }],
  ];

  /** Verbs and options only the CLI has. */
  const CLI: [string, Record<string, unknown>][] = [
    [
      'run --follow --workspace /srv/app --id my-run --json',
      { ...RUN, follow: true, workspace: '/srv/app', id: 'my-run', json: true },
    ],
    ['run -f goal', { ...RUN, goal: 'goal', follow: true }],
    ['llm -b ollama -m m --direct --json hi', { ...LLM, direct: true, json: true }],
    ['chat', { name: 'chat', keep: false, json: false }],
    ['chat --id chat-ab12 --keep --json', { name: 'chat', id: 'chat-ab12', keep: true, json: true }],
    [
      'chat --workspace /srv/app first words',
      { name: 'chat', prompt: 'first words', workspace: '/srv/app', keep: false, json: false },
    ],
    ['end --json', { name: 'end', id: undefined, json: true }],
    ['models --backend anthropic', { name: 'models', backend: 'anthropic', json: false }],
    ['models -b ollama --json', { name: 'models', backend: 'ollama', json: true }],
    ['status ab12 --json', { name: 'status', id: 'ab12', json: true }],
    ['list --json', { name: 'list', limit: 10, kind: undefined, phase: undefined, json: true }],
    ['logs ab12 -f -n 5 --json', { name: 'logs', id: 'ab12', step: undefined, follow: true, lines: 5, json: true }],
    ['cancel --json', { name: 'cancel', id: undefined, json: true }],
    ['approve-all ab12 --json', { name: 'approve-all', id: 'ab12', json: true }],
    ['schedule list --json', { name: 'schedule', action: 'list', json: true }],
    ['schedule trigger nightly --json', { name: 'schedule', action: 'trigger', schedule: 'nightly', json: true }],
    ['up', { name: 'up', json: false }],
    ['server --json', { name: 'server', json: true }],
    ['worker', { name: 'worker', json: false }],
    ['bot', { name: 'bot', json: false }],
    ['doctor --json', { name: 'doctor', json: true }],
    ['hosts --json', { name: 'hosts', json: true }],
    ['version', { name: 'version' }],
    ['cluster up --json', { name: 'cluster', action: 'up', wipe: false, env: false, json: true }],
    ['cluster down --wipe', { name: 'cluster', action: 'down', wipe: true, env: false, json: false }],
  ];

  test.each(SURFACES.flatMap((surface) => BOTH.map(([line, command]) => [surface, line, command] as const)))(
    '%s: %s',
    (surface, line, command) => {
      expect(parse(line, surface)).toEqual(command);
    },
  );

  test.each(CLI)('cli: %s', (line, command) => {
    expect(parse(line, 'cli')).toEqual(command);
  });

  test('`logs` shows 50 lines in the terminal and 30 in Slack unless told', () => {
    expect(parse('logs ab12', 'cli')).toEqual({
      name: 'logs',
      id: 'ab12',
      step: undefined,
      follow: false,
      lines: 50,
      json: false,
    });
    expect(parse('logs ab12', 'slack')).toEqual({
      name: 'logs',
      id: 'ab12',
      step: undefined,
      follow: false,
      lines: 30,
      json: false,
    });
  });

  test.each(CLI_ONLY)('slack refuses the CLI verb %s as unknown', (verb) => {
    const err = usageError(() => parse(`${verb} --json`, 'slack'));
    expect(err.message).toBe(`unknown command "${verb}"; \`!poc help\` lists the commands`);
    expect(err.usage).toBeUndefined();
    // Even when asked for its help.
    expect(usageError(() => parse(`${verb} --help`, 'slack')).message).toBe(err.message);
  });

  test('the tables above cover every verb of COMMANDS on every surface that has it', () => {
    const verbsOf = (rows: [string, unknown][]) => new Set(rows.map(([line]) => line.split(' ')[0].toLowerCase()));
    const both = verbsOf(BOTH);
    const cli = verbsOf([...BOTH, ...CLI]);
    expect([...cli].sort()).toEqual(Object.keys(COMMANDS).sort());
    expect([...both].sort()).toEqual(
      Object.keys(COMMANDS)
        .filter((v) => !CLI_ONLY.includes(v))
        .sort(),
    );
    for (const verb of Object.keys(COMMANDS)) expect(USAGE[verb]).toBe(COMMANDS[verb].usage);
  });

  test.each(SURFACES)('%s: no words, an empty word, --help or -h is the command list', (surface) => {
    for (const argv of [[], [''], ['--help'], ['-h'], ['--help', 'run']])
      expect(parseCommand(argv, surface)).toEqual({ name: 'help' });
  });

  test('cli: --version and -v ask for the version; nothing may follow', () => {
    expect(parseCommand(['--version'], 'cli')).toEqual({ name: 'version' });
    expect(parseCommand(['-v'], 'cli')).toEqual({ name: 'version' });
    expect(() => parseCommand(['-v', 'now'], 'cli')).toThrow('unexpected "now"');
  });

  test('slack: --version and -v are unknown commands there, as `version` is', () => {
    for (const word of ['--version', '-v', 'version'])
      expect(() => parseCommand([word], 'slack')).toThrow(
        `unknown command "${word}"; \`!poc help\` lists the commands`,
      );
  });

  test.each(SURFACES)('%s: after `--` a -h or --help is text, not a request for help', (surface) => {
    expect(parse('llm -b ollama -m m -- what does -h mean', surface)).toMatchObject({
      name: 'llm',
      prompt: 'what does -h mean',
    });
    expect(parse('run -- see --help', surface)).toMatchObject({ name: 'run', goal: 'see --help' });
  });

  test.each(
    SURFACES.flatMap((surface) => ['run', 'logs', 'schedule', 'retry', 'help'].map((v) => [surface, v] as const)),
  )("%s: %s --help (or -h anywhere) is that verb's help", (surface, verb) => {
    expect(parse(`${verb} --help`, surface)).toEqual({ name: 'help', topic: verb });
    expect(parse(`${verb.toUpperCase()} x -h --nonsense`, surface)).toEqual({ name: 'help', topic: verb });
  });

  test('decision verbs map onto the actions of the decide update', () => {
    expect(DECISION_ACTIONS).toEqual({
      retry: 'retry',
      skip: 'skip',
      abort: 'abort',
      approve: 'approve',
      'approve-all': 'approveAll',
      deny: 'deny',
    });
  });
});

describe('options', () => {
  test.each<[string, Record<string, unknown>]>([
    // --opt=value, for each type
    ['run --steps=lint,test', { ...RUN, steps: ['lint', 'test'] }],
    ['list --limit=5 --kind=llm --phase=done', { name: 'list', limit: 5, kind: 'llm', phase: 'DONE', json: false }],
    [
      'llm --backend=ollama --model=m --temperature=1.5 --max-tokens=7 --system=a=b hi',
      { ...LLM, temperature: 1.5, maxTokens: 7, system: 'a=b' },
    ],
    // an inline value may look like an option; a separate one may start with a single dash
    ['llm -b ollama -m m --system=--terse hi', { ...LLM, system: '--terse' }],
    ['llm -b ollama -m m --system -terse hi', { ...LLM, system: '-terse' }],
    ['llm -b ollama -m m --temperature -0.5 hi', { ...LLM, temperature: -0.5 }],
    ['llm -b ollama -m m --temperature 1e-1 hi', { ...LLM, temperature: 0.1 }],
    ['llm -b ollama -m m --temperature=2 --max-tokens 000123 hi', { ...LLM, temperature: 2, maxTokens: 123 }],
    // lists are trimmed and empty items dropped
    ['run --steps " lint , test ,"', { ...RUN, steps: ['lint', 'test'] }],
    // options anywhere among the words; a repeated boolean is still true
    ['run --ask fix it -s lint now --ask', { ...RUN, goal: 'fix it now', ask: true, steps: ['lint'] }],
    // `--` ends the options; `-` and negative numbers are words
    ['run --ask -- --steps is part of -s the goal', { ...RUN, ask: true, goal: '--steps is part of -s the goal' }],
    ['run - -5 --', { ...RUN, goal: '- -5' }],
    ['llm -b ollama -m m -- -p is the prompt', { ...LLM, prompt: '-p is the prompt' }],
  ])('%s', (line, command) => {
    expect(parse(line)).toEqual(command);
  });

  test.each<[string, string, string]>([
    ['run --follow', 'run', '--follow'],
    ['run -f', 'run', '-f'],
    ['run --workspace /etc', 'run', '--workspace'],
    ['run --id mine', 'run', '--id'],
    ['run --json', 'run', '--json'],
    ['llm -b ollama -m m --direct hi', 'llm', '--direct'],
    ['logs ab12 --follow', 'logs', '--follow'],
    ['logs ab12 -f', 'logs', '-f'],
    ['status --json', 'status', '--json'],
    ['list --json', 'list', '--json'],
    ['cancel --json', 'cancel', '--json'],
    ['deny ab12 --json', 'deny', '--json'],
    ['schedule list --json', 'schedule', '--json'],
  ])('slack refuses the CLI option of %s', (line, verb, option) => {
    const err = usageError(() => parse(line, 'slack'));
    expect(err.message).toBe(`unknown option ${option}; usage: ${usageOf(verb, 'slack')}`);
    expect(err.usage).toBe(usageOf(verb, 'slack'));
  });
});

describe('every mistake: one line, with the usage', () => {
  /** [words, verb whose usage is shown, message before the usage]. */
  const MISTAKES: [string[], string, string][] = [
    // options, whatever the verb
    [['run', '--nope'], 'run', 'unknown option --nope'],
    [['run', '--ASK'], 'run', 'unknown option --ASK'],
    [['run', '-x'], 'run', 'unknown option -x'],
    [['run', '-s5'], 'run', 'unknown option -s5'],
    [['run', '--x;rm -rf /'], 'run', 'unknown option "--x;rm -rf /"'],
    [['run', `--${'o'.repeat(50)}`], 'run', `unknown option "--${'o'.repeat(38)}…"`],
    [['run', '--goal', 'x'], 'run', 'unknown option --goal'],
    [['run', '--ask=yes'], 'run', '--ask takes no value'],
    [['run', '--steps'], 'run', '--steps needs a value'],
    [['run', '--steps', '--ask'], 'run', '--steps needs a value'],
    [['run', '--steps', 'lint', '--steps', 'test'], 'run', '--steps is given twice'],
    [['run', '-s', 'lint', '--steps=test'], 'run', '--steps is given twice'],
    // lists of steps
    [['run', '--steps='], 'run', '--steps needs at least one step name'],
    [['run', '--steps', ' , '], 'run', '--steps needs at least one step name'],
    [['run', '--approve', ''], 'run', '--approve needs at least one step name'],
    [['run', '--steps', 'lint,Test'], 'run', '"Test" is not a step name (e.g. build, bootstrap, doctor, lint, test)'],
    [['run', '--approve', 'ALL'], 'run', '"ALL" is not a step name (e.g. build, bootstrap, doctor, lint, test)'],
    [['run', '-s', 'lint;rm'], 'run', '"lint;rm" is not a step name (e.g. build, bootstrap, doctor, lint, test)'],
    // llm
    [['llm', 'hi'], 'llm', '--backend is required'],
    [['llm', '--backend', 'gemini', 'hi'], 'llm', '--backend must be one of ollama, openai, anthropic, got "gemini"'],
    [
      ['llm', '-b', 'x'.repeat(40)],
      'llm',
      `--backend must be one of ollama, openai, anthropic, got "${'x'.repeat(30)}…"`,
    ],
    [['llm', '-b', 'ollama', 'hi'], 'llm', '--model is required'],
    [['llm', '-b', 'ollama', '--model=', 'hi'], 'llm', '--model is required'],
    [['llm', '-b', 'ollama', '-m', 'm'], 'llm', 'a prompt is needed'],
    [['llm', '-b', 'ollama', '-m', 'm', '  '], 'llm', 'a prompt is needed'],
    [['llm', '-b', 'ollama', '-m', 'm', '--prompt='], 'llm', 'a prompt is needed'],
    [
      ['llm', '-b', 'ollama', '-m', 'm', '-p', 'a', 'b'],
      'llm',
      'give the prompt either with --prompt or as text, not both',
    ],
    [
      ['llm', '-b', 'ollama', '-m', 'm', '--max-tokens', '1.5', 'hi'],
      'llm',
      '--max-tokens needs a whole number, got "1.5"',
    ],
    [
      ['llm', '-b', 'ollama', '-m', 'm', '--max-tokens', '-5', 'hi'],
      'llm',
      '--max-tokens needs a whole number, got "-5"',
    ],
    [
      ['llm', '-b', 'ollama', '-m', 'm', '--max-tokens', '1e3', 'hi'],
      'llm',
      '--max-tokens needs a whole number, got "1e3"',
    ],
    [
      ['llm', '-b', 'ollama', '-m', 'm', '--temperature', 'warm', 'hi'],
      'llm',
      '--temperature needs a number, got "warm"',
    ],
    [['llm', '-b', 'ollama', '-m', 'm', '--temperature', ' ', 'hi'], 'llm', '--temperature needs a number, got " "'],
    [['llm', '-b', 'ollama', '-m', 'm', '--temperature=', 'hi'], 'llm', '--temperature needs a number, got ""'],
    [
      ['llm', '-b', 'ollama', '-m', 'm', '--temperature', 'Infinity'],
      'llm',
      '--temperature needs a number, got "Infinity"',
    ],
    [['llm', '-b', 'ollama', '-m', 'm', '--temperature', 'NaN'], 'llm', '--temperature needs a number, got "NaN"'],
    // status, cancel, help
    [['status', 'a', 'b'], 'status', 'unexpected "b"'],
    [['cancel', 'a', 'b', 'c'], 'cancel', 'unexpected "b"'],
    [['help', 'run', 'now'], 'help', 'unexpected "now"'],
    [['help', '--json'], 'help', 'unknown option --json'],
    // list
    [['list', '5'], 'list', 'unexpected "5"'],
    [['list', '--limit', '0'], 'list', '--limit must be from 1 to 1000'],
    [['list', '--limit', '1001'], 'list', '--limit must be from 1 to 1000'],
    [['list', '--limit', '-1'], 'list', '--limit needs a whole number, got "-1"'],
    [['list', '--limit', ''], 'list', '--limit needs a whole number, got ""'],
    [['list', '-n', 'ten'], 'list', '--limit needs a whole number, got "ten"'],
    [['list', '--limit', '1234567890'], 'list', '--limit needs a whole number, got "1234567890"'],
    [['list', '--limit', 'x'.repeat(30)], 'list', `--limit needs a whole number, got "${'x'.repeat(20)}…"`],
    [['list', '--kind', 'both'], 'list', '--kind must be pipeline, llm or chat'],
    [['list', '--kind', 'LLM'], 'list', '--kind must be pipeline, llm or chat'],
    [
      ['list', '--phase', 'soon'],
      'list',
      '--phase must be one of QUEUED, RUNNING, AWAITING_DECISION, DONE, FAILED, CANCELLED',
    ],
    // logs
    [['logs'], 'logs', 'a run id is needed'],
    [['logs', '-n', '5'], 'logs', 'a run id is needed'],
    [['logs', 'a', 'lint', 'more'], 'logs', 'unexpected "more"'],
    [['logs', 'a', 'Lint'], 'logs', '"Lint" is not a step name'],
    [['logs', 'a', '--lines', '0'], 'logs', '--lines must be from 1 to 10000'],
    [['logs', 'a', '-n', '10001'], 'logs', '--lines must be from 1 to 10000'],
    // decisions
    ...(['retry', 'skip', 'abort', 'approve', 'approve-all', 'deny'] as const).flatMap(
      (verb): [string[], string, string][] => [
        [[verb], verb, 'a run id is needed'],
        [[verb, 'a', 'b'], verb, 'unexpected "b"'],
      ],
    ),
    // schedule
    [['schedule'], 'schedule', 'say what to do with schedules'],
    [['schedule', 'list', 'all'], 'schedule', 'unexpected "all"'],
    [['schedule', 'stop', 'nightly'], 'schedule', 'unknown schedule action "stop"'],
    [['schedule', 'LIST'], 'schedule', 'unknown schedule action "LIST"'],
    [['schedule', 'pause'], 'schedule', 'schedule pause needs a schedule name'],
    [['schedule', 'create'], 'schedule', 'schedule create needs a schedule name'],
    [
      ['schedule', 'create', 'Nightly'],
      'schedule',
      '"Nightly" is not a schedule name (lower-case letters, digits, - and _)',
    ],
    [['schedule', 'delete', '-x'], 'schedule', 'unknown option -x'],
    [['schedule', 'delete', '_x'], 'schedule', '"_x" is not a schedule name (lower-case letters, digits, - and _)'],
    [['schedule', 'trigger', 'n', 'now'], 'schedule', 'unexpected "now"'],
    [['schedule', 'create', 'n'], 'schedule', '--cron is required, e.g. --cron "0 3 * * *"'],
    [['schedule', 'create', 'n', '--cron', '  '], 'schedule', '--cron is required, e.g. --cron "0 3 * * *"'],
    [['schedule', 'create', 'n', '--cron='], 'schedule', '--cron is required, e.g. --cron "0 3 * * *"'],
    [
      ['schedule', 'create', 'n', '--cron', '0 3 * * *; rm -rf /'],
      'schedule',
      '--cron "0 3 * * *; rm -rf /" is not a cron expression like "0 3 * * *"',
    ],
    [
      ['schedule', 'create', 'n', '--cron', '0 3 * * * * * *'],
      'schedule',
      '--cron "0 3 * * * * * *" is not a cron expression like "0 3 * * *"',
    ],
    [
      ['schedule', 'create', 'n', '--cron', '0 3 * * *', '--overlap', 'always'],
      'schedule',
      '--overlap must be skip or buffer',
    ],
    [
      ['schedule', 'create', 'n', '--cron', '0 3 * * *', '-s', 'Lint'],
      'schedule',
      '"Lint" is not a step name (e.g. build, bootstrap, doctor, lint, test)',
    ],
  ];

  test.each(SURFACES.flatMap((surface) => MISTAKES.map(([words, verb, message]) => [surface, words, verb, message])))(
    '%s: %j → %s: %s',
    (surface, words, verb, message) => {
      const err = usageError(() => parseCommand(words as string[], surface as Surface));
      const usage = usageOf(verb as string, surface as Surface);
      expect(err.message).toBe(`${message}; usage: ${usage}`);
      expect(err.usage).toBe(usage);
      expect(err.message).not.toMatch(/\n/);
    },
  );

  /** CLI-only verbs and options, same treatment. */
  test.each<[string[], string, string]>([
    [['models'], 'models', '--backend is required'],
    [['models', '-b', 'llama'], 'models', '--backend must be one of ollama, openai, anthropic, got "llama"'],
    [['up', 'now'], 'up', 'unexpected "now"'],
    [['models', '-b', 'ollama', 'all'], 'models', 'unexpected "all"'],
    [['doctor', '--fix'], 'doctor', 'unknown option --fix'],
    [['version', '--json'], 'version', 'unknown option --json'],
    [['run', '--follow=yes'], 'run', '--follow takes no value'],
    [['run', '--json=false'], 'run', '--json takes no value'],
    [['run', '--workspace'], 'run', '--workspace needs a value'],
    [['run', '--id', 'a', '--id', 'b'], 'run', '--id is given twice'],
  ])('cli: %j → %s: %s', (words, verb, message) => {
    const err = usageError(() => parseCommand(words, 'cli'));
    expect(err.message).toBe(`${message}; usage: ${usageOf(verb, 'cli')}`);
  });

  test.each<[Surface, string[], string]>([
    ['cli', ['frobnicate'], 'unknown command "frobnicate"; `poc help` lists the commands'],
    ['slack', ['frobnicate', 'now'], 'unknown command "frobnicate"; `!poc help` lists the commands'],
    ['cli', ['run\nnow'], 'unknown command "run\\nnow"; `poc help` lists the commands'],
    ['cli', ['x'.repeat(50)], `unknown command "${'x'.repeat(40)}…"; \`poc help\` lists the commands`],
    ['slack', ['-x'], 'unknown command "-x"; `!poc help` lists the commands'],
    ['cli', Array(201).fill('run'), `too many words (201); keep a command under 200; usage: ${usageOf('run', 'cli')}`],
    ['slack', Array(500).fill('x'), 'too many words (500); keep a command under 200; `!poc help` lists the commands'],
  ])('%s: %j → %s (no usage of its own)', (surface, words, message) => {
    const err = usageError(() => parseCommand(words, surface));
    expect(err.message).toBe(message);
    expect(err.usage).toBeUndefined();
  });

  test('200 words are still a command', () => {
    expect(parseCommand(['run', ...Array(199).fill('w')], 'cli')).toEqual({
      ...RUN,
      goal: Array(199).fill('w').join(' '),
    });
  });
});

describe('helpText', () => {
  test('the CLI lists every verb, names aligned', () => {
    expect(helpText('cli')).toBe(
      [
        'poc run          start a pipeline (steps default to build,bootstrap,doctor,lint,test)',
        'poc llm          send a prompt to an LLM and get the answer with its token usage',
        'poc chat         talk with an LLM that remembers the thread and may run steps you approve',
        "poc end          end a conversation (in Slack: this thread's)",
        'poc models       list the models a backend offers',
        'poc status       show a run (default: the newest)',
        'poc list         the newest runs with phase and goal',
        'poc logs         the end of a step log (default: the failed or last step)',
        'poc cancel       cancel a queued or running run (default: the newest)',
        'poc retry        run the failed step again (run started with --ask)',
        'poc skip         skip the failed step and go on',
        'poc abort        give up on a run awaiting a decision',
        'poc approve      let a gated step run',
        'poc approve-all  let every remaining gated step run',
        'poc deny         refuse a gated step (the run ends)',
        'poc schedule     pipelines on a timetable (Temporal Schedules)',
        'poc hosts        the build hosts: labels, slots in use, runs, last heartbeat',
        'poc help         this list',
        'poc up           dev server + worker + Slack bot (when its tokens are set), in one command',
        'poc server       only the embedded Temporal dev server',
        'poc worker       only a worker (TEMPORAL_ADDRESS says where the server is)',
        'poc bot          only the Slack bot',
        'poc doctor       check Temporal CLI, server, Docker engine and Compose',
        'poc version      print the version',
        'poc cluster      a production-shaped Temporal here: PostgreSQL, frontend/history/matching/worker, mTLS, ' +
          'Web UI (--env prints only the exports, --wipe with down deletes its data)',
      ].join('\n'),
    );
  });

  test('Slack lists only its verbs, with its prefix', () => {
    expect(helpText('slack')).toBe(
      [
        '!poc run          start a pipeline (steps default to build,bootstrap,doctor,lint,test)',
        '!poc llm          send a prompt to an LLM and get the answer with its token usage',
        '!poc chat         talk with an LLM that remembers the thread and may run steps you approve',
        "!poc end          end a conversation (in Slack: this thread's)",
        '!poc status       show a run (default: the newest)',
        '!poc list         the newest runs with phase and goal',
        '!poc logs         the end of a step log (default: the failed or last step)',
        '!poc cancel       cancel a queued or running run (default: the newest)',
        '!poc retry        run the failed step again (run started with --ask)',
        '!poc skip         skip the failed step and go on',
        '!poc abort        give up on a run awaiting a decision',
        '!poc approve      let a gated step run',
        '!poc approve-all  let every remaining gated step run',
        '!poc deny         refuse a gated step (the run ends)',
        '!poc schedule     pipelines on a timetable (Temporal Schedules)',
        '!poc hosts        the build hosts: labels, slots in use, runs, last heartbeat',
        '!poc help         this list',
      ].join('\n'),
    );
  });

  test.each(
    SURFACES.flatMap((surface) =>
      Object.keys(COMMANDS)
        .filter((verb) => surface === 'cli' || !CLI_ONLY.includes(verb))
        .map((verb) => [surface, verb]),
    ),
  )('%s: help %s is its usage and summary', (surface, verb) => {
    const summary = helpText(surface as Surface)
      .split('\n')
      .find((line) => line.split(/\s+/)[1] === verb)
      ?.replace(/^\S+ \S+\s+/, '');
    expect(helpText(surface as Surface, verb)).toBe(`${usageOf(verb, surface as Surface)}\n  ${summary}`);
  });

  test.each<[Surface, string, string]>([
    ...CLI_ONLY.map((verb): [Surface, string, string] => [
      'slack',
      verb,
      `no command "${verb}"; \`!poc help\` lists them`,
    ]),
    ['cli', 'nope', 'no command "nope"; `poc help` lists them'],
    ['slack', 'nope', 'no command "nope"; `!poc help` lists them'],
    ['cli', 'RUN', 'no command "RUN"; `poc help` lists them'],
    ['cli', 'y'.repeat(41), `no command "${'y'.repeat(40)}…"; \`poc help\` lists them`],
  ])('%s: help %s → %s', (surface, topic, message) => {
    const err = usageError(() => helpText(surface, topic));
    expect(err.message).toBe(message);
    expect(err.usage).toBeUndefined();
  });
});

describe('shown', () => {
  test.each<[string, number | undefined, string]>([
    ['abc', undefined, '"abc"'],
    ['x'.repeat(40), undefined, `"${'x'.repeat(40)}"`],
    ['x'.repeat(41), undefined, `"${'x'.repeat(40)}…"`],
    ['abcdef', 3, '"abc…"'],
    ['abc', 3, '"abc"'],
    ['', undefined, '""'],
    ['line\nbreak\t"q" \\', undefined, '"line\\nbreak\\t\\"q\\" \\\\"'],
    ['\u0000\u001b[31m', undefined, '"\\u0000\\u001b[31m"'],
  ])('%j (max %s) → %s', (text, max, expected) => {
    expect(shown(text, max)).toBe(expected);
  });

  test('UsageError: the usage is appended to the message only when there is one', () => {
    const withUsage = new UsageError('bad', 'poc x');
    expect([withUsage.message, withUsage.usage, withUsage.name]).toEqual(['bad; usage: poc x', 'poc x', 'UsageError']);
    expect(withUsage).toBeInstanceOf(Error);
    const without = new UsageError('bad');
    expect([without.message, without.usage]).toEqual(['bad', undefined]);
  });
});
