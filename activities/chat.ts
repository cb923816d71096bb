/**
 * The side effects of a conversation: `prepareChat` reads what its workspace allows,
 * `answerChat` is one model request with the conversation so far (streamed to the workflow,
 * retried by Temporal; an answered turn is in the workflow's history and never asked again),
 * and `runChatTool` runs the read-only tools. `run_steps` is no activity: the workflow starts a
 * child `pipeline` for it.
 */
import path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { PocConfig } from '../core/config.js';
import {
  CHAT_TOOLS,
  FAILURE_TYPES,
  ID_PREFIX,
  PHASES,
  PocKind,
  PocPhase,
  chatChunkSignal,
  statusQuery,
  type ChatToolCall,
  type ChatToolName,
  type ChatUsage,
  type LlmBackend,
  type PipelineStatus,
} from '../core/contract.js';
import { createRedactor } from '../core/redact.js';
import { secretValues } from '../core/config.js';
import { createProvider } from '../providers/index.js';
import { priceOf, usageWithCost } from '../providers/prices.js';
import type { ChatMessage, ToolSpec } from '../providers/types.js';
import { startLiveText, toFailure } from './llm.js';
import { loadWorkspaceConfig, WorkspaceError } from './workspace.js';

/** Slack is updated about once a second: live text more often would only add history. */
/** Tool calls one answer may make; more are answered with an error the model can act on. */
export const MAX_TOOL_CALLS_PER_ANSWER = 5;
const TOOL_RESULT_CHARS = 6_000;

export interface PrepareChatArgs {
  workspace?: string;
}

export interface ChatPlan {
  workspace: string;
  tools: ChatToolName[];
  steps: string[];
}

export interface ChatModelArgs {
  backend: LlmBackend;
  model: string;
  /** The user's own system text, if any (the activity adds its own and the digest). */
  system?: string;
  /** Earlier turns folded out of the transcript (see workflows/transcript.ts). */
  digest?: string | null;
  maxTokens?: number;
  temperature?: number;
  messages: ChatMessage[];
  tools: { names: ChatToolName[]; steps: string[] };
  /** The assistant turn this request answers (its live text is tagged with it). */
  turn: number;
}

export interface ChatAnswer {
  text: string;
  toolCalls: ChatToolCall[];
  usage: ChatUsage;
  finishReason: string;
  model: string;
  latencyMs: number;
  attempts: number;
}

export interface ChatToolArgs {
  name: ChatToolName;
  input: Record<string, unknown>;
}

export interface ChatToolResult {
  text: string;
  ok: boolean;
}

const SYSTEM_TEXT =
  'You are the assistant of poc-orchestrator, a tool that runs build and test pipelines in Docker. ' +
  'You talk with a team in a Slack thread or a terminal: answer plainly and briefly.';

function toolGuide(tools: ChatToolName[]): string {
  if (!tools.length) return 'You have no tools here; answer from what you know and what was said.';
  return (
    'You may call these tools: ' +
    tools.join(', ') +
    '. Steps run for real, in the team’s workspace, and only after a person approves; say what you will run ' +
    'and why. When you answer after a tool, cite what it returned (status, exit code, the telling log lines).'
  );
}

/** The JSON Schemas of the allowed tools, as every provider's native tool calling sends them. */
export function toolSpecs(names: readonly ChatToolName[], steps: readonly string[]): ToolSpec[] {
  const specs: Record<ChatToolName, ToolSpec> = {
    [CHAT_TOOLS.runSteps]: {
      name: CHAT_TOOLS.runSteps,
      description:
        'Run pipeline steps of the workspace in Docker (a person must approve first). Returns each ' +
        "step's status and exit code, and the end of a failed step's log.",
      parameters: {
        type: 'object',
        properties: {
          steps: {
            type: 'array',
            items: { type: 'string', enum: [...steps] },
            description: 'the steps to run, in order',
          },
          goal: { type: 'string', description: 'why, in a few words (shown to people)' },
        },
        required: ['steps'],
      },
    },
    [CHAT_TOOLS.readLog]: {
      name: CHAT_TOOLS.readLog,
      description:
        "Read the end of a step's log of a pipeline run (default: the last run this conversation started, " +
        'its failed or last step).',
      parameters: {
        type: 'object',
        properties: {
          run: { type: 'string', description: 'run id, like pipeline-ab12cd34' },
          step: { type: 'string', description: 'step name' },
          lines: { type: 'integer', description: 'how many lines from the end (at most 200)' },
        },
      },
    },
    [CHAT_TOOLS.listRuns]: {
      name: CHAT_TOOLS.listRuns,
      description: 'List the newest pipeline runs with their phase and goal.',
      parameters: {
        type: 'object',
        properties: {
          limit: { type: 'integer', description: 'how many (at most 20, default 10)' },
          phase: { type: 'string', enum: [...PHASES] },
        },
      },
    },
  };
  return names.map((name) => specs[name]);
}

function systemText(args: ChatModelArgs): string {
  return [
    SYSTEM_TEXT,
    toolGuide(args.tools.names),
    args.system,
    args.digest ? `Earlier turns of this conversation, folded to save room (first words only):\n${args.digest}` : '',
  ]
    .filter(Boolean)
    .join('\n\n');
}

function cutResult(text: string): string {
  return text.length > TOOL_RESULT_CHARS ? `${text.slice(0, TOOL_RESULT_CHARS)}\n…(cut)` : text;
}

