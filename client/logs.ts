/** Step logs: read from the file the worker writes, or from the run's status when the file is elsewhere. */
import fs from 'node:fs';
import type { PipelineStatus, StepState } from '../core/contract.js';

/** The step a `logs` request without a step name means: the failed one, else the running, else the last that ran. */
export function pickStep(status: PipelineStatus, name?: string): StepState {
  if (name) {
    const step = status.steps.find((s) => s.name === name);
    if (!step)
      throw new Error(`${status.id} has no step "${name}" (steps: ${status.steps.map((s) => s.name).join(', ')})`);
    return step;
  }
  return (
    status.steps.find((s) => s.status === 'failed') ??
    status.steps.find((s) => s.status === 'running') ??
    [...status.steps].reverse().find((s) => s.logPath !== null) ??
    status.steps[0]
  );
}

/** At most this much of a log's end is read for a tail, whatever the file's shape. */
export const MAX_TAIL_BYTES = 1024 * 1024;
/** A line of a tail is shown by its end, at most this long. */
export const MAX_TAIL_LINE_CHARS = 4_000;
/** At most this much is read per call when following a log. */
export const MAX_FOLLOW_BYTES = 1024 * 1024;

/** The length of `buffer` without a UTF-8 character cut at its end. */
function wholeUtf8Length(buffer: Buffer): number {
  for (let back = 1; back <= Math.min(3, buffer.length); back++) {
    const byte = buffer[buffer.length - back];
    if ((byte & 0xc0) === 0x80) continue; // A continuation byte: look further back.
    const size = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return size > back ? buffer.length - back : buffer.length;
  }
  return buffer.length;
}

/**
 * The last `lines` lines of a file, reading only its end — at most MAX_TAIL_BYTES, in 64 KiB
 * chunks — so 100 MB on one line costs what a short log costs. A line longer than
 * MAX_TAIL_LINE_CHARS is shown by its end, marked with `…`.
 */
export function tailFile(file: string, lines: number): string {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const chunks: Buffer[] = [];
    let start = size;
    let newlines = 0;
    const chunk = 64 * 1024;
    while (start > 0 && size - start < MAX_TAIL_BYTES && newlines <= lines) {
      const from = Math.max(0, start - chunk, size - MAX_TAIL_BYTES);
      const buffer = Buffer.alloc(start - from);
      fs.readSync(fd, buffer, 0, buffer.length, from);
      for (const byte of buffer) if (byte === 0x0a) newlines += 1;
      chunks.unshift(buffer);
      start = from;
    }
    // Read from the middle of a file: its first bytes may be the tail of a character.
    let text = Buffer.concat(chunks).toString('utf8');
    if (start > 0) text = `…${text.replace(/^\uFFFD+/, '')}`;
    const all = text.replace(/\n$/, '').split('\n');
    return all
      .slice(-lines)
      .map((line) => (line.length > MAX_TAIL_LINE_CHARS ? `…${line.slice(-MAX_TAIL_LINE_CHARS)}` : line))
      .join('\n');
  } finally {
    fs.closeSync(fd);
  }
}

export interface StepLog {
  step: string;
  path: string | null;
  text: string;
  /** Where the text came from: the log file, or the tail the run keeps in its status. */
  source: 'file' | 'status' | 'none';
}

export function readStepLog(status: PipelineStatus, stepName: string | undefined, lines: number): StepLog {
  const step = pickStep(status, stepName);
  if (step.logPath && fs.existsSync(step.logPath)) {
    return { step: step.name, path: step.logPath, text: tailFile(step.logPath, lines), source: 'file' };
  }
  if (step.logTail)
    return {
      step: step.name,
      path: step.logPath,
      text: step.logTail.split('\n').slice(-lines).join('\n'),
      source: 'status',
    };
  return { step: step.name, path: step.logPath, text: '', source: 'none' };
}

/**
 * What was appended to `file` from `offset` on (at most MAX_FOLLOW_BYTES, ending on a whole
 * character); returns the new offset, so a follower reads a fast-growing log in bounded pieces.
 */
export function readFrom(file: string, offset: number): { text: string; offset: number } {
  let size: number;
  try {
    size = fs.statSync(file).size;
  } catch {
    return { text: '', offset };
  }
  if (size < offset) offset = 0; // Truncated or replaced: start over.
  if (size === offset) return { text: '', offset };
  const fd = fs.openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(Math.min(size - offset, MAX_FOLLOW_BYTES));
    const read = fs.readSync(fd, buffer, 0, buffer.length, offset);
    const whole = offset + read < size ? wholeUtf8Length(buffer.subarray(0, read)) : read;
    return { text: buffer.subarray(0, whole).toString('utf8'), offset: offset + whole };
  } finally {
    fs.closeSync(fd);
  }
}
