/** Plain-text views of runs for the terminal (colour only when the output is a TTY). */
import type {
  ChatStatus,
  ChatTotals,
  ChatTurn,
  HostInfo,
  LlmStatus,
  PipelineStatus,
  RunStatus,
  StepState,
} from '../core/contract.js';
import { hostMoveText, hostsTable } from '../render/hosts.js';
import type { RunSummary } from '../client/index.js';

export interface Style {
  color: boolean;
}

const codes = { red: 31, green: 32, yellow: 33, blue: 34, gray: 90, bold: 1 } as const;
export function paint(style: Style, color: keyof typeof codes, text: string): string {
  return style.color ? `\u001b[${codes[color]}m${text}\u001b[0m` : text;
}

export const PHASE_MARK: Record<string, string> = {
  QUEUED: '…',
  RUNNING: '▶',
  AWAITING_DECISION: '?',
  DONE: '✔',
  FAILED: '✖',
  CANCELLED: '■',
};

const STEP_MARK: Record<StepState['status'], string> = {
  pending: '·',
  running: '▶',
  done: '✔',
  failed: '✖',
  skipped: '-',
  cancelled: '■',
};

const STEP_COLOR: Record<StepState['status'], keyof typeof codes> = {
  pending: 'gray',
  running: 'blue',
  done: 'green',
  failed: 'red',
  skipped: 'gray',
  cancelled: 'yellow',
};

export function seconds(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '';
  // Round once to the unit shown, then split: 59.95 s is 1m00s, never 60.0s or 1m60s.
  const tenths = Math.round(ms / 100);
  if (tenths < 600) return `${(tenths / 10).toFixed(1)}s`;
  const total = Math.round(ms / 1000);
  return `${Math.floor(total / 60)}m${String(total % 60).padStart(2, '0')}s`;
}

export function stepElapsed(step: StepState, now = Date.now()): number | null {
  if (step.durationMs !== null) return step.durationMs;
  if (step.status === 'running' && step.startedAt) return now - Date.parse(step.startedAt);
  return null;
}

export function stepLine(step: StepState, style: Style, now = Date.now()): string {
  const exit = step.exitCode !== null && step.status !== 'done' ? ` exit ${step.exitCode}` : '';
  const attempt = step.attempt > 1 ? ` (attempt ${step.attempt})` : '';
  const time = seconds(stepElapsed(step, now));
  return paint(
    style,
    STEP_COLOR[step.status],
    `${STEP_MARK[step.status]} ${step.name.padEnd(10)} ${step.status.padEnd(9)} ${time.padStart(7)}${exit}${attempt}`,
  );
}

export const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** A line of a step's output made safe for one terminal line: colours, cursor moves and controls removed. */
export function plainLine(text: string): string {
  return (
    text
      // eslint-disable-next-line no-control-regex -- terminal escapes are exactly what is removed
      .replace(/\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007]*\u0007?/g, '')
      // eslint-disable-next-line no-control-regex -- so are the other control characters
      .replace(/[\u0000-\u001f\u007f]+/g, ' ')
      .replace(/\s+/g, ' ')
      .trim()
  );
}

/**
 * The ticking line of a running step on a terminal: spinner, name, elapsed time and — when the
 * step has reported one — its newest output line, cut to the terminal's width.
 */
export function spinnerLine(
  step: StepState,
  frame: number,
  lastLine: string | undefined,
  style: Style,
  width = 100,
  now = Date.now(),
): string {
  const attempt = step.attempt > 1 ? ` (attempt ${step.attempt})` : '';
  const head =
    `${SPINNER[frame % SPINNER.length]} ${step.name.padEnd(10)} running   ` +
    `${seconds(stepElapsed(step, now)).padStart(7)}${attempt}`;
  const line = lastLine ? plainLine(lastLine) : '';
  const room = width - head.length - 4;
  const output = line && room >= 10 ? ` │ ${line.length > room ? `${line.slice(0, room - 1)}…` : line}` : '';
  return paint(style, 'blue', head) + paint(style, 'gray', output);
}

export function phaseLine(status: RunStatus, style: Style): string {
  const color =
    status.phase === 'DONE'
      ? 'green'
      : status.phase === 'FAILED'
        ? 'red'
        : status.phase === 'CANCELLED'
          ? 'yellow'
          : 'blue';
  return paint(style, color, `${PHASE_MARK[status.phase] ?? ''} ${status.phase}`);
}

