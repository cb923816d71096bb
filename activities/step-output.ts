/**
 * A step's output on its way to the log: redacted record by record (a record ends at `\n`, or at
 * `\r` as progress bars end theirs), written as it comes, with the last lines kept for the status
 * (`logTail`) and the heartbeat.
 *
 * Whatever the step prints costs linear time and bounded memory: chunks are kept as pieces (never
 * concatenated again and again), and a record that grows past `MAX_RECORD_CHARS` without ending —
 * 100 MB on one line — is redacted and written in slices, each cut at a blank where there is one,
 * so a secret is not split between two slices.
 */
import { createLineRedactor, redact as processRedact, type Redactor } from '../core/redact.js';

export const TAIL_LINES = 40;
export const TAIL_CHARS = 3_500;
/** A record longer than this is written in slices (the rest stays in memory until it ends). */
export const MAX_RECORD_CHARS = 64 * 1024;
/** What stays behind a slice cut: a secret value is shorter, so none is cut in two. */
const CARRY_CHARS = 4 * 1024;
/** A line in the tail is cut to this (the log has it whole). */
const TAIL_LINE_CHARS = 1_000;

function cutLine(line: string): string {
  return line.length > TAIL_LINE_CHARS ? `${line.slice(0, TAIL_LINE_CHARS)}…` : line;
}

export class StepOutput {
  private readonly redactRecord: Redactor;
  private pieces: string[] = [];
  private piecesLength = 0;
  /** The current line as a terminal shows it: its last `\r` record (progress), redacted. */
  private shown = '';
  private lines: string[] = [];
  private readonly separators = /[\r\n]/g;
  /** Bytes received (for the heartbeat). */
  bytes = 0;

  constructor(redact: Redactor = processRedact) {
    this.redactRecord = createLineRedactor(redact);
  }

  /** Feeds a chunk; returns the redacted text to append to the log now. */
  push(chunk: string): string {
    this.bytes += Buffer.byteLength(chunk);
    const out: string[] = [];
    let start = 0;
    this.separators.lastIndex = 0;
    for (let match = this.separators.exec(chunk); match; match = this.separators.exec(chunk)) {
      const record = this.take(chunk.slice(start, match.index));
      const clean = this.redactRecord(record);
      out.push(clean + match[0]);
      if (match[0] === '\r') {
        if (clean) this.shown = clean;
      } else {
        this.keepLine(clean || this.shown);
        this.shown = '';
      }
      start = match.index + 1;
    }
    if (start < chunk.length) {
      this.pieces.push(chunk.slice(start));
      this.piecesLength += chunk.length - start;
    }
    if (this.piecesLength > MAX_RECORD_CHARS) out.push(this.slice());
    return out.join('');
  }

  /** The end of the output: the unfinished record, redacted (empty when there is none). */
  end(): string {
    if (this.piecesLength === 0) return '';
    const clean = this.redactRecord(this.take(''));
    this.keepLine(clean);
    return clean;
  }

  tail(): string {
    let text = this.lines.slice(-TAIL_LINES).join('\n');
    if (text.length > TAIL_CHARS) text = '…' + text.slice(-TAIL_CHARS);
    return text;
  }

  lastLine(): string {
    return this.shown || (this.lines[this.lines.length - 1] ?? '');
  }

  /** The pending pieces and `rest`, as one string; the pieces are emptied. */
  private take(rest: string): string {
    if (this.pieces.length === 0) return rest;
    const record = this.pieces.join('') + rest;
    this.pieces = [];
    this.piecesLength = 0;
    return record;
  }

  /** Writes out all but the end of an overlong record, cut at the last blank before the carry. */
  private slice(): string {
    const record = this.take('');
    const limit = record.length - CARRY_CHARS;
    const blank = Math.max(record.lastIndexOf(' ', limit), record.lastIndexOf('\t', limit));
    const cut = blank > limit - CARRY_CHARS ? blank + 1 : limit;
    const rest = record.slice(cut);
    this.pieces = [rest];
    this.piecesLength = rest.length;
    const clean = this.redactRecord(record.slice(0, cut));
    this.shown = cutLine(clean.slice(-TAIL_LINE_CHARS));
    return clean;
  }

  private keepLine(line: string): void {
    this.lines.push(cutLine(line));
    if (this.lines.length > TAIL_LINES * 2) this.lines = this.lines.slice(-TAIL_LINES);
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
