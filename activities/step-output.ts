/**
 * A step's output on its way to the log: complete lines redacted, the last ones kept for the
 * status (`logTail`) and the heartbeat.
 */
import { redact } from '../core/redact.js';

const TAIL_LINES = 40;
const TAIL_CHARS = 3_500;

/** Keeps the last lines of a stream, redacted, split on newlines across chunk boundaries. */
export class LineTail {
  private lines: string[] = [];
  private partial = '';
  bytes = 0;

  /** Feeds a chunk; returns the complete lines (redacted) it finished. */
  push(chunk: string): string[] {
    this.bytes += Buffer.byteLength(chunk);
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    const done = parts.map((line) => redact(line.replace(/\r$/, '')));
    this.lines.push(...done);
    if (this.lines.length > TAIL_LINES * 2) this.lines = this.lines.slice(-TAIL_LINES);
    return done;
  }

  /** The unfinished last line, redacted, and forgets it. */
  flush(): string | undefined {
    if (!this.partial) return undefined;
    const line = redact(this.partial);
    this.partial = '';
    this.lines.push(line);
    return line;
  }

  tail(): string {
    let text = this.lines.slice(-TAIL_LINES).join('\n');
    if (text.length > TAIL_CHARS) text = '…' + text.slice(-TAIL_CHARS);
    return text;
  }

  lastLine(): string {
    return this.lines[this.lines.length - 1] ?? '';
  }
}

/**
 * The newest line, sent on at most every `everyMs` and only when it changed since the last send
 * (runs that report to Slack: each send is a signal in the run's history). `next` tells what to
 * send now, if anything.
 */
export class CoalescedLine {
  private sent: string | undefined;
  private sentAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly everyMs: number) {}

  next(line: string, now: number): string | undefined {
    if (!line || line === this.sent || now - this.sentAt < this.everyMs) return undefined;
    this.sent = line;
    this.sentAt = now;
    return line;
  }
}
