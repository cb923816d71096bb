/**
 * The tools of a conversation, from the workflow's side. Every call is checked like user input
 * (allow-listed by the workspace, arguments validated); `run_steps` asks for an approval first
 * (the decision gate of workflows/decisions.ts, so Approve / Approve all / Deny and the timeout
 * that denies work as for pipelines) and then runs the steps as a child `pipeline` workflow with
 * an id of its own — recorded in history, so a finished tool is never run again, whatever
 * crashes. Read-only tools are an activity.
 */
import {
  ActivityCancellationType,
  ChildWorkflowCancellationType,
  ParentClosePolicy,
  executeChild,
  isCancellation,
  patched,
  proxyActivities,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import {
  APPROVAL_ACTIONS,
  CHAT_TOOLS,
  CHANGING_CHAT_TOOLS,
  ID_PREFIX,
  WORKFLOW_TYPES,
  type ChatCarried,
  type ChatToolCall,
  type ChatToolName,
  type ChatToolOutcome,
  type ChatTurn,
  type PipelineInput,
  type PipelineStatus,
  type SlackTarget,
  type ChatToolView,
} from '../core/contract.js';
import { InputError, validateToolInput } from '../core/validate.js';
import type { DecisionGate } from './decisions.js';
import { ACTIVITY_SUMMARIES, oneLine, withSummary } from './details.js';
import type { pipelineWorkflow } from './pipeline.js';
import { applicationFailureOf } from './runs.js';
import { TURN_TEXT_LIMITS, cutText } from './transcript.js';

const { runChatTool } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 5 },
});

/** Calls one answer may make; the rest are answered with an error the model can act on. */
export const MAX_CALLS_PER_ANSWER = 5;

/** What the tools of one conversation share (carried over continue-as-new). */
export interface ToolState {
  plan: ChatCarried['plan'];
  approveAllBy: string | null;
  toolRuns: number;
  lastRunId: string | null;
}

export interface ToolContext {
  conversationId: string;
  state: ToolState;
  decisions: DecisionGate;
  decisionTimeoutSeconds: number;
  requestedBy: string | null;
  slack: SlackTarget | undefined;
  /** The live state of calls under way, shown on the message of the turn that made them. */
  live: Map<string, ChatToolView>;
  /** Something shown changed (the phase, a tool's state). */
  changed(): void;
  /** The conversation waits for a tool now. */
  running(): void;
  now(): string;
}

/** Lines of a passed step's output the model gets (a failed step's whole kept tail goes). */
const PASSED_STEP_LINES = 15;

/** The pipeline's outcome in a few lines the model can cite (redacted log tails come from the run itself). */
export function summarizePipeline(status: PipelineStatus): string {
  const lines = [`${status.id}: ${status.phase}${status.error ? ` — ${status.error}` : ''}`];
  for (const step of status.steps) {
    const exit = step.exitCode !== null ? `, exit code ${step.exitCode}` : '';
    const took = step.durationMs !== null ? `, ${Math.round(step.durationMs / 100) / 10} s` : '';
    lines.push(`- ${step.name}: ${step.status}${exit}${took}`);
  }
  for (const step of status.steps) {
    if (!step.logTail?.trim()) continue;
    const tail =
      step.status === 'failed' ? step.logTail : step.logTail.split('\n').slice(-PASSED_STEP_LINES).join('\n');
    lines.push(`End of the log of ${step.name}:`, tail);
  }
  return lines.join('\n');
}

/** A tool's result turn; the conversation numbers it when it joins the transcript. */
export type ToolResult = Omit<ChatTurn, 'n'>;

function toolTurn(
  ctx: ToolContext,
  call: ChatToolCall,
  outcome: ChatToolOutcome,
  text: string,
  extra: { by?: string | null; runId?: string } = {},
): ToolResult {
  return {
    role: 'tool',
    text: cutText(text, TURN_TEXT_LIMITS.tool),
    usage: null,
    by: extra.by ?? null,
    at: ctx.now(),
    toolCallId: call.id,
    tool: call.name,
    outcome,
    ...(extra.runId ? { runId: extra.runId } : {}),
  };
}

/** What a call does, in a few words (its Slack line). */
export function describeCall(name: string, input: Record<string, unknown>): string {
  if (name === CHAT_TOOLS.runSteps && Array.isArray(input.steps)) return (input.steps as string[]).join(', ');
  if (name === CHAT_TOOLS.readLog) return [input.run, input.step].filter(Boolean).join(' ') || 'the last run';
  if (name === CHAT_TOOLS.listRuns) return input.phase ? `${String(input.phase)} runs` : 'newest runs';
  return '';
}

/**
 * Runs one tool call to its result. Never throws but for cancellation: a refused, denied or
 * failed call is a result the model reads and can act on.
 */
