/**
 * The pure parts of conversations: the transcript rule (what the model is sent, what folds into
 * the digest), the price table, input and tool-call checks, the workspace's `chat` section, the
 * settings, and the Slack message of an answer.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChatMessageView, ChatTurn } from '../../core/contract.js';
import { ConfigError, loadConfig } from '../../core/config.js';
import { InputError, validateChatInput, validateSay, validateToolInput } from '../../core/validate.js';
import { loadWorkspaceConfig, WorkspaceError } from '../../activities/workspace.js';
import { priceOf, usageWithCost } from '../../providers/prices.js';
import { markdownToMrkdwn, renderChatEnd, renderChatTurn } from '../../render/chat.js';
import { DIGEST_LIMIT, digestLine, extendDigest, foldTranscript, toMessages } from '../../workflows/transcript.js';

const at = '2026-01-01T00:00:00.000Z';
const user = (n: number, text: string, by = 'U0ALICE'): ChatTurn => ({ n, role: 'user', text, usage: null, by, at });
const answer = (n: number, text: string, extra: Partial<ChatTurn> = {}): ChatTurn => ({
  n,
  role: 'assistant',
  text,
  usage: { inputTokens: 1, outputTokens: 1, costUsd: 0 },
  by: null,
  at,
  ...extra,
});
const result = (n: number, callId: string, text: string): ChatTurn => ({
  n,
  role: 'tool',
  text,
  usage: null,
  by: 'U0BOB',
  at,
  toolCallId: callId,
  tool: 'run_steps',
  outcome: 'done',
});

describe('the transcript sent to the model', () => {
  test('tool results follow the call that asked for them, whatever was said in between', () => {
    const call = { id: 'call_1', name: 'run_steps', input: { steps: ['test'] } };
    const turns = [
      user(1, 'run the tests'),
      answer(2, 'Running them.', { toolCalls: [call] }),
      user(3, 'and hurry'),
      result(4, 'call_1', 'DONE'),
      answer(5, 'They passed.'),
    ];
    expect(toMessages(turns)).toEqual([
      { role: 'user', text: 'run the tests' },
      { role: 'assistant', text: 'Running them.', toolCalls: [call] },
      { role: 'tool', callId: 'call_1', name: 'run_steps', text: 'DONE', isError: false },
      { role: 'user', text: 'and hurry' },
      { role: 'assistant', text: 'They passed.' },
    ]);
  });

  test('a call without a result is answered as not run; failed and streaming answers are left out', () => {
    const turns = [
      user(1, 'a'),
      answer(2, '', { toolCalls: [{ id: 'x', name: 'list_runs', input: {} }] }),
      user(3, 'b'),
      answer(4, '', { error: 'openai: 500' }),
      answer(5, 'partial', { streaming: true }),
    ];
    const messages = toMessages(turns);
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'user']);
    expect(messages[2]).toMatchObject({ callId: 'x', isError: true });
  });
});

describe('the bounding rule', () => {
  const long = (n: number) => 'x'.repeat(n);

  test('under the budget nothing folds', () => {
    const turns = [user(1, 'hi'), answer(2, 'hello')];
    expect(foldTranscript(turns, null, 1_000)).toEqual({ turns, folded: 0, digest: null });
  });

  test('the oldest exchanges leave whole until the rest fits; the newest always stays', () => {
    const call = { id: 'c', name: 'run_steps', input: { steps: ['test'] } };
    const turns = [
      user(1, long(400)),
      answer(2, 'first answer', { toolCalls: [call] }),
      result(3, 'c', long(300)),
      answer(4, 'done'),
      user(5, 'second question'),
      answer(6, long(500)),
      user(7, long(2_000)),
      answer(8, 'last'),
    ];
    const folded = foldTranscript(turns, null, 1_000);
    expect(folded.turns.map((t) => t.n)).toEqual([7, 8]);
    assert.equal(folded.folded, 6);
    const lines = folded.digest?.split('\n') ?? [];
    assert.equal(lines.length, 2);
    assert.match(lines[0], /^#1 U0ALICE: x{200}… → first answer done \[tools: run_steps done\]$/);
    assert.match(lines[1], /^#5 U0ALICE: second question → x{300}…$/);
    // Over budget with one exchange left: it stays (the model needs the question it answers).
    expect(foldTranscript([user(1, long(5_000))], null, 1_000).turns).toHaveLength(1);
  });

  test('the digest keeps its first line and the newest ones within its limit', () => {
    const lines = Array.from({ length: 100 }, (_, i) => `#${i} ${'y'.repeat(100)}`);
    const digest = extendDigest(null, lines);
    assert.ok(digest.length <= DIGEST_LIMIT);
    const kept = digest.split('\n');
    assert.equal(kept[0], lines[0]);
    assert.equal(kept[1], '…');
    assert.equal(kept.at(-1), lines.at(-1));
    const more = extendDigest(digest, ['#100 z']);
    assert.equal(more.split('\n')[0], lines[0]);
    assert.equal(more.split('\n').filter((l) => l === '…').length, 1);
    assert.equal(more.split('\n').at(-1), '#100 z');
  });

  test('a digest line says who asked what and what the answer began with', () => {
    assert.equal(
      digestLine([user(9, 'why\nred?', 'cli:bob'), answer(10, 'Because.')]),
      '#9 cli:bob: why red? → Because.',
    );
  });
});

describe('estimated cost', () => {
  test('the longest name a model starts with gives its price; overrides win; Ollama is free', () => {
    expect(priceOf('openai', 'gpt-4o-mini-2024-07-18')).toEqual({ input: 0.15, output: 0.6 });
    expect(priceOf('openai', 'gpt-4o')).toEqual({ input: 2.5, output: 10 });
    expect(priceOf('anthropic', 'claude-sonnet-4-5')).toEqual({ input: 3, output: 15 });
    expect(priceOf('anthropic', 'claude-haiku-4-5-20251001')).toEqual({ input: 1, output: 5 });
    expect(priceOf('openai', 'gpt-4o', { 'gpt-4o': { input: 1, output: 2 } })).toEqual({ input: 1, output: 2 });
    expect(priceOf('ollama', 'llama3.1')).toEqual({ input: 0, output: 0 });
    assert.equal(priceOf('openai', 'my-own-model'), null);
    assert.equal(priceOf('openai', 'gpt-4oz'), null, 'a prefix must end at a separator');
  });

  test('usage carries the cost in dollars, exact to a ten-billionth; null when unknown', () => {
    expect(usageWithCost({ inputTokens: 150, outputTokens: 10 }, { input: 0.15, output: 0.6 })).toEqual({
      inputTokens: 150,
      outputTokens: 10,
      costUsd: 0.0000285,
    });
    expect(usageWithCost({ inputTokens: 1, outputTokens: 1 }, null).costUsd).toBeNull();
  });
});

describe('conversation input', () => {
  test('defaults: a day of quiet, ten minutes to approve, 2000 events, 60000 characters', () => {
    expect(validateChatInput({ backend: 'openai', model: 'gpt-4o-mini', prompt: 'hi' })).toEqual({
      backend: 'openai',
      model: 'gpt-4o-mini',
      prompt: 'hi',
      idleTimeoutSeconds: 86_400,
      decisionTimeoutSeconds: 600,
      maxHistoryEvents: 2_000,
      contextChars: 60_000,
    });
  });

  test('every mistake is one line naming the field', () => {
    const bad: [unknown, RegExp][] = [
      [{ backend: 'openai', model: 'm', idle: 5 }, /^idle: unknown field; the known fields are backend, model/],
      [{ backend: 'openai', model: 'm', maxHistoryEvents: 10 }, /^maxHistoryEvents: must be a whole number from 50/],
      [{ backend: 'openai', model: 'm', workspace: 'relative' }, /^workspace: "relative" must be an absolute path/],
      [{ backend: 'openai', model: 'm', carried: { status: 1 } }, /^carried: is written by the workflow/],
      [{ backend: 'x', model: 'm' }, /^backend: must be one of ollama, openai, anthropic/],
    ];
    for (const [input, message] of bad) {
      const err = (() => {
        try {
          validateChatInput(input);
        } catch (e) {
          return e;
        }
      })();
      assert.ok(err instanceof InputError, JSON.stringify(input));
      assert.match(err.message, message);
      assert.doesNotMatch(err.message, /\n/);
    }
  });

  test('say needs text; who said it defaults to someone', () => {
    expect(validateSay({ text: 'hi' })).toEqual({ text: 'hi', by: 'someone' });
    assert.throws(() => validateSay({ text: '' }), /text: is required/);
    assert.throws(() => validateSay({ text: 'hi', as: 'x' }), /as: unknown field/);
  });
});

describe('tool calls, checked like user input', () => {
  const allowed = { tools: ['run_steps', 'read_log'] as const, steps: ['lint', 'test'] };
  test('allowed calls pass with their arguments', () => {
    expect(
      validateToolInput('run_steps', { steps: ['test'], goal: 'check' }, { ...allowed, tools: [...allowed.tools] }),
    ).toEqual({
      steps: ['test'],
      goal: 'check',
    });
    expect(validateToolInput('read_log', {}, { ...allowed, tools: [...allowed.tools] })).toEqual({});
  });

  test('a tool or a step outside the allow-list, or a bad argument, is refused with the reason', () => {
    const tools = [...allowed.tools];
    assert.throws(() => validateToolInput('list_runs', {}, { tools, steps: [] }), /"list_runs" is not a tool of this/);
    assert.throws(
      () => validateToolInput('run_steps', { steps: ['deploy'] }, { tools, steps: allowed.steps }),
      /"deploy" may not be run from here \(allowed: lint, test\)/,
    );
    assert.throws(
      () => validateToolInput('run_steps', { steps: ['test; rm -rf /'] }, { tools, steps: allowed.steps }),
      /is not a step name/,
    );
    assert.throws(() => validateToolInput('read_log', { run: '../../etc' }, { tools, steps: [] }), /is not a run id/);
    assert.throws(
      () => validateToolInput('read_log', { lines: 10_000 }, { tools, steps: [] }),
      /lines: must be a whole number from 1 to 200/,
    );
    assert.throws(
      () => validateToolInput('run_steps', { unparsableArguments: '{' }, { tools, steps: [] }),
      /unparsableArguments: unknown field/,
    );
  });
});

describe("the workspace's chat section", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'poc-unit-chat-'));
  let count = 0;
  const workspace = (config: unknown) => {
    const dir = path.join(root, `ws${++count}`);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'compose.yaml'), 'services:\n  runner:\n    image: x\n');
    if (config !== undefined) fs.writeFileSync(path.join(dir, 'poc.config.json'), JSON.stringify(config));
    return dir;
  };

  test('no section: no tools; tools without steps: every step the workspace defines', () => {
    expect(loadWorkspaceConfig(workspace(undefined)).chat).toEqual({ tools: [], steps: [] });
    expect(
      loadWorkspaceConfig(workspace({ steps: { e2e: 'npm run e2e' }, chat: { tools: ['run_steps'] } })).chat,
    ).toEqual({
      tools: ['run_steps'],
      steps: ['build', 'bootstrap', 'doctor', 'lint', 'test', 'e2e'],
    });
    expect(loadWorkspaceConfig(workspace({ chat: { tools: ['read_log'], steps: ['test'] } })).chat).toEqual({
      tools: ['read_log'],
      steps: [],
    });
  });

  test('mistakes name the field and the fix', () => {
    assert.throws(() => loadWorkspaceConfig(workspace({ chat: { tools: ['shell'] } })), WorkspaceError);
    assert.throws(
      () => loadWorkspaceConfig(workspace({ chat: { tools: ['run_steps'], steps: ['deploy'] } })),
      /chat.steps must list steps this workspace defines/,
    );
    assert.throws(() => loadWorkspaceConfig(workspace({ chat: { tool: [] } })), /chat has an unknown field "tool"/);
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
});

describe('settings', () => {
  test('POC_CHAT_BACKEND and POC_CHAT_MODEL, with a default model per backend', () => {
    expect(loadConfig({}).chat).toEqual({ backend: 'ollama', model: 'llama3.1' });
    expect(loadConfig({ POC_CHAT_BACKEND: 'anthropic' }).chat).toEqual({
      backend: 'anthropic',
      model: 'claude-sonnet-4-5',
    });
    expect(loadConfig({ POC_CHAT_BACKEND: 'openai', POC_CHAT_MODEL: 'gpt-4.1' }).chat.model).toBe('gpt-4.1');
    assert.throws(
      () => loadConfig({ POC_CHAT_BACKEND: 'gemini' }),
      (e: unknown) => e instanceof ConfigError && /POC_CHAT_BACKEND=gemini is not a backend/.test(e.message),
    );
  });

  test('POC_LLM_PRICES: model=input/output per million tokens', () => {
    expect(loadConfig({ POC_LLM_PRICES: 'a=1/2, b.v2=0.5/1.25' }).llm.prices).toEqual({
      a: { input: 1, output: 2 },
      'b.v2': { input: 0.5, output: 1.25 },
    });
    assert.throws(() => loadConfig({ POC_LLM_PRICES: 'a=1' }), /POC_LLM_PRICES: "a=1" is not model=input\/output/);
  });
});

describe('the Slack message of an answer', () => {
  const view = (extra: Partial<ChatMessageView> = {}): ChatMessageView => ({
    key: 2,
    conversationId: 'chat-abc',
    backend: 'openai',
    model: 'gpt-4o-mini',
    text: '**Tests** passed <3 & more',
    streaming: false,
    attempt: 1,
    error: null,
    tools: [],
    usage: { inputTokens: 120, outputTokens: 30, costUsd: 0.000036 },
    totals: { inputTokens: 300, outputTokens: 60, costUsd: 0.0001, requests: 3, unpriced: 0 },
    pending: null,
    latest: true,
    question: null,
    ...extra,
  });
  const text = (m: { blocks?: unknown[] }) => JSON.stringify(m.blocks);
  const actionIds = (m: { blocks?: unknown[] }) =>
    (m.blocks as { type: string; elements?: { action_id: string }[] }[])
      .filter((b) => b.type === 'actions')
      .flatMap((b) => b.elements?.map((e) => e.action_id) ?? []);

  test('escaped, Markdown bold made mrkdwn, tokens and cost of the turn and the conversation', () => {
    const m = renderChatTurn(view(), { runUrl: 'http://ui/chat-abc' });
    assert.match(text(m), /\*Tests\* passed &lt;3 &amp; more/);
    assert.match(text(m), /120 in · 30 out · ~\$0\.0000/);
    assert.match(text(m), /conversation: 3 requests · 300 in · 60 out · ~\$0\.0001 \(estimate\)/);
    expect(actionIds(m)).toEqual(['poc_end', 'poc_open_run']);
    expect(actionIds(renderChatTurn(view({ latest: false })))).toEqual([]);
  });

  test('streaming shows thinking, then the text so far; an approval shows its buttons with the question id', () => {
    assert.match(text(renderChatTurn(view({ text: '', streaming: true, usage: null }))), /_thinking…_/);
    assert.match(text(renderChatTurn(view({ text: 'Half', streaming: true }))), /Half …/);
    const pending = {
      id: 'approval-test-1-0',
      kind: 'approval' as const,
      step: 'test',
      tool: 'run_steps',
      options: ['approve', 'approveAll', 'deny'] as ('approve' | 'approveAll' | 'deny')[],
      deadline: at,
    };
    const m = renderChatTurn(
      view({
        pending,
        tools: [{ name: 'run_steps', what: 'test', state: 'awaiting', by: null, runId: null, result: null }],
      }),
    );
    expect(actionIds(m)).toEqual(['poc_approve', 'poc_approve_all', 'poc_deny', 'poc_end']);
    assert.match(text(m), /`run_steps` test — waits for approval/);
    assert.match(text(m), /\{\\"w\\":\\"chat-abc\\",\\"d\\":\\"approval-test-1-0\\"\}/);
  });

  test('Markdown headings and bold become mrkdwn; code is left alone', () => {
    assert.equal(markdownToMrkdwn('## Result\n**ok** and `a**b**c`'), '*Result*\n*ok* and `a**b**c`');
    assert.equal(markdownToMrkdwn('```\n**x**\n```\n**y**'), '```\n**x**\n```\n*y*');
  });

  test('the end notice counts turns and the estimated cost', () => {
    const m = renderChatEnd({
      conversationId: 'chat-abc',
      by: 'U0BOB',
      reason: 'user',
      turns: 6,
      totals: { inputTokens: 1, outputTokens: 2, costUsd: 0.5, requests: 2, unpriced: 1 },
    });
    assert.match(
      m.text,
      /Conversation `chat-abc` ended by <@U0BOB> · 6 turns · 2 requests · 1 in · 2 out · ~\$0\.50 \+ 1 unpriced/,
    );
  });
});
