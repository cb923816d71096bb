/** Pure parts of the Slack bot: escaping, unescaping, Block Kit within Slack's limits, parsing. */
import { describe, test } from '@jest/globals';
import fs from 'node:fs';
import assert from 'node:assert/strict';
import type { LlmStatus, PipelineStatus, StepState } from '../../core/contract.js';
import {
  ACTION_IDS,
  SLACK_LIMITS,
  buttonActionOf,
  buttonValue,
  parseButtonValue,
  renderHosts,
  renderLog,
  renderRunList,
  renderRunStatus,
  renderStepFailure,
  type Block,
  type SlackMessage,
} from '../../render/slack.js';
import { codeBlock, cut, cutStart, escapeMrkdwn, mrkdwn, unescapeSlack, who } from '../../render/slack-text.js';
import { errorReply } from '../../slack/commands.js';
import { approvalAnswerOf, commandTextOf, parseSlackCommand } from '../../slack/parse.js';
import { slackAccess } from '../../slack/auth.js';
import { ConfigError, loadConfig } from '../../core/config.js';
import { SlackBotConfigError, slackBotSettings } from '../../slack/app.js';
import { UsageError } from '../../client/grammar.js';

const noRedact = (text: string) => text;

function step(name: string, over: Partial<StepState> = {}): StepState {
  return {
    name,
    status: 'pending',
    exitCode: null,
    attempt: 0,
    startedAt: null,
    finishedAt: null,
    logPath: null,
    durationMs: null,
    logTail: null,
    command: null,
    ...over,
  };
}

function pipeline(over: Partial<PipelineStatus> = {}): PipelineStatus {
  return {
    id: 'pipeline-abc12345',
    kind: 'pipeline',
    phase: 'RUNNING',
    goal: 'nightly',
    requestedBy: 'U0ALICE',
    queuePosition: null,
    steps: [
      step('build', { status: 'done', exitCode: 0, attempt: 1, durationMs: 1200 }),
      step('lint', { status: 'running', attempt: 1, command: 'runner/scripts/lint.sh' }),
      step('test'),
    ],
    error: null,
    workspace: '/ws',
    onFailure: 'fail',
    pendingDecision: null,
    decisions: [],
    startedAt: '2026-01-01T10:00:00.000Z',
    finishedAt: null,
    slackMessage: null,
    ...over,
  };
}

function llm(over: Partial<LlmStatus> = {}): LlmStatus {
  return {
    id: 'llm-abc12345',
    kind: 'llm',
    phase: 'RUNNING',
    backend: 'openai',
    model: 'gpt-4o-mini',
    prompt: 'why?',
    requestedBy: 'U0ALICE',
    attempt: 1,
    partialText: '',
    result: null,
    error: null,
    startedAt: '2026-01-01T10:00:00.000Z',
    finishedAt: null,
    slackMessage: null,
    ...over,
  };
}

const buttons = (m: SlackMessage) => (m.blocks ?? []).flatMap((b) => (b.type === 'actions' ? b.elements : []));
const actionIds = (m: SlackMessage) => buttons(m).map((e) => e.action_id);
const allText = (m: SlackMessage) =>
  [
    m.text,
    ...(m.blocks ?? []).map((b) =>
      b.type === 'section' ? b.text.text : b.type === 'context' ? b.elements.map((e) => e.text).join(' ') : '',
    ),
  ].join('\n');

