/**
 * `poc chat`: a conversation in the terminal. Each line read is a turn; the answer streams to
 * stdout, tool calls and usage go to stderr, an approval is asked and answered inline (yes / all
 * / no), `/end` ends the conversation. At the end of input the conversation ends too, unless it
 * was joined (`--id`) or `--keep` was given: then it stays open for Slack, another terminal or
 * `poc chat --id`.
 *
 * `--json` is for scripts: no streaming, one JSON object per line on stdout — the answer to each
 * turn, or the approval a tool call waits for (the next input line answers it).
 */
import readline from 'node:readline';
import type { Client } from '@temporalio/client';
import {
  answered,
  decide,
  endChat,
  followRun,
  getChatStatus,
  say,
  startChat,
  type ChatStatus,
  type ChatTurn,
} from '../client/index.js';
import { chatModelFor, runUrl, type PocConfig } from '../core/config.js';
import type { Command } from '../client/grammar.js';
import { paint, totalsText, type Style } from './render.js';

export interface ChatIo {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  style: Style;
  /** `cli:<user>`: who says what is typed. */
  who: string;
}

const APPROVE_WORDS: Record<string, 'approve' | 'approveAll' | 'deny'> = {
  y: 'approve',
  yes: 'approve',
  ok: 'approve',
  approve: 'approve',
  a: 'approveAll',
  all: 'approveAll',
  n: 'deny',
  no: 'deny',
  deny: 'deny',
  stop: 'deny',
};

/** Reads input lines one at a time (undefined at the end of input). */
function lineReader(stdin: NodeJS.ReadableStream) {
  const rl = readline.createInterface({ input: stdin, terminal: false });
  const lines = rl[Symbol.asyncIterator]();
  return {
    async next(): Promise<string | undefined> {
      const { value, done } = await lines.next();
      return done ? undefined : String(value);
    },
    close: () => rl.close(),
  };
}

