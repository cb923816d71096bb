/**
 * Native tool calling of each provider through its real SDK against the local fake server:
 * OpenAI `tools` / `tool_calls` / `tool` messages, Anthropic `tools` / `tool_use` /
 * `tool_result`, Ollama `tools` / `tool_calls` / `tool` messages. A conversation the real
 * service would refuse (a result without its call) is refused by the fake as well.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import assert from 'node:assert/strict';
import { createProvider } from '../providers/index.js';
import { LlmError, type ChatMessage, type ToolSpec } from '../providers/types.js';
import type { LlmBackend } from '../core/contract.js';
import { loadConfig } from '../core/config.js';
import { startFakeLlm, type FakeLlmServer, type RecordedRequest } from './support/fake-llm.js';

const TEST_TIMEOUT_MS = 10_000;

let fake: FakeLlmServer;

beforeAll(async () => {
  fake = await startFakeLlm();
});

afterAll(async () => {
  await fake?.close();
});

const envOf: Record<LlmBackend, () => NodeJS.ProcessEnv> = {
  openai: () => ({ OPENAI_API_KEY: 'sk-test-tools-0123456789', OPENAI_BASE_URL: `${fake.url}/v1` }),
  anthropic: () => ({ ANTHROPIC_API_KEY: 'sk-ant-test-tools-0123456789', ANTHROPIC_BASE_URL: fake.url }),
  ollama: () => ({ OLLAMA_HOST: fake.url }),
};
const provider = (backend: LlmBackend) => createProvider(backend, loadConfig(envOf[backend]()).llm);

const RUN_STEPS: ToolSpec = {
  name: 'run_steps',
  description: 'Run pipeline steps',
  parameters: {
    type: 'object',
    properties: { steps: { type: 'array', items: { type: 'string', enum: ['lint', 'test'] } } },
    required: ['steps'],
  },
};

type Body = Record<string, unknown>;

/** The tools as the server received them, reduced to name and schema, per protocol. */
function toolsOf(backend: LlmBackend, body: Body): { name: unknown; schema: unknown }[] {
  const tools = body.tools as Body[];
  return tools.map((tool) =>
    backend === 'anthropic'
      ? { name: tool.name, schema: tool.input_schema }
      : { name: (tool.function as Body).name, schema: (tool.function as Body).parameters },
  );
}

const lastRequest = (backend: LlmBackend): RecordedRequest => {
  const requests = fake.requestsTo(backend).filter((r) => r.method === 'POST');
  return requests[requests.length - 1];
};

