/** Plain-text views of the fleet, the same words in the terminal and in Slack. */
import type { HostInfo, HostMove } from '../core/contract.js';

/** `moved from host-a to host-b: host-a stopped answering`. */
export function hostMoveText(move: HostMove): string {
  return move.from === move.to
    ? `started again on ${move.to}: ${move.reason}`
    : `moved from ${move.from} to ${move.to}: ${move.reason}`;
}

/** How long ago `iso` was, in the largest unit that keeps it short (`4s ago`, `12m ago`, `3h ago`). */
export function ago(iso: string, now: number): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 120) return `${seconds}s ago`;
  if (seconds < 7_200) return `${Math.round(seconds / 60)}m ago`;
  return `${Math.round(seconds / 3_600)}h ago`;
}

export interface TableStyle {
  header(line: string): string;
  row(line: string, host: HostInfo): string;
}

const plain: TableStyle = { header: (line) => line, row: (line) => line };

/** The hosts as an aligned table: HOST STATE SLOTS LABELS LAST SEEN RUNS. */
export function hostsTable(hosts: HostInfo[], now: number, style: TableStyle = plain): string {
  if (hosts.length === 0) return 'no build hosts; start one with `poc worker`';
  const rows = hosts.map((h) => [
    h.name,
    h.state,
    `${h.running.length}/${h.slots}`,
    h.labels.join(',') || '-',
    ago(h.lastSeen, now),
    h.running.join(' ') || '-',
  ]);
  const header = ['HOST', 'STATE', 'SLOTS', 'LABELS', 'LAST SEEN', 'RUNS'];
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [style.header(line(header)), ...rows.map((row, i) => style.row(line(row), hosts[i]))].join('\n');
}