export async function runToolCall(ctx: ToolContext, call: ChatToolCall, index: number): Promise<ToolResult> {
  const { state } = ctx;
  const show = (view: Partial<ChatToolView>) => {
    const current = ctx.live.get(call.id) ?? {
      name: call.name,
      what: describeCall(call.name, call.input),
      state: 'running',
      by: null,
      runId: null,
      result: null,
    };
    ctx.live.set(call.id, { ...current, ...view });
    ctx.changed();
  };
  if (index >= MAX_CALLS_PER_ANSWER) {
    return toolTurn(ctx, call, 'invalid', `Not run: at most ${MAX_CALLS_PER_ANSWER} tool calls per answer.`);
  }
  let input: Record<string, unknown>;
  try {
    input = validateToolInput(call.name, call.input, { tools: state.plan.tools, steps: state.plan.steps });
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    return toolTurn(ctx, call, 'invalid', `Invalid call, not run: ${err.message}. Fix the arguments and call again.`);
  }
  const name = call.name as ChatToolName;
  let by: string | null = 'auto';
  if (CHANGING_CHAT_TOOLS.includes(name)) {
    if (state.approveAllBy) by = state.approveAllBy;
    else {
      show({ state: 'awaiting' });
      const decision = await ctx.decisions.ask({
        kind: 'approval',
        step: describeCall(name, input),
        tool: name,
        attempt: state.toolRuns + 1,
        options: APPROVAL_ACTIONS,
        timeoutSeconds: ctx.decisionTimeoutSeconds,
      });
      by = decision.by ?? null;
      if (decision.action === 'deny') {
        show({ state: 'denied', by });
        const why = by === 'timeout' ? 'nobody approved it in time' : `${by ?? 'someone'} denied it`;
        return toolTurn(ctx, call, 'denied', `Not run: ${why}. Do not retry unless asked to.`, { by });
      }
      if (decision.action === 'approveAll') state.approveAllBy = by ?? 'someone';
    }
  }
  ctx.running();
  if (name === CHAT_TOOLS.runSteps) return runSteps(ctx, call, input, by, show);

  const args =
    name === CHAT_TOOLS.readLog && !input.run && state.lastRunId ? { ...input, run: state.lastRunId } : input;
  show({ state: 'running' });
  const result = await withSummary(runChatTool, `${name} ${describeCall(name, args)}`, { name, input: args });
  show({ state: result.ok ? 'done' : 'failed', result: result.text.split('\n')[0] });
  return toolTurn(ctx, call, result.ok ? 'done' : 'failed', result.text, { by });
}

async function runSteps(
  ctx: ToolContext,
  call: ChatToolCall,
  input: Record<string, unknown>,
  by: string | null,
  show: (view: Partial<ChatToolView>) => void,
): Promise<ToolResult> {
  const { state } = ctx;
  state.toolRuns += 1;
  const runId = `${ID_PREFIX.pipeline}${ctx.conversationId.replace(ID_PREFIX.chat, '')}-t${state.toolRuns}`;
  state.lastRunId = runId;
  show({ state: 'running', by, runId });
  const steps = input.steps as string[];
  const pipeline: PipelineInput = {
    goal: `${typeof input.goal === 'string' ? input.goal : 'asked in a conversation'} (${ctx.conversationId})`,
    steps,
    requestedBy: by && by !== 'auto' ? by : (ctx.requestedBy ?? undefined),
    ...(ctx.state.plan.workspace ? { workspace: ctx.state.plan.workspace } : {}),
    // The pipeline's own status message goes to the conversation's thread: people see it run.
    ...(ctx.slack ? { slack: { channel: ctx.slack.channel, threadTs: ctx.slack.threadTs } } : {}),
  };
  try {
    const final = await executeChild<typeof pipelineWorkflow>(WORKFLOW_TYPES.pipeline, {
      workflowId: runId,
      args: [pipeline],
      // What the Web UI shows of the child, as a client-started run has (no history of its own here).
      ...(patched(ACTIVITY_SUMMARIES)
        ? {
            staticSummary: oneLine(`pipeline: ${pipeline.goal}`),
            staticDetails: [
              `- **started by:** conversation ${ctx.conversationId}`,
              `- **approved by:** ${by ?? 'not given'}`,
            ].join('\n'),
          }
        : {}),
      // Ending the conversation stops what it started, cleanly (the step's container is removed).
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
    });
    show({ state: 'done', result: `${final.phase}: ${final.steps.map((s) => `${s.name} ${s.status}`).join(', ')}` });
    return toolTurn(ctx, call, 'done', summarizePipeline(final), { by, runId });
  } catch (err) {
    if (isCancellation(err)) throw err;
    const failure = applicationFailureOf(err);
    const final = failure?.details?.[0] as PipelineStatus | undefined;
    const text =
      final && Array.isArray(final.steps)
        ? summarizePipeline(final)
        : `${runId} could not run: ${failure?.message ?? String((err as Error)?.message ?? err)}`;
    show({ state: 'failed', result: text.split('\n')[0] });
    return toolTurn(ctx, call, 'failed', text, { by, runId });
  }
}