export function renderPipeline(status: PipelineStatus, style: Style): string {
  const lines = [`${paint(style, 'bold', status.id)}  ${phaseLine(status, style)}  ${status.goal}`];
  if (status.requestedBy) lines.push(`requested by ${status.requestedBy}`);
  if (status.repo) {
    const at = status.commit ? ` (commit ${status.commit.slice(0, 12)})` : '';
    lines.push(`repo ${status.repo}${status.ref ? ` @ ${status.ref}` : ''}${at}`);
  }
  if (status.host) lines.push(`host ${status.host}`);
  for (const move of status.hostMoves ?? []) lines.push(paint(style, 'yellow', `${hostMoveText(move)} (${move.at})`));
  if (status.phase === 'QUEUED' && status.queueReason) {
    const ahead = status.queuePosition ? ` (${status.queuePosition} run(s) ahead)` : '';
    lines.push(`waiting: ${status.queueReason}${ahead}`);
  } else if (status.phase === 'QUEUED' && status.queuePosition)
    lines.push(`waiting: ${status.queuePosition} run(s) ahead in ${status.workspace ?? 'the workspace'}`);
  for (const step of status.steps) {
    lines.push('  ' + stepLine(step, style));
    if (step.status === 'running' && step.lastLine)
      lines.push(paint(style, 'gray', `      │ ${plainLine(step.lastLine)}`));
  }
  if (status.pendingDecision) {
    const d = status.pendingDecision;
    const verbs = d.options.map((o) => (o === 'approveAll' ? 'approve-all' : o)).join('|');
    lines.push(
      paint(
        style,
        'yellow',
        `awaiting a decision on ${d.step} (${d.kind}): poc ${verbs} ${status.id}  — until ${d.deadline}`,
      ),
    );
  }
  for (const d of status.decisions)
    lines.push(paint(style, 'gray', `  ${d.step}: ${d.action} by ${d.by ?? 'someone'} at ${d.at}`));
  const refused = status.lastRefusedDecision;
  if (refused) {
    const what = `${refused.action ? `"${refused.action}"` : 'a decision'}${refused.by ? ` from ${refused.by}` : ''}`;
    lines.push(paint(style, 'yellow', `last refused decision: ${what} at ${refused.at}: ${refused.reason}`));
  }
  if (status.error) lines.push(paint(style, 'red', `error: ${status.error}`));
  return lines.join('\n');
}

export function renderLlm(status: LlmStatus, style: Style): string {
  const lines = [
    `${paint(style, 'bold', status.id)}  ${phaseLine(status, style)}  ${status.backend}/${status.model}`,
    `prompt: ${status.prompt}`,
  ];
  if (status.result) {
    const r = status.result;
    lines.push(
      '',
      r.text,
      '',
      paint(
        style,
        'gray',
        `${r.usage.inputTokens} in / ${r.usage.outputTokens} out tokens · ` +
          `${seconds(r.latencyMs)} · ${r.attempts} attempt(s) · ${r.finishReason}`,
      ),
    );
  } else if (status.partialText) {
    lines.push('', status.partialText + ' …');
  }
  if (status.error) lines.push(paint(style, 'red', `error: ${status.error}`));
  return lines.join('\n');
}

export function renderStatus(given: RunStatus, style: Style): string {
  // Goals, errors, answers and output lines come from people, models and step code: none of
  // their bytes may drive the terminal (colours here are ours alone).
  const status = withoutControls(given);
  if (status.kind === 'chat') return renderChat(status, style);
  return status.kind === 'pipeline' ? renderPipeline(status, style) : renderLlm(status, style);
}

/**
 * `value` with every string's terminal escapes and control characters removed, line breaks and
 * tabs kept (an answer keeps its lines).
 */
export function withoutControls<T>(value: T): T {
  if (typeof value === 'string')
    return (
      value
        // eslint-disable-next-line no-control-regex -- terminal escapes are exactly what is removed
        .replace(/\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b./g, '')
        // eslint-disable-next-line no-control-regex -- so are the other controls, C1 included
        .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '') as T
    );
  if (Array.isArray(value)) return value.map((item: unknown) => withoutControls(item)) as T;
  // Plain records only: a Date (a run's start time) stays what it is.
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutControls(v)])) as T;
  return value;
}