for (const backend of ['openai', 'anthropic', 'ollama'] as const) {
  describe(`${backend} tool calling`, () => {
    test(
      'a tool call comes back as { id, name, input } with finish reason "tool"; the tools went in native form',
      async () => {
        fake.enqueue(backend, {
          chunks: ['Let me ', 'run them.'],
          toolCalls: [{ name: 'run_steps', arguments: { steps: ['test'] } }],
          usage: { inputTokens: 40, outputTokens: 12 },
        });
        const streamed: string[] = [];
        const reply = await provider(backend).converse({
          model: 'tool-model',
          system: 'You run steps.',
          messages: [{ role: 'user', text: 'Run the tests please' }],
          tools: [RUN_STEPS],
          onText: (text) => streamed.push(text),
        });
        assert.equal(reply.text, 'Let me run them.');
        assert.deepEqual(streamed, ['Let me ', 'run them.']);
        assert.equal(reply.finishReason, 'tool');
        assert.equal(reply.toolCalls.length, 1);
        assert.equal(reply.toolCalls[0].name, 'run_steps');
        expect(reply.toolCalls[0].input).toEqual({ steps: ['test'] });
        assert.ok(reply.toolCalls[0].id.length > 0);
        assert.deepEqual([reply.inputTokens, reply.outputTokens], [40, 12]);
        expect(toolsOf(backend, lastRequest(backend).body ?? {})).toEqual([
          { name: 'run_steps', schema: RUN_STEPS.parameters },
        ]);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      'two calls in one answer keep their order',
      async () => {
        fake.enqueue(backend, {
          toolCalls: [
            { name: 'list_runs', arguments: { limit: 3 } },
            { name: 'read_log', arguments: { run: 'pipeline-abc', step: 'test' } },
          ],
        });
        const reply = await provider(backend).converse({
          model: 'tool-model',
          messages: [{ role: 'user', text: 'What failed?' }],
          tools: [RUN_STEPS],
        });
        assert.equal(reply.text, '');
        assert.deepEqual(
          reply.toolCalls.map((c) => c.name),
          ['list_runs', 'read_log'],
        );
        assert.notEqual(reply.toolCalls[0].id, reply.toolCalls[1].id);
        expect(reply.toolCalls[1].input).toEqual({ run: 'pipeline-abc', step: 'test' });
      },
      TEST_TIMEOUT_MS,
    );

    test(
      'the result goes back in the protocol’s form and the next answer can quote it',
      async () => {
        const call = {
          id: backend === 'anthropic' ? 'toolu_01' : 'call_01',
          name: 'run_steps',
          input: { steps: ['test'] },
        };
        const messages: ChatMessage[] = [
          { role: 'user', text: 'Run the tests please' },
          { role: 'assistant', text: '', toolCalls: [call] },
          { role: 'tool', callId: call.id, name: 'run_steps', text: 'pipeline-x DONE: test passed (exit 0)' },
          { role: 'user', text: 'And?' },
        ];
        fake.enqueue(backend, {
          respond: (request) => {
            const sent = JSON.stringify(request.body?.messages);
            const cited = /test passed \(exit 0\)/.exec(sent)?.[0] ?? 'nothing';
            return { chunks: [`The tool said: ${cited}`] };
          },
        });
        const reply = await provider(backend).converse({ model: 'tool-model', messages, tools: [RUN_STEPS] });
        assert.equal(reply.text, 'The tool said: test passed (exit 0)');
        assert.equal(reply.finishReason, 'stop');

        const body = lastRequest(backend).body ?? {};
        const sent = body.messages as Body[];
        if (backend === 'openai') {
          expect(sent[1]).toEqual({
            role: 'assistant',
            content: null,
            tool_calls: [
              { id: 'call_01', type: 'function', function: { name: 'run_steps', arguments: '{"steps":["test"]}' } },
            ],
          });
          expect(sent[2]).toEqual({
            role: 'tool',
            tool_call_id: 'call_01',
            content: 'pipeline-x DONE: test passed (exit 0)',
          });
        } else if (backend === 'anthropic') {
          expect(sent[1]).toEqual({
            role: 'assistant',
            content: [{ type: 'tool_use', id: 'toolu_01', name: 'run_steps', input: { steps: ['test'] } }],
          });
          expect(sent[2]).toEqual({
            role: 'user',
            content: [
              { type: 'tool_result', tool_use_id: 'toolu_01', content: 'pipeline-x DONE: test passed (exit 0)' },
              { type: 'text', text: 'And?' },
            ],
          });
        } else {
          expect(sent[1]).toEqual({
            role: 'assistant',
            content: '',
            tool_calls: [{ function: { name: 'run_steps', arguments: { steps: ['test'] } } }],
          });
          expect(sent[2]).toEqual({
            role: 'tool',
            content: 'pipeline-x DONE: test passed (exit 0)',
            tool_name: 'run_steps',
          });
        }
      },
      TEST_TIMEOUT_MS,
    );
  });
}

describe('the fake refuses what the real services refuse', () => {
  test(
    'a tool result without its call is a 400, a fatal error naming the rule',
    async () => {
      for (const backend of ['openai', 'anthropic'] as const) {
        const err = await provider(backend)
          .converse({
            model: 'tool-model',
            messages: [
              { role: 'user', text: 'hi' },
              { role: 'assistant', text: 'ok' },
              { role: 'tool', callId: 'call_nowhere', name: 'run_steps', text: 'done' },
            ],
          })
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        assert.ok(err instanceof LlmError, `${backend}: ${String(err)}`);
        assert.equal(err.kind, 'fatal');
        assert.equal(err.status, 400);
        assert.match(err.message, /tool/);
      }
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a call left without its result is refused too',
    async () => {
      const err = await provider('openai')
        .converse({
          model: 'tool-model',
          messages: [
            { role: 'user', text: 'hi' },
            { role: 'assistant', text: '', toolCalls: [{ id: 'call_1', name: 'list_runs', input: {} }] },
            { role: 'user', text: 'hello?' },
          ],
        })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      assert.ok(err instanceof LlmError);
      assert.match(err.message, /did not have response messages: call_1/);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'billed() counts answers sent whole, not refused ones',
    async () => {
      const before = fake.billed().length;
      fake.enqueue('openai', { chunks: ['ok'] }, { status: 429 });
      await provider('openai').converse({ model: 'm', messages: [{ role: 'user', text: 'a' }] });
      await provider('openai')
        .converse({ model: 'm', messages: [{ role: 'user', text: 'b' }] })
        .catch(() => undefined);
      assert.equal(fake.billed().length, before + 1);
    },
    TEST_TIMEOUT_MS,
  );
});