export function createChatActivities({ client, config }: { client: Client; config: PocConfig }) {
  const redact = createRedactor({ ...process.env, ...secretValues(config) });

  async function readLog(input: Record<string, unknown>): Promise<ChatToolResult> {
    const run = typeof input.run === 'string' ? input.run : undefined;
    if (!run) return { ok: false, text: 'No run given, and this conversation has run nothing yet; call list_runs.' };
    const workflowId = run.startsWith(ID_PREFIX.pipeline) ? run : `${ID_PREFIX.pipeline}${run}`;
    let status;
    try {
      status = await client.workflow.getHandle(workflowId).query(statusQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return { ok: false, text: `No run ${workflowId}; call list_runs.` };
      throw err;
    }
    if (status.kind !== 'pipeline') return { ok: false, text: `${workflowId} is not a pipeline run.` };
    const pipeline: PipelineStatus = status;
    const wanted = typeof input.step === 'string' ? input.step : undefined;
    const step = wanted
      ? pipeline.steps.find((s) => s.name === wanted)
      : (pipeline.steps.find((s) => s.status === 'failed') ?? [...pipeline.steps].reverse().find((s) => s.logTail));
    if (!step) {
      const names = pipeline.steps.map((s) => s.name).join(', ');
      return { ok: false, text: `${workflowId} has no step "${wanted ?? '?'}" (steps: ${names}).` };
    }
    const lines = typeof input.lines === 'number' ? input.lines : 40;
    const tail = (step.logTail ?? '').split('\n').slice(-lines).join('\n');
    const exit = step.exitCode !== null ? `, exit code ${step.exitCode}` : '';
    return {
      ok: true,
      text: cutResult(
        redact(
          `${workflowId}, step ${step.name}: ${step.status}${exit}. ` +
            (tail.trim() ? `End of its log:\n${tail}` : 'Its log is empty (or not kept).'),
        ),
      ),
    };
  }

  async function listRuns(input: Record<string, unknown>): Promise<ChatToolResult> {
    const limit = typeof input.limit === 'number' ? input.limit : 10;
    const clauses = [`${PocKind.name} = "pipeline"`, `TaskQueue = "${Context.current().info.taskQueue}"`];
    if (typeof input.phase === 'string' && (PHASES as readonly string[]).includes(input.phase))
      clauses.push(`${PocPhase.name} = "${input.phase}"`);
    const lines: string[] = [];
    for await (const execution of client.workflow.list({ query: clauses.join(' AND '), pageSize: limit })) {
      const memo = (execution.memo ?? {}) as Record<string, unknown>;
      const phase = execution.typedSearchAttributes.get(PocPhase) ?? execution.status.name;
      lines.push(
        `${execution.workflowId} ${phase} started ${execution.startTime.toISOString()}` +
          `${memo.goal ? ` — ${String(memo.goal).slice(0, 80)}` : ''}`,
      );
      if (lines.length >= limit) break;
    }
    return { ok: true, text: lines.length ? redact(lines.join('\n')) : 'No pipeline runs yet.' };
  }

  return {
    /** What the conversation's workspace allows: its tools and the steps `run_steps` may run. */
    async prepareChat(args: PrepareChatArgs): Promise<ChatPlan> {
      const workspace = path.resolve(args.workspace ?? config.workspace);
      try {
        const { chat } = loadWorkspaceConfig(workspace);
        return { workspace, tools: chat.tools, steps: chat.steps };
      } catch (err) {
        if (err instanceof WorkspaceError)
          throw ApplicationFailure.nonRetryable(err.message, FAILURE_TYPES.invalidInput);
        throw err;
      }
    },

    /** One model request: the next answer, streamed to the workflow, with the tool calls it makes. */
    async answerChat(args: ChatModelArgs): Promise<ChatAnswer> {
      const ctx = Context.current();
      const attempt = ctx.info.attempt;
      const started = Date.now();
      const workflow = client.workflow.getHandle(ctx.info.workflowExecution?.workflowId ?? '');
      const live = startLiveText({
        idleTimeoutMs: config.llm.idleTimeoutMs,
        send: (text) => workflow.signal(chatChunkSignal, { turn: args.turn, attempt, text }),
      });
      try {
        const reply = await createProvider(args.backend, config.llm, { onBytes: live.onBytes }).converse({
          model: args.model,
          system: systemText(args),
          messages: args.messages,
          tools: toolSpecs(args.tools.names, args.tools.steps),
          maxTokens: args.maxTokens,
          temperature: args.temperature,
          signal: live.signal,
          onText: live.onText,
        });
        await live.settle();
        const price =
          priceOf(args.backend, args.model, config.llm.prices) ?? priceOf(args.backend, reply.model, config.llm.prices);
        return {
          // Redacted as a prompt's answer is: a key a model echoes back never reaches history or Slack.
          text: redact(reply.text),
          toolCalls: reply.toolCalls,
          usage: usageWithCost(reply, price),
          finishReason: reply.finishReason,
          model: reply.model || args.model,
          latencyMs: Date.now() - started,
          attempts: attempt,
        };
      } catch (err) {
        if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
        throw toFailure(err, args.backend, live.stalled() ? config.llm.idleTimeoutMs : undefined);
      } finally {
        live.stop();
      }
    },

    /** A read-only tool (`read_log`, `list_runs`); its text goes back to the model. */
    async runChatTool(args: ChatToolArgs): Promise<ChatToolResult> {
      switch (args.name) {
        case CHAT_TOOLS.readLog:
          return readLog(args.input);
        case CHAT_TOOLS.listRuns:
          return listRuns(args.input);
        default:
          return { ok: false, text: `${args.name} is not a read-only tool` };
      }
    },
  };
}
