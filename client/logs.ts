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

/** The last `lines` lines of a file, reading only its end (logs can be large). */
export function tailFile(file: string, lines: number): string {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    let start = size;
    let text = '';
    const chunk = 64 * 1024;
    while (start > 0) {
      const from = Math.max(0, start - chunk);
      const buffer = Buffer.alloc(start - from);
      fs.readSync(fd, buffer, 0, buffer.length, from);
      text = buffer.toString('utf8') + text;
      start = from;
      if (text.split('\n').length > lines + 1) break;
    }
    const all = text.replace(/\n$/, '').split('\n');
    return all.slice(-lines).join('\n');
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

/** Prints what is appended to `file` from `offset` on; returns the new offset. */
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
    const buffer = Buffer.alloc(size - offset);
    fs.readSync(fd, buffer, 0, buffer.length, offset);
    return { text: buffer.toString('utf8'), offset: size };
  } finally {
    fs.closeSync(fd);
  }
}
