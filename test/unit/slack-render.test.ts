/** Pure parts of the Slack bot: escaping, unescaping, Block Kit within Slack's limits, parsing. */
import { describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import assert from 'node:assert/strict';
import type { LlmStatus, PendingDecision, PipelineStatus, StepState } from '../../core/contract.js';
import {
  ACTION_IDS,
  SLACK_LIMITS,
  buttonActionOf,
  buttonValue,
  fitBlocks,
  isFinal,
  notice,
  parseButtonValue,
  preformatted,
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
import { APPROVAL_WORDS, approvalAnswerOf, commandTextOf, parseSlackCommand } from '../../slack/parse.js';
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

  test("a running step's newest output line, redacted; a refused decide signal with its reason", () => {
    const secret = 'xoxb-123456789012-abcdefabcdef';
    const m = renderRunStatus(
      pipeline({
        steps: [step('lint', { status: 'running', attempt: 1, lastLine: `npm ERR! token ${secret}` })],
        lastRefusedDecision: { action: 'retry', by: 'U0BOB', reason: 'not awaiting a decision', at: '' },
      }),
      { runUrl, redact: (text) => text.split(secret).join('[redacted]') },
    );
    const text = allText(m);
    assert.match(text, /\*lint\* · running\n\s+↳ `npm ERR! token \[redacted\]`/);
    assert.ok(!text.includes(secret));
    assert.match(text, /:no_entry: "retry" from <@U0BOB> was refused: not awaiting a decision/);
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
    for (const yes of ['yes', 'OK', 'Approve', ' ok ']) assert.equal(approvalAnswerOf(yes), 'approve', yes);
    for (const no of ['no', 'DENY', 'stop']) assert.equal(approvalAnswerOf(no), 'deny', no);
    for (const other of ['yes please', 'okay', 'no way', 'not ok', '', 'yes!', 'ok.', 'no?', 'y e s'])
      assert.equal(approvalAnswerOf(other), undefined, other);
  });

  test("the original's approval words, exactly: yes y approve ok go / no n deny reject stop", () => {
    assert.deepEqual([...APPROVAL_WORDS.approve].sort(), ['approve', 'go', 'ok', 'y', 'yes']);
    assert.deepEqual([...APPROVAL_WORDS.deny].sort(), ['deny', 'n', 'no', 'reject', 'stop']);
    for (const yes of ['y', 'Go', 'GO']) assert.equal(approvalAnswerOf(yes), 'approve', yes);
    for (const no of ['n', 'Reject', 'N']) assert.equal(approvalAnswerOf(no), 'deny', no);
    for (const other of ['go ahead', 'Go!', 'Reject.', 'yep', 'nope', 'rejected', 'g'])
      assert.equal(approvalAnswerOf(other), undefined);
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

describe('Slack limits', () => {
  const sectionOf = (i: number): Block => ({ type: 'section', text: { type: 'mrkdwn', text: `s${i}` } });
  const actionsBlock: Block = { type: 'actions', block_id: 'poc_run_actions', elements: [] };

  test('50 blocks or fewer are kept as they are', () => {
    const blocks = Array.from({ length: 50 }, (_, i) => sectionOf(i));
    expect(fitBlocks(blocks)).toBe(blocks);
  });

  test('more than 50: the first ones, a note of how many are hidden, and the buttons last', () => {
    const fitted = fitBlocks([...Array.from({ length: 60 }, (_, i) => sectionOf(i)), actionsBlock]);
    expect(fitted).toHaveLength(50);
    expect(fitted.slice(0, 48)).toEqual(Array.from({ length: 48 }, (_, i) => sectionOf(i)));
    expect(fitted[48]).toEqual({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: '…12 more block(s) not shown' }],
    });
    expect(fitted[49]).toBe(actionsBlock);
  });

  test('more than 50 without buttons: the note comes last', () => {
    const fitted = fitBlocks(Array.from({ length: 51 }, (_, i) => sectionOf(i)));
    expect(fitted).toHaveLength(50);
    expect(fitted[48]).toEqual(sectionOf(48));
    expect(fitted[49]).toEqual({ type: 'context', elements: [{ type: 'mrkdwn', text: '…2 more block(s) not shown' }] });
  });

  test('a section is cut at 3000 characters and the notification text at 40000, marked with …', () => {
    const long = notice('n'.repeat(50_000));
    expect(long.text).toBe(`${'n'.repeat(39_999)}…`);
    const [section] = long.blocks ?? [];
    expect(section).toEqual({ type: 'section', text: { type: 'mrkdwn', text: `${'n'.repeat(2_999)}…` } });
    expect(notice('exactly').blocks).toEqual([{ type: 'section', text: { type: 'mrkdwn', text: 'exactly' } }]);
  });

  test('a long list is packed into sections at line ends, at most 10, the last saying how much is hidden', () => {
    const runs = Array.from({ length: 1_000 }, (_, i) => ({
      workflowId: `pipeline-${String(i).padStart(4, '0')}`,
      phase: 'DONE',
      title: 'nightly build',
      requestedBy: 'U0BOB',
      startTime: new Date('2026-01-01T10:00:00Z'),
    }));
    const m = renderRunList(runs, { redact: noRedact });
    const texts = (m.blocks ?? []).map((b) => (b.type === 'section' ? b.text.text : ''));
    expect(m.text).toBe('The newest 1000 run(s)');
    expect(texts[0]).toBe('*The newest 1000 runs*, newest first');
    const line = texts[1].split('\n')[0];
    expect(line).toBe(
      ':white_check_mark: `pipeline-0000` DONE — nightly build · <@U0BOB> · ' +
        '<!date^1767261600^{date_short_pretty} {time}|2026-01-01 10:00 UTC>',
    );
    const perSection = Math.floor((SLACK_LIMITS.sectionText + 1) / (line.length + 1));
    const sections = Math.ceil(1_000 / perSection);
    expect(texts).toHaveLength(11);
    for (const text of texts.slice(1, 10)) expect(text.split('\n')).toHaveLength(perSection);
    expect(texts[10]).toBe(`_…and ${sections - 9} more part(s), not shown_`);
    assertWithinLimits(m);
  });

  test('an answer is split at line ends; an entity or a surrogate pair is never split', () => {
    const answerOf = (text: string) => {
      const m = renderRunStatus(
        llm({
          phase: 'DONE',
          result: {
            text,
            backend: 'openai',
            model: 'm',
            usage: { inputTokens: 1, outputTokens: 1 },
            finishReason: 'stop',
            latencyMs: 1,
            attempts: 1,
          },
        }),
        { redact: noRedact },
      );
      return (m.blocks ?? []).slice(1, -1).flatMap((b) => (b.type === 'section' ? [b.text.text] : []));
    };
    const lines = Array.from({ length: 60 }, (_, i) => `${String(i).padStart(2, '0')} ${'w'.repeat(96)}`);
    // 100 characters a line: 29 lines fit in the 2900 characters of a part.
    expect(answerOf(lines.join('\n'))).toEqual([
      `*Answer:*\n${lines.slice(0, 29).join('\n')}`,
      lines.slice(29, 58).join('\n'),
      lines.slice(58).join('\n'),
    ]);

    expect(answerOf(`${'x'.repeat(2_899)}&${'y'.repeat(100)}`)).toEqual([
      `*Answer:*\n${'x'.repeat(2_899)}`,
      `&amp;${'y'.repeat(100)}`,
    ]);
    expect(answerOf(`${'x'.repeat(2_899)}😀${'y'.repeat(100)}`)).toEqual([
      `*Answer:*\n${'x'.repeat(2_899)}`,
      `😀${'y'.repeat(100)}`,
    ]);
  });
});

describe('hostile text in every field', () => {
  const HOSTILE = '<!channel> <@U0BOSS> <http://evil.example|click> & ``` `tick` *bold*';
  const ESCAPED = '&lt;!channel&gt; &lt;@U0BOSS&gt; &lt;http://evil.example|click&gt; &amp;';
  /** Our own markup (dates, mentions of real ids); anything else in <…> came from someone's text. */
  const withoutOurMarkup = (text: string) => text.replace(/<!date\^[^<>]*>|<@U0ALICE>/g, '');

  function expectNoMarkupFromUsers(m: SlackMessage): void {
    const text = allText(m);
    expect(withoutOurMarkup(text)).not.toMatch(/[<]/);
    expect(text).toContain(ESCAPED);
    assertWithinLimits(m);
  }

  test('pipeline status: goal, step names and commands, error, pending decision, decisions', () => {
    const m = renderRunStatus(
      pipeline({
        phase: 'AWAITING_DECISION',
        goal: HOSTILE,
        steps: [step('lint', { status: 'running', attempt: 1, command: `run ${HOSTILE}` })],
        error: HOSTILE,
        pendingDecision: {
          id: 'd',
          kind: 'failure',
          step: HOSTILE,
          options: ['retry'],
          deadline: 'not a date <x>',
        },
        decisions: [
          { id: 'a', step: HOSTILE, action: 'retry', by: HOSTILE, at: '' },
          { id: 'b', step: 'x', action: '<b>' as 'retry', by: 'U0ALICE', at: '' },
        ],
      }),
      { redact: noRedact },
    );
    expectNoMarkupFromUsers(m);
    const text = allText(m);
    // Backticks of a command would end its inline code early: they become quotes.
    expect(text).toContain(
      "`run &lt;!channel&gt; &lt;@U0BOSS&gt; &lt;http://evil.example|click&gt; &amp; ''' 'tick' *bold*`",
    );
    expect(text).toContain('No answer by not a date &lt;x&gt; counts as abort');
    expect(text).toContain('• *x*: &lt;b&gt; by <@U0ALICE>');
  });

  test('LLM status: prompt, model, backend, answer, finish reason, error', () => {
    const m = renderRunStatus(
      llm({
        phase: 'DONE',
        prompt: `${HOSTILE}\n> quoted`,
        model: `m${HOSTILE}`,
        error: HOSTILE,
        result: {
          text: HOSTILE,
          backend: 'openai',
          model: 'm',
          usage: { inputTokens: 1, outputTokens: 2 },
          finishReason: HOSTILE,
          latencyMs: 5,
          attempts: 1,
        },
      }),
      { redact: noRedact },
    );
    expectNoMarkupFromUsers(m);
    expect(allText(m)).toContain(`*Prompt:*\n>${ESCAPED} \`\`\` \`tick\` *bold*\n>&gt; quoted`);
  });

  test('failure notices, logs and lists', () => {
    expectNoMarkupFromUsers(
      renderStepFailure(
        { step: HOSTILE, attempt: 1, why: HOSTILE, logTail: HOSTILE, logPath: HOSTILE },
        { redact: noRedact },
      ),
    );
    const log = renderLog(
      { workflowId: HOSTILE, step: HOSTILE, path: HOSTILE, text: HOSTILE, source: 'status' },
      { redact: noRedact },
    );
    expectNoMarkupFromUsers(log);
    // A fence in a log cannot close the code block early.
    const code = log.blocks?.[1];
    expect(code?.type === 'section' && code.text.text.match(/```/g)).toHaveLength(2);
    expectNoMarkupFromUsers(
      renderRunList(
        [{ workflowId: HOSTILE, phase: HOSTILE, title: HOSTILE, requestedBy: HOSTILE, startTime: new Date(0) }],
        { redact: noRedact },
      ),
    );
  });
});

describe('buttons per phase and pending decision', () => {
  const failure = (options: PendingDecision['options']): PendingDecision => ({
    id: 'failure-lint-1-0',
    kind: 'failure',
    step: 'lint',
    options,
    deadline: '2026-01-01T10:10:00.000Z',
  });
  const approval = (options: PendingDecision['options']): PendingDecision => ({
    ...failure(options),
    id: 'approval-lint-0-0',
    kind: 'approval',
  });
  const runUrl = 'http://127.0.0.1:8233/x';

  test.each<[string, Partial<PipelineStatus>, string[]]>([
    ['queued', { phase: 'QUEUED' }, ['poc_cancel', 'poc_open_run']],
    ['running', { phase: 'RUNNING' }, ['poc_cancel', 'poc_open_run']],
    ['awaiting, without the question yet', { phase: 'AWAITING_DECISION' }, ['poc_cancel', 'poc_open_run']],
    [
      'a question on a run no longer awaiting it',
      { phase: 'RUNNING', pendingDecision: failure(['retry', 'skip', 'abort']) },
      ['poc_cancel', 'poc_open_run'],
    ],
    [
      'a failure without skip',
      { phase: 'AWAITING_DECISION', pendingDecision: failure(['retry', 'abort']) },
      ['poc_retry', 'poc_abort', 'poc_open_run'],
    ],
    [
      'an approval without approve-all',
      { phase: 'AWAITING_DECISION', pendingDecision: approval(['approve', 'deny']) },
      ['poc_approve', 'poc_deny', 'poc_open_run'],
    ],
    ['done', { phase: 'DONE' }, ['poc_open_run']],
    ['failed', { phase: 'FAILED', pendingDecision: failure(['retry']) }, ['poc_open_run']],
    ['cancelled', { phase: 'CANCELLED' }, ['poc_open_run']],
  ])('pipeline, %s', (_name, over, ids) => {
    expect(actionIds(renderRunStatus(pipeline(over), { runUrl, redact: noRedact }))).toEqual(ids);
    // Without a Web UI link, the same buttons less the link; a copy shown by `status` has none.
    expect(actionIds(renderRunStatus(pipeline(over), { redact: noRedact }))).toEqual(ids.slice(0, -1));
    expect(actionIds(renderRunStatus(pipeline(over), { runUrl, interactive: false, redact: noRedact }))).toEqual([
      'poc_open_run',
    ]);
  });

  test('styles and payloads: decisions carry the question, Cancel asks for confirmation', () => {
    const decision = buttons(
      renderRunStatus(pipeline({ phase: 'AWAITING_DECISION', pendingDecision: failure(['retry', 'skip', 'abort']) }), {
        redact: noRedact,
      }),
    );
    expect(decision.map((b) => [b.text.text, b.style, b.value])).toEqual([
      ['Retry', 'primary', '{"w":"pipeline-abc12345","d":"failure-lint-1-0"}'],
      ['Skip', undefined, '{"w":"pipeline-abc12345","d":"failure-lint-1-0"}'],
      ['Abort', 'danger', '{"w":"pipeline-abc12345","d":"failure-lint-1-0"}'],
    ]);
    const gate = buttons(
      renderRunStatus(
        pipeline({ phase: 'AWAITING_DECISION', pendingDecision: approval(['approve', 'approveAll', 'deny']) }),
        {
          redact: noRedact,
        },
      ),
    );
    expect(gate.map((b) => [b.text.text, b.style])).toEqual([
      ['Approve', 'primary'],
      ['Approve all', undefined],
      ['Deny', 'danger'],
    ]);
    const m = renderRunStatus(pipeline(), { redact: noRedact });
    const [cancel] = buttons(m);
    expect(cancel).toEqual({
      type: 'button',
      action_id: 'poc_cancel',
      text: { type: 'plain_text', text: 'Cancel', emoji: true },
      value: '{"w":"pipeline-abc12345"}',
      style: 'danger',
      confirm: {
        title: { type: 'plain_text', text: 'Cancel this run?' },
        text: { type: 'mrkdwn', text: '`pipeline-abc12345` stops; its running step is stopped too.' },
        confirm: { type: 'plain_text', text: 'Cancel the run' },
        deny: { type: 'plain_text', text: 'Keep it running' },
        style: 'danger',
      },
    });
    expect(m.blocks?.at(-1)).toMatchObject({ type: 'actions', block_id: 'poc_run_actions' });
  });

  test.each<[LlmStatus['phase'], string[]]>([
    ['RUNNING', ['poc_cancel', 'poc_open_run']],
    ['DONE', ['poc_open_run']],
    ['FAILED', ['poc_open_run']],
    ['CANCELLED', ['poc_open_run']],
  ])('LLM, %s', (phase, ids) => {
    expect(actionIds(renderRunStatus(llm({ phase }), { runUrl, redact: noRedact }))).toEqual(ids);
    expect(actionIds(renderRunStatus(llm({ phase }), { runUrl, interactive: false, redact: noRedact }))).toEqual([
      'poc_open_run',
    ]);
  });

  test('no buttons at all: no actions block', () => {
    const m = renderRunStatus(pipeline({ phase: 'DONE' }), { redact: noRedact });
    expect((m.blocks ?? []).some((b) => b.type === 'actions')).toBe(false);
  });
});

describe('the rest of the status message', () => {
  test('queued: first in line, one ahead, several ahead', () => {
    const queued = (queuePosition: number | null) =>
      allText(renderRunStatus(pipeline({ phase: 'QUEUED', queuePosition }), { redact: noRedact }));
    expect(queued(null)).toContain(':hourglass_flowing_sand: Waiting for the workspace.');
    expect(queued(0)).toContain(':hourglass_flowing_sand: Waiting for the workspace.');
    expect(queued(1)).toContain('Waiting for the workspace: *1* run ahead.');
    expect(queued(3)).toContain('Waiting for the workspace: *3* runs ahead.');
  });

  test('context: who, when, how long, and whether it asks on failure', () => {
    const context = (over: Partial<PipelineStatus>) => {
      const block = renderRunStatus(pipeline(over), { redact: noRedact }).blocks?.[1];
      return block?.type === 'context' ? block.elements[0].text : undefined;
    };
    expect(
      context({ requestedBy: null, onFailure: 'ask', finishedAt: '2026-01-01T12:00:00.000Z', phase: 'DONE' }),
    ).toBe(
      'started <!date^1767261600^{date_short_pretty} {time}|2026-01-01 10:00 UTC> · took 2 h 0 min · ' +
        'asks before giving up on a failed step',
    );
    // A finish before the start (clock skew) says nothing of how long it took.
    expect(context({ requestedBy: 'cli:bob', finishedAt: '2026-01-01T09:00:00.000Z' })).toBe(
      'requested by cli:bob · started <!date^1767261600^{date_short_pretty} {time}|2026-01-01 10:00 UTC>',
    );
  });

  test('each step state', () => {
    const text = allText(
      renderRunStatus(
        pipeline({
          steps: [
            step('a', { status: 'running', attempt: 2 }),
            step('b', { status: 'done', attempt: 1 }),
            step('c', { status: 'failed', attempt: 3, exitCode: 1, durationMs: 500 }),
            step('d', { status: 'skipped' }),
            step('e', { status: 'cancelled', exitCode: 137 }),
            step('f', { status: 'weird' as StepState['status'] }),
          ],
        }),
        { redact: noRedact },
      ),
    );
    expect(text).toContain(
      [
        ':arrows_counterclockwise: *a* · running (attempt 2)',
        ':white_check_mark: *b*',
        ':x: *c* · 500 ms · exit 1 · attempt 3',
        ':fast_forward: *d* · skipped',
        ':no_entry_sign: *e* · cancelled',
        ':grey_question: *f* · weird',
      ].join('\n'),
    );
  });

  test('a phase this version does not know: a question mark and the escaped name', () => {
    const m = renderRunStatus(pipeline({ phase: 'PAUSED<x>' as PipelineStatus['phase'] }), { redact: noRedact });
    expect(m.text).toBe(':grey_question: Pipeline pipeline-abc12345: PAUSED&lt;x&gt; — nightly');
    expect(isFinal('PAUSED')).toBe(false);
    expect(['DONE', 'FAILED', 'CANCELLED', 'RUNNING'].map(isFinal)).toEqual([true, true, true, false]);
  });

  test('LLM: the partial answer while running, attempts, and nothing to say for an empty answer', () => {
    const running = allText(renderRunStatus(llm({ partialText: 'So far', attempt: 3 }), { redact: noRedact }));
    expect(running).toContain('*Answer:*\nSo far');
    expect(running).toContain('attempt 3 · started');
    expect(running).not.toContain('thinking');
    const failed = renderRunStatus(llm({ phase: 'FAILED', partialText: 'partial', error: 'boom' }), {
      redact: noRedact,
    });
    expect(allText(failed)).not.toMatch(/Answer|thinking|partial/);
    expect(failed.text).toBe(':x: LLM llm-abc12345 (openai/gpt-4o-mini): FAILED');
  });

  test('redaction applies to what people and steps wrote', () => {
    const redact = (t: string) => t.replace(/hunter2/g, '[redacted:PW]');
    const text = allText(
      renderRunStatus(
        pipeline({
          goal: 'pw hunter2',
          error: 'failed: hunter2',
          steps: [step('a', { status: 'running', attempt: 1, command: 'login hunter2' })],
        }),
        { redact },
      ),
    );
    expect(text).not.toContain('hunter2');
    expect(text.match(/\[redacted:PW\]/g)).toHaveLength(4);
  });
});

describe('replies', () => {
  test('a log from the status, and a step with no output yet', () => {
    expect(
      allText(
        renderLog(
          { workflowId: 'pipeline-a', step: 'lint', path: null, text: 'kept lines', source: 'status' },
          { redact: noRedact },
        ),
      ),
    ).toBe(
      'Log of lint (pipeline-a)\n:page_facing_up: *lint* of `pipeline-a` — last lines kept by the run\n' +
        '```\nkept lines\n```',
    );
    const none = renderLog(
      { workflowId: 'pipeline-a', step: 'lint', path: '/l/lint.log', text: '  \n', source: 'none' },
      { redact: noRedact },
    );
    expect(none.blocks).toEqual([
      {
        type: 'section',
        text: { type: 'mrkdwn', text: ':page_facing_up: *lint* of `pipeline-a` — no output yet\nLog: `/l/lint.log`' },
      },
    ]);
  });

  test('a failure notice without a log path', () => {
    const m = renderStepFailure(
      { step: 'lint', attempt: 1, why: 'failed with exit code 1', logTail: 'oops', logPath: '' },
      { redact: noRedact },
    );
    expect(m.text).toBe(':x: lint failed with exit code 1');
    expect(allText(m)).toBe(':x: lint failed with exit code 1\n:x: *lint* failed with exit code 1\n```\noops\n```');
  });

  test('a list of one, without a goal or a requester, in a phase the list does not know', () => {
    const m = renderRunList(
      [{ workflowId: 'pipeline-a', phase: 'TERMINATED', title: '', requestedBy: null, startTime: new Date(0) }],
      { redact: noRedact },
    );
    expect(allText(m)).toBe(
      'The newest 1 run(s)\n*The newest 1 run*, newest first\n' +
        ':grey_question: `pipeline-a` TERMINATED — _(no goal)_ · ' +
        '<!date^0^{date_short_pretty} {time}|1970-01-01 00:00 UTC>',
    );
  });

  test('preformatted text: a title and a code block, redacted', () => {
    const m = preformatted('*help*', 'poc run <goal> sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX');
    expect(m).toEqual({
      text: '*help*',
      blocks: [
        { type: 'section', text: { type: 'mrkdwn', text: '*help*' } },
        { type: 'section', text: { type: 'mrkdwn', text: '```\npoc run &lt;goal&gt; [redacted:openai-key]\n```' } },
      ],
    });
  });
});
