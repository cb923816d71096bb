/**
 * Ports for the cluster. The server stores each host's membership (ringpop) port as a PostgreSQL
 * smallint, so a port of 32768 or more (the OS's ephemeral range) crashes every service at start:
 * all ports come from a lower range, each checked free by binding it.
 */
import net from 'node:net';

export const PORT_RANGE = { from: 20_000, to: 32_000 } as const;

/** True when nothing listens on host:port right now (we can bind it ourselves). */
export function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * `count` distinct free ports from the range, starting at a random offset so two clusters started
 * at once rarely race for the same ones. `preferred[i]` (the last run's port for the same role) is
 * kept when still free, so the frontend's address stays the same across `down`/`up`.
 */
export async function pickFreePorts(
  count: number,
  {
    preferred = [],
    range = PORT_RANGE,
    host = '127.0.0.1',
  }: { preferred?: number[]; range?: { from: number; to: number }; host?: string } = {},
): Promise<number[]> {
  const inRange = (port: number) => Number.isInteger(port) && port >= range.from && port < range.to;
  const picked: number[] = [];
  const size = range.to - range.from;
  let candidate = range.from + Math.floor(Math.random() * size);
  let tried = 0;
  const nextFree = async (): Promise<number> => {
    for (; tried < size; tried += 1) {
      candidate = range.from + ((candidate - range.from + 1) % size);
      if (picked.includes(candidate) || preferred.includes(candidate)) continue;
      if (await portIsFree(candidate, host)) return candidate;
    }
    throw new Error(`could not find ${count} free ports between ${range.from} and ${range.to} on ${host}`);
  };
  for (let i = 0; i < count; i += 1) {
    const wanted = preferred[i];
    const keep =
      wanted !== undefined && inRange(wanted) && !picked.includes(wanted) && (await portIsFree(wanted, host));
    picked.push(keep ? wanted : await nextFree());
  }
  return picked;
}

/** True once something accepts TCP connections on host:port (a process's "port answers"). */
export function portAnswers(port: number, host = '127.0.0.1', timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