/** What Slack would refuse: the same checks as the fake server's. */
function assertWithinLimits(m: SlackMessage): void {
  assert.ok(m.text.length <= SLACK_LIMITS.text, `text ${m.text.length}`);
  const blocks: Block[] = m.blocks ?? [];
  assert.ok(blocks.length <= SLACK_LIMITS.blocks, `${blocks.length} blocks`);
  for (const b of blocks) {
    if (b.type === 'section')
      assert.ok(
        b.text.text.length > 0 && b.text.text.length <= SLACK_LIMITS.sectionText,
        `section of ${b.text.text.length}`,
      );
    if (b.type === 'context') for (const e of b.elements) assert.ok(e.text.length <= SLACK_LIMITS.sectionText);
    if (b.type === 'actions')
      for (const e of b.elements)
        assert.ok(e.text.text.length <= SLACK_LIMITS.buttonText && (e.value ?? '').length <= SLACK_LIMITS.buttonValue);
  }
  assert.doesNotThrow(() => JSON.parse(JSON.stringify(m)));
}

describe('Slack text', () => {
  test('escapes only &, < and >', () => {
    assert.equal(escapeMrkdwn('a & <b> > *c* _d_ `e` <!here>'), 'a &amp; &lt;b&gt; &gt; *c* _d_ `e` &lt;!here&gt;');
  });

  test('unescapes what Slack sends: entities, links, mentions, channels, special mentions', () => {
    assert.equal(unescapeSlack('&lt;script&gt; &amp;amp; x'), '<script> &amp; x');
    assert.equal(
      unescapeSlack('see <http://x.example/a?b=1&amp;c=2|the docs> now'),
      'see http://x.example/a?b=1&c=2 now',
    );
    assert.equal(unescapeSlack('<https://x.example>'), 'https://x.example');
    assert.equal(unescapeSlack('<mailto:a@b.example|a@b.example>'), 'mailto:a@b.example');
    assert.equal(unescapeSlack('for <@U123ABC> and <@U9|bob>'), 'for @U123ABC and @bob');
    assert.equal(unescapeSlack('in <#C0123|general> and <#C0456>'), 'in #general and #C0456');
    assert.equal(
      unescapeSlack('<!here> <!channel> <!subteam^S1|@devs> <!date^1700000000^{date}|Nov 14>'),
      '@here @channel @devs Nov 14',
    );
  });

  test('unescaping undoes escaping for any text', () => {
    for (const text of [
      'plain',
      'a < b && c > d',
      '&lt; literally',
      '&amp;amp;',
      '<@U1> is not a mention here',
      '"quotes" & \'more\'',
      '😀 <>&',
    ]) {
      assert.equal(unescapeSlack(escapeMrkdwn(text)), text);
    }
  });

  test('cutting never splits an entity or a surrogate pair and marks the cut', () => {
    const cutEntities = mrkdwn('&'.repeat(100), 12);
    assert.ok(cutEntities.length <= 12);
    assert.match(cutEntities, /^(&amp;)+…$/);
    assert.equal(mrkdwn('short', 12), 'short');
    const emoji = cut('😀'.repeat(5), 4);
    assert.ok(!/[\ud800-\udbff](?![\udc00-\udfff])/.test(emoji), 'no lone high surrogate');
    assert.ok(emoji.endsWith('…') && emoji.length <= 4);
    assert.equal(cutStart('abcdef', 4), '…def');
  });

  test('a code block keeps the end of a log, escaped, with fences in the text defused', () => {
    const log = [
      'first line',
      ...Array.from({ length: 500 }, (_, i) => `line ${i} <tag> & \`\`\` fence`),
      'last line',
    ].join('\n');
    const block = codeBlock(log, 3_000);
    assert.ok(block.length <= 3_000);
    assert.ok(block.startsWith('```\n…') && block.endsWith('last line\n```'));
    assert.equal(block.match(/```/g)?.length, 2, 'only the two fences of the block');
    assert.match(block, /&lt;tag&gt; &amp;/);
    assert.doesNotMatch(block, /first line/);
  });

  test('people are mentioned by id, anything else is escaped', () => {
    assert.equal(who('U0ALICE'), '<@U0ALICE>');
    assert.equal(who('cli:alice<script>'), 'cli:alice&lt;script&gt;');
    assert.equal(who(null), 'someone');
  });
});

describe('status message', () => {
  const runUrl = 'http://127.0.0.1:8233/namespaces/default/workflows/pipeline-abc12345';

  test('while running: each step with emoji, duration, exit code; Cancel and the Web UI link', () => {
    const m = renderRunStatus(pipeline(), { runUrl, redact: noRedact });
    const text = allText(m);
    assert.match(text, /:arrows_counterclockwise: \*Pipeline `pipeline-abc12345`\* — \*RUNNING\*/);
    assert.match(text, /:white_check_mark: \*build\* · 1\.2 s · exit 0/);
    assert.match(text, /:arrows_counterclockwise: \*lint\* · running · `runner\/scripts\/lint\.sh`/);
    assert.match(text, /:white_circle: \*test\* · pending/);
    assert.match(text, /requested by <@U0ALICE>/);
    assert.deepEqual(actionIds(m), [ACTION_IDS.cancel, ACTION_IDS.openRun]);
    const [cancel, link] = buttons(m);
    assert.deepEqual(parseButtonValue(cancel.value), { workflowId: 'pipeline-abc12345' });
    assert.equal(link.url, runUrl);
    assertWithinLimits(m);
  });

  test('queued: the queue position', () => {
    const m = renderRunStatus(pipeline({ phase: 'QUEUED', queuePosition: 2, steps: [step('lint')] }), {
      redact: noRedact,
    });
    assert.match(allText(m), /— \*QUEUED\*[\s\S]*Waiting for the workspace: \*2\* runs ahead/);
    assert.deepEqual(actionIds(m), [ACTION_IDS.cancel]);
  });

  test('on a fleet: the host, the repository and commit, every move, and why a queued run waits', () => {
    const moved = renderRunStatus(
      pipeline({
        host: 'b2',
        repo: 'https://git.example.com/team/app.git',
        ref: 'main',
        commit: '4f2c1e0a9b8d7c6e5f4a3b2c1d0e9f8a7b6c5d4e',
        hostMoves: [{ from: 'b1', to: 'b2', at: '2026-01-01T10:01:00.000Z', reason: 'b1 stopped answering' }],
      }),
      { redact: noRedact },
    );
    const text = allText(moved);
    assert.match(text, /on host \*b2\*/);
    assert.match(text, /`https:\/\/git\.example\.com\/team\/app\.git` @ `main`/);
    assert.match(text, /commit `4f2c1e0a9b8d`/);
    assert.match(text, /:twisted_rightwards_arrows: moved from b1 to b2: b1 stopped answering/);
    assertWithinLimits(moved);
    const waiting = renderRunStatus(
      pipeline({
        phase: 'QUEUED',
        queuePosition: 1,
        queueReason: 'no host that is up has label gpu <b>',
        steps: [step('lint')],
      }),
      { redact: noRedact },
    );
    assert.match(
      allText(waiting),
      /Waiting for a host: no host that is up has label gpu &lt;b&gt; \(\*1\* run ahead\)/,
    );
    const hosts = renderHosts(
      [
        {
          name: 'b1',
          labels: ['gpu'],
          slots: 2,
          running: ['pipeline-a'],
          lastSeen: '2026-01-01T10:00:55.000Z',
          state: 'up',
          queue: 'poc@b1',
          problem: null,
        },
        {
          name: 'b2',
          labels: [],
          slots: 1,
          running: [],
          lastSeen: '2026-01-01T09:00:00.000Z',
          state: 'lost',
          queue: 'poc@b2',
          problem: 'b2 stopped answering',
        },
      ],
      Date.parse('2026-01-01T10:01:00.000Z'),
    );
    const table = allText(hosts);
    assert.match(table, /\*Build hosts\* — 1 of 2 up/);
    assert.match(table, /^HOST {2}STATE {2}SLOTS {2}LABELS {2}LAST SEEN {2}RUNS$/m);
    assert.match(table, /^b1 {4}up {5}1\/2 {4}gpu {5}5s ago {5}pipeline-a$/m);
    assert.match(table, /^b2 {4}lost {3}0\/1 {4}- {7}61m ago {4}-$/m);
    assert.match(table, /• \*b2\*: b2 stopped answering/);
    assertWithinLimits(hosts);
  });

  test(
    'a failure decision: Retry / Skip / Abort carrying the question id; ' + 'an approval: Approve / Approve all / Deny',
    () => {
      const failure = renderRunStatus(
        pipeline({
          phase: 'AWAITING_DECISION',
          steps: [step('lint', { status: 'failed', exitCode: 2, attempt: 1, durationMs: 40 })],
          pendingDecision: {
            id: 'failure-lint-1-0',
            kind: 'failure',
            step: 'lint',
            options: ['retry', 'skip', 'abort'],
            deadline: '2026-01-01T10:10:00.000Z',
          },
        }),
        { runUrl, redact: noRedact },
      );
      assert.deepEqual(actionIds(failure), ['poc_retry', 'poc_skip', 'poc_abort', 'poc_open_run']);
      const values = buttons(failure)
        .slice(0, 3)
        .map((e) => parseButtonValue(e.value));
      assert.deepEqual(values, Array(3).fill({ workflowId: 'pipeline-abc12345', decisionId: 'failure-lint-1-0' }));
      assert.match(
        allText(failure),
        new RegExp(
          String.raw`\*lint\* failed\. Retry it, skip it, or abort the run\? ` +
            String.raw`No answer by <!date\^\d+\^\{time\}\|2026-01-01 10:10 UTC> counts as abort`,
        ),
      );

      const approval = renderRunStatus(
        pipeline({
          phase: 'AWAITING_DECISION',
          pendingDecision: {
            id: 'approval-test-0-0',
            kind: 'approval',
            step: 'test',
            options: ['approve', 'approveAll', 'deny'],
            deadline: '2026-01-01T10:10:00.000Z',
          },
        }),
        { redact: noRedact },
      );
      assert.deepEqual(actionIds(approval), ['poc_approve', 'poc_approve_all', 'poc_deny']);
      assert.match(allText(approval), /A \*yes\* or \*no\* reply in this thread works too/);
    },
  );

  test('final phases and status copies have no action buttons; decisions say who decided', () => {
    for (const phase of ['DONE', 'FAILED', 'CANCELLED'] as const) {
      const m = renderRunStatus(pipeline({ phase, finishedAt: '2026-01-01T10:01:05.000Z' }), {
        runUrl,
        redact: noRedact,
      });
      assert.deepEqual(actionIds(m), [ACTION_IDS.openRun], phase);
      assert.match(allText(m), /took 1 min 5 s/);
    }
    assert.deepEqual(actionIds(renderRunStatus(pipeline(), { runUrl, interactive: false })), [ACTION_IDS.openRun]);
    const decided = renderRunStatus(
      pipeline({
        phase: 'DONE',
        decisions: [
          { id: 'a', step: 'lint', action: 'retry', by: 'U0BOB', at: '' },
          { id: 'b', step: 'test', action: 'deny', by: 'timeout', at: '' },
          { id: 'c', step: 'e2e', action: 'skip', by: 'cli:carol', at: '' },
        ],
      }),
      { redact: noRedact },
    );
    const text = allText(decided);
    assert.match(text, /\*lint\*: retried by <@U0BOB>/);
    assert.match(text, /\*test\*: denied \(no answer in time\)/);
    assert.match(text, /\*e2e\*: skipped by cli:carol/);
  });

  test('user text is escaped and secrets redacted', () => {
    const m = renderRunStatus(
      pipeline({ goal: '<!channel> & <@U0BOSS> xoxb-1234567890-abcdefghij', error: 'boom <b>' }),
    );
    const text = allText(m);
    assert.match(text, /\*Goal:\* &lt;!channel&gt; &amp; &lt;@U0BOSS&gt; \[redacted:slack-token\]/);
    assert.doesNotMatch(text, /<!channel>|<@U0BOSS>|xoxb-1234567890/);
    assert.match(text, /:warning: boom &lt;b&gt;/);
  });

  test('huge runs stay within Slack limits', () => {
    const m = renderRunStatus(
      pipeline({
        goal: 'g'.repeat(5_000),
        steps: Array.from({ length: 30 }, (_, i) =>
          step(`step-${'x'.repeat(30)}-${i}`, { status: 'running', attempt: 9, command: 'c'.repeat(2_000) }),
        ),
        error: '<'.repeat(100_000),
        decisions: Array.from({ length: 500 }, (_, i) => ({
          id: `${i}`,
          step: 's'.repeat(40),
          action: 'retry' as const,
          by: 'U0BOB',
          at: '',
        })),
      }),
      { runUrl: `http://x/${'u'.repeat(100)}` },
    );
    assertWithinLimits(m);
    assert.match(allText(m), /…490 earlier decision\(s\)/);

    const answer = Array.from({ length: 4_000 }, (_, i) => `line ${i} & <more>`).join('\n');
    const l = renderRunStatus(
      llm({
        phase: 'DONE',
        result: {
          text: answer,
          backend: 'openai',
          model: 'gpt-4o-mini',
          usage: { inputTokens: 12, outputTokens: 34_000 },
          finishReason: 'length',
          latencyMs: 65_000,
          attempts: 2,
        },
      }),
    );
    assertWithinLimits(l);
    assert.match(allText(l), /answer cut here \(\d+ more characters\)/);
    assert.match(allText(l), /tokens in 12 · out 34000 · 1 min 5 s · finish: length · attempt 2/);
  });

  test('LLM: backend, model, the quoted prompt and the answer; Cancel while it runs', () => {
    const running = renderRunStatus(llm({ prompt: 'line one\nline <two>' }), { redact: noRedact });
    assert.match(
      allText(running),
      /\*Backend:\* openai · \*model:\* `gpt-4o-mini`\n\*Prompt:\*\n>line one\n>line &lt;two&gt;/,
    );
    assert.match(allText(running), /_thinking…_/);
    assert.deepEqual(actionIds(running), [ACTION_IDS.cancel]);
    const done = renderRunStatus(
      llm({
        phase: 'DONE',
        result: {
          text: '42 & more',
          backend: 'openai',
          model: 'gpt-4o-mini',
          usage: { inputTokens: 3, outputTokens: 4 },
          finishReason: 'stop',
          latencyMs: 800,
          attempts: 1,
        },
      }),
      { redact: noRedact },
    );
    assert.match(allText(done), /\*Answer:\*\n42 &amp; more/);
    assert.deepEqual(actionIds(done), []);
  });

  test('failure notices, log replies and run lists', () => {
    const notice = renderStepFailure(
      {
        step: 'lint',
        attempt: 2,
        why: 'failed with exit code 2',
        logTail: 'error: <bad> & worse',
        logPath: '/jobs/p/logs/lint.log',
      },
      { redact: noRedact },
    );
    assert.match(
      allText(notice),
      /:x: \*lint\* failed with exit code 2 \(attempt 2\)\nLog: `\/jobs\/p\/logs\/lint\.log`/,
    );
    assert.match(allText(notice), /```\nerror: &lt;bad&gt; &amp; worse\n```/);
    assertWithinLimits(notice);
    assert.match(
      allText(renderStepFailure({ step: 'x', attempt: 1, why: 'timed out after 5 s', logTail: '', logPath: '' })),
      /wrote no output/,
    );

    const log = renderLog(
      { workflowId: 'pipeline-a', step: 'test', path: '/l/test.log', text: 'ok <1>', source: 'file' },
      { redact: noRedact },
    );
    assert.match(allText(log), /\*test\* of `pipeline-a` — end of the log/);
    assert.match(allText(log), /```\nok &lt;1&gt;\n```/);

    const list = renderRunList(
      [
        {
          workflowId: 'pipeline-a',
          phase: 'FAILED',
          title: 't'.repeat(100),
          requestedBy: 'U0BOB',
          startTime: new Date('2026-01-01T10:00:00Z'),
        },
      ],
      { redact: noRedact },
    );
    assert.match(allText(list), /:x: `pipeline-a` FAILED — t{59}… · <@U0BOB>/);
    assert.match(renderRunList([]).text, /No runs yet/);
  });

  test('button values: only well-formed ones are accepted', () => {
    assert.deepEqual(parseButtonValue(buttonValue('pipeline-a', 'failure-x-1-0')), {
      workflowId: 'pipeline-a',
      decisionId: 'failure-x-1-0',
    });
    for (const junk of [
      undefined,
      42,
      '',
      'not json',
      '{"w":1}',
      '{"w":"a b"}',
      JSON.stringify({ w: 'x'.repeat(300) }),
      JSON.stringify({ w: 'ok', d: 7 }),
      'x'.repeat(3000),
    ]) {
      assert.equal(parseButtonValue(junk), undefined, String(junk).slice(0, 40));
    }
    assert.equal(buttonActionOf('poc_approve_all'), 'approveAll');
    assert.equal(buttonActionOf('poc_cancel'), 'cancel');
    assert.equal(buttonActionOf('poc_open_run'), undefined);
    assert.equal(buttonActionOf('something_else'), undefined);
  });
});

describe('Slack commands', () => {
  test('the command text of a message: the !poc prefix (any case), mentions, direct messages', () => {
    assert.equal(commandTextOf('!poc run x'), 'run x');
    assert.equal(commandTextOf('  !POC   status  '), 'status');
    assert.equal(commandTextOf('!poc'), '');
    assert.equal(commandTextOf('!pocket run'), undefined);
    assert.equal(commandTextOf('let us !poc run'), undefined);
    assert.equal(commandTextOf('hello'), undefined);
    assert.equal(commandTextOf('!poc run a &lt;b&gt; &amp; c'), 'run a <b> & c');
    assert.equal(commandTextOf('<@U0BOT> run now', { botUserId: 'U0BOT', mention: true }), 'run now');
    assert.equal(commandTextOf('<@U0BOT|poc> !poc list', { botUserId: 'U0BOT', mention: true }), 'list');
    assert.equal(commandTextOf('status', { direct: true }), 'status');
  });

  test('approval replies are whole messages', () => {
    for (const yes of ['yes', 'OK', 'Approve!', ' ok. ']) assert.equal(approvalAnswerOf(yes), 'approve', yes);
    for (const no of ['no', 'DENY', 'stop!']) assert.equal(approvalAnswerOf(no), 'deny', no);
    for (const other of ['yes please', 'okay', 'no way', 'not ok', ''])
      assert.equal(approvalAnswerOf(other), undefined, other);
  });

  test('the one grammar, with what Slack clients do to dashes and quotes', () => {
    assert.deepEqual(parseSlackCommand('run \u201cmy goal\u201d \u2014steps lint,test --ask'), {
      name: 'run',
      goal: 'my goal',
      steps: ['lint', 'test'],
      ask: true,
      approve: undefined,
      follow: false,
      workspace: undefined,
      id: undefined,
      json: false,
    });
    assert.throws(() => parseSlackCommand('run --workspace /etc'), /unknown option --workspace/);
    assert.throws(() => parseSlackCommand('worker'), /unknown command "worker"/);
  });

  test("errors become replies that say what was wrong, in the surface's own form", () => {
    const usage = new UsageError('--steps needs a value', '!poc run [goal] [--steps a,b]');
    assert.equal(
      errorReply(usage, { source: 'message' }, noRedact).text,
      ':warning: --steps needs a value\nUsage: `!poc run [goal] [--steps a,b]`',
    );
    assert.equal(
      errorReply(usage, { source: 'slash' }, noRedact).text,
      ':warning: --steps needs a value\nUsage: `/poc run [goal] [--steps a,b]`',
    );
    assert.match(
      errorReply(new Error('14 UNAVAILABLE: connect ECONNREFUSED'), { source: 'message' }, noRedact).text,
      /Temporal is not reachable/,
    );
    assert.match(
      errorReply(new Error('<script> xoxb-1234567890-abcdefghij'), { source: 'message' }, (t) =>
        t.replace(/xoxb-\S+/, '[redacted]'),
      ).text,
      /&lt;script&gt; \[redacted\]/,
    );
  });

  test('allow-lists: unset means everyone; users and channels both apply', () => {
    const accessFromEnv = (env: NodeJS.ProcessEnv) => slackAccess(loadConfig(env).slack);
    assert.ok(accessFromEnv({}).allows('U1', 'C1'));
    const users = accessFromEnv({ POC_ALLOWED_USERS: ' U1, U2 ,' });
    assert.ok(users.allows('U2', 'C9'));
    assert.ok(!users.allows('U3', 'C9'));
    const both = accessFromEnv({ POC_ALLOWED_USERS: 'U1', POC_ALLOWED_CHANNELS: 'C1' });
    assert.ok(both.allows('U1', 'C1'));
    assert.ok(!both.allows('U1', 'C2'));
    assert.ok(!both.allows('U2', 'C1'));
  });

  test('bot settings: Socket Mode by default, HTTP with a signing secret, every problem listed', () => {
    const slackBotSettingsOf = (env: NodeJS.ProcessEnv) => slackBotSettings(loadConfig(env).slack);
    assert.equal(
      slackBotSettingsOf({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1', SLACK_SIGNING_SECRET: 's' }).mode,
      'socket',
    );
    const http = slackBotSettingsOf({
      SLACK_BOT_TOKEN: 'xoxb-1',
      SLACK_SIGNING_SECRET: 's',
      POC_SLACK_PORT: '3100',
      SLACK_API_URL: 'http://127.0.0.1:9/api',
    });
    assert.deepEqual([http.mode, http.port, http.apiUrl], ['http', 3100, 'http://127.0.0.1:9/api/']);
    assert.throws(
      () =>
        slackBotSettingsOf({
          SLACK_BOT_TOKEN: 'xapp-swapped',
          SLACK_APP_TOKEN: 'xoxb-swapped',
        }),
      (err: unknown) => err instanceof SlackBotConfigError && err.problems.length === 2,
    );
    // A port that is not one is the config reader's: one line naming the variable.
    assert.throws(
      () => slackBotSettingsOf({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's', POC_SLACK_PORT: 'eighty' }),
      (err: unknown) => err instanceof ConfigError && /^POC_SLACK_PORT=eighty is not a port number/.test(err.message),
    );
  });
});

test('the app manifest asks for what the bot uses: scopes, events, /poc, interactivity, Socket Mode', () => {
  const manifest = fs.readFileSync(new URL('../../slack/manifest.yml', import.meta.url), 'utf8');
  for (const scope of [
    'chat:write',
    'commands',
    'app_mentions:read',
    'channels:history',
    'groups:history',
    'im:history',
  ]) {
    assert.match(manifest, new RegExp(`^\\s+- ${scope}$`, 'm'), scope);
  }
  for (const event of ['app_mention', 'message.channels', 'message.groups', 'message.im'])
    assert.match(manifest, new RegExp(`^\\s+- ${event}$`, 'm'), event);
  assert.match(manifest, /^\s+- command: \/poc$/m);
  assert.match(manifest, /^\s+should_escape: true$/m, 'mentions and links arrive as <@U…>, which the bot unescapes');
  assert.match(manifest, /interactivity:\n\s+is_enabled: true/);
  assert.match(manifest, /^\s+socket_mode_enabled: true$/m);
});