export function costText(costUsd: number | null): string {
  if (costUsd === null) return 'cost unknown';
  return costUsd === 0 ? '$0' : `~$${costUsd < 0.01 ? costUsd.toFixed(4) : costUsd.toFixed(2)}`;
}

export function totalsText(totals: ChatTotals): string {
  return (
    `${totals.requests} request(s) · ${totals.inputTokens} in / ${totals.outputTokens} out tokens · ` +
    `${costText(totals.costUsd)}${totals.unpriced ? ` + ${totals.unpriced} unpriced` : ''} (estimate)`
  );
}

/** One turn as the transcript shows it. */
export function turnLine(turn: ChatTurn, style: Style): string {
  if (turn.role === 'user') return `${paint(style, 'bold', `[${turn.n}] ${turn.by ?? 'user'}:`)} ${turn.text}`;
  if (turn.role === 'tool')
    return paint(
      style,
      'gray',
      `[${turn.n}] ${turn.tool ?? 'tool'} ${turn.outcome ?? ''}: ${turn.text.split('\n')[0]}`,
    );
  const usage = turn.usage
    ? paint(
        style,
        'gray',
        ` (${turn.usage.inputTokens} in / ${turn.usage.outputTokens} out · ${costText(turn.usage.costUsd)})`,
      )
    : '';
  const calls = (turn.toolCalls ?? []).map((c) =>
    paint(style, 'yellow', `\n    → ${c.name} ${JSON.stringify(c.input)}`),
  );
  const text = turn.error ? paint(style, 'red', `no answer: ${turn.error}`) : turn.text;
  return `${paint(style, 'blue', `[${turn.n}] model:`)} ${text}${calls.join('')}${usage}`;
}

export function renderChat(status: ChatStatus, style: Style): string {
  const lines = [
    `${paint(style, 'bold', status.id)}  ${phaseLine(status, style)}  ${status.backend}/${status.model}` +
      (status.waitingFor && status.phase !== 'DONE' ? `  waiting for ${status.waitingFor}` : ''),
  ];
  if (status.requestedBy) lines.push(`started by ${status.requestedBy}`);
  lines.push(`tools: ${status.tools.length ? status.tools.join(', ') : 'none'}`);
  if (status.earlierTurns)
    lines.push(paint(style, 'gray', `(${status.earlierTurns} earlier turn(s) folded into a digest)`));
  for (const turn of status.turns) lines.push(turnLine(turn, style));
  if (status.pendingDecision) {
    const d = status.pendingDecision;
    lines.push(
      paint(
        style,
        'yellow',
        `awaiting approval of ${d.tool ?? 'a tool'} (${d.step}): poc approve|approve-all|deny ${status.id}`,
      ),
    );
  }
  lines.push(paint(style, 'gray', totalsText(status.usage)));
  if (status.error) lines.push(paint(style, 'red', `error: ${status.error}`));
  return lines.join('\n');
}

export function renderList(given: RunSummary[], style: Style): string {
  const runs = withoutControls(given);
  if (runs.length === 0) return 'no runs yet; start one with `poc run`';
  const idWidth = Math.max(...runs.map((r) => r.workflowId.length));
  return runs
    .map((r) => {
      const title = r.title.length > 60 ? r.title.slice(0, 59) + '…' : r.title;
      const phase = `${PHASE_MARK[r.phase] ?? ' '} ${r.phase}`.padEnd(20);
      const colour = r.phase === 'FAILED' ? 'red' : r.phase === 'DONE' ? 'green' : 'blue';
      const when = r.startTime.toISOString().slice(0, 16).replace('T', ' ');
      return `${r.workflowId.padEnd(idWidth)}  ${paint(style, colour, phase)} ${when}  ${title.replace(/\s+/g, ' ')}`;
    })
    .join('\n');
}

/** `poc hosts`: one line per host — state, slots in use, labels, last heartbeat, runs (coloured by state). */
export function renderHosts(hosts: HostInfo[], style: Style, now = Date.now()): string {
  const colour = (state: string) => (state === 'up' ? 'green' : state === 'lost' ? 'red' : 'yellow');
  return hostsTable(hosts, now, {
    header: (line) => paint(style, 'bold', line),
    row: (line, host) =>
      paint(style, colour(host.state), line) + (host.problem ? paint(style, 'gray', `  (${host.problem})`) : ''),
  });
}