export async function runChat(
  client: Client,
  config: PocConfig,
  command: Extract<Command, { name: 'chat' }>,
  io: ChatIo,
): Promise<number> {
  const write = (stream: NodeJS.WritableStream, text: string) => stream.write(text);
  const note = (text: string) => write(io.stderr, `${text}\n`);
  const json = (value: unknown) => write(io.stdout, `${JSON.stringify(value)}\n`);

  let id: string;
  const joined = command.id !== undefined;
  if (command.id !== undefined) {
    id = (await getChatStatus(client, command.id)).id;
  } else {
    const { backend, model } = chatModelFor(config.chat, command.backend, command.model);
    const workspace = command.workspace ?? config.workspaceFromEnv;
    const started = await startChat(
      client,
      {
        backend,
        model,
        requestedBy: io.who,
        ...(command.prompt ? { prompt: command.prompt } : {}),
        ...(command.system ? { system: command.system } : {}),
        ...(workspace ? { workspace } : {}),
      },
      { taskQueue: config.taskQueue },
    );
    id = started.workflowId;
  }
  const first = await getChatStatus(client, id);
  if (!command.json) {
    note(
      paint(io.style, 'bold', `${id}`) +
        ` · ${first.backend}/${first.model} · tools: ${first.tools.length ? first.tools.join(', ') : 'none'}`,
    );
    note(
      paint(io.style, 'gray', `${runUrl(config, id)}\nType a message; /end ends the conversation, Ctrl-D leaves it.`),
    );
  }

  const input = lineReader(io.stdin);
  // A joined conversation shows its last exchange for context; a new one is shown from its start.
  let printedUpTo = joined ? Math.max(0, first.earlierTurns + first.turns.length - 2) : 0;
  if (joined && !command.json) for (const t of first.turns.filter((x) => x.n > printedUpTo)) printTurn(t, '');
  if (joined) printedUpTo = first.earlierTurns + first.turns.length;
  let failed = false;
  try {
    let waitFor = command.prompt && !joined ? 1 : 0;
    let endAsked = false;
    for (;;) {
      if (waitFor > 0) {
        const status = await follow(waitFor);
        if (status === 'ended') return 0;
        if (status.turns.some((t) => t.n > waitFor && t.role === 'assistant' && t.error)) failed = true;
        waitFor = 0;
      }
      if (!command.json) write(io.stderr, paint(io.style, 'bold', '> '));
      const line = await input.next();
      if (line === undefined) break;
      const text = line.trim();
      if (!text) continue;
      if (text === '/end') {
        endAsked = true;
        break;
      }
      const said = await say(client, id, { text, by: io.who });
      waitFor = said.turn;
    }
    // The end of input ends what this session started; `/end` ends any conversation.
    if (endAsked || (!joined && !command.keep)) {
      const final = await endChat(client, id, io.who);
      if (command.json) json({ id, ended: true, usage: final.usage });
      else note(paint(io.style, 'gray', `ended ${id} · ${totalsText(final.usage)}`));
    } else if (!command.json) {
      note(`left ${id} open; \`poc chat --id ${id}\` comes back to it (it ends after a day of quiet)`);
    }
    return failed ? 1 : 0;
  } finally {
    input.close();
  }

  /** Prints what follows turn `turn` until the model has answered it; asks approvals on the way. */
  async function follow(turn: number): Promise<ChatStatus | 'ended'> {
    let streamingN = 0;
    let streamed = '';
    let streamedAttempt = 1;
    for (;;) {
      const status = (await followRun(
        client,
        id,
        (s) => {
          if (command.json || s.kind !== 'chat') return;
          for (const t of s.turns) {
            if (t.n <= printedUpTo) continue;
            if (t.role === 'assistant' && t.streaming) {
              if (t.n !== streamingN) {
                streamingN = t.n;
                streamed = '';
                streamedAttempt = t.attempt ?? 1;
              }
              if ((t.attempt ?? 1) !== streamedAttempt) {
                streamedAttempt = t.attempt ?? 1;
                write(io.stdout, `\n[attempt ${streamedAttempt}]\n`);
                streamed = '';
              }
              if (t.text.startsWith(streamed) && t.text.length > streamed.length) {
                write(io.stdout, t.text.slice(streamed.length));
                streamed = t.text;
              }
              return;
            }
            printTurn(t, t.n === streamingN ? streamed : '');
            printedUpTo = t.n;
          }
        },
        { intervalMs: 150, until: (s) => s.kind === 'chat' && answered(s, turn) },
      )) as ChatStatus;
      if (status.waitingFor === 'decision' && status.pendingDecision) {
        const decision = status.pendingDecision;
        if (command.json) json({ id, pendingDecision: decision });
        else
          note(
            paint(
              io.style,
              'yellow',
              `? the model wants to run ${decision.tool ?? 'a tool'}: ${decision.step} — approve? ` +
                '[y]es / [a]ll (every later call too) / [n]o',
            ),
          );
        const line = await input.next();
        const action = APPROVE_WORDS[(line ?? 'no').trim().toLowerCase()] ?? 'deny';
        await decide(client, id, { action, by: io.who, decisionId: decision.id }).catch((e: Error) =>
          note(paint(io.style, 'red', e.message)),
        );
        continue;
      }
      if (status.phase !== 'RUNNING' && status.phase !== 'AWAITING_DECISION') {
        if (!command.json) note(paint(io.style, 'gray', `${id} ended (${status.phase})`));
        return 'ended';
      }
      if (command.json) {
        const newTurns = status.turns.filter((t) => t.n > Math.max(printedUpTo, turn));
        const answer = [...newTurns].reverse().find((t) => t.role === 'assistant');
        json({
          id,
          turn,
          answer: answer?.text ?? '',
          ...(answer?.error ? { error: answer.error } : {}),
          turns: newTurns,
          usage: status.usage,
        });
        printedUpTo = status.earlierTurns + status.turns.length;
      }
      return status;
    }
  }

  function printTurn(t: ChatTurn, alreadyShown: string): void {
    if (t.role === 'user') {
      if (t.by !== io.who) note(paint(io.style, 'bold', `${t.by ?? 'someone'}: `) + t.text);
      return;
    }
    if (t.role === 'tool') {
      const mark = t.outcome === 'done' ? '✔' : t.outcome === 'denied' ? '■' : '✖';
      note(paint(io.style, 'gray', `  ${mark} ${t.tool ?? 'tool'} ${t.outcome ?? ''}: ${t.text.split('\n')[0]}`));
      return;
    }
    if (t.error) {
      note(paint(io.style, 'red', `no answer: ${t.error}`));
      return;
    }
    const rest = t.text.startsWith(alreadyShown) ? t.text.slice(alreadyShown.length) : `\n${t.text}`;
    write(io.stdout, `${rest}\n`);
    for (const call of t.toolCalls ?? [])
      note(paint(io.style, 'yellow', `  → ${call.name} ${JSON.stringify(call.input)}`));
    if (t.usage)
      note(
        paint(
          io.style,
          'gray',
          `  ${t.usage.inputTokens} in / ${t.usage.outputTokens} out tokens · ` +
            `${t.usage.costUsd === null ? 'cost unknown' : `~$${t.usage.costUsd.toFixed(4)}`}`,
        ),
      );
  }
}
