#!/usr/bin/env -S MALLOC_ARENA_MAX=2 MALLOC_TRIM_THRESHOLD_=65536 MALLOC_MMAP_THRESHOLD_=65536 node --max-semi-space-size=1 --max-old-space-size=384
// The `poc` command. Its first line sizes the process for a long-running worker: V8's young
// generation kept at 1 MiB a half, the old generation at 384 MiB (the SDK sizes the workflow cache
// to that), two malloc arenas instead of one per thread of the Temporal runtime, and freed memory
// handed back to the system past 64 KiB (glibc's default threshold climbs to 32 MiB under a busy
// worker's allocations, so its RSS only grew). Measured by bench/hostile.ts, see README. For a
// larger heap: `node --max-old-space-size=2048 node_modules/.bin/poc worker` (node ignores this
// line then). The line stays under the kernel's 255 characters (test/unit/bin.test.ts).
//
// One bin for both ways the code arrives:
// - a clone (cli/main.ts sits beside this file): the TypeScript sources run through tsx, so
//   `npm ci && npx poc …` needs no build step and always runs the code as it is in the tree;
// - the installed package (only dist/ ships, no .ts): the JavaScript `npm run build` emitted, on
//   plain node; tsx is a dev dependency and is neither installed nor loaded there.
// The bin stays here rather than under dist/ because a clone has no dist/ until it builds.
import fs from 'node:fs';

const source = new URL('./main.ts', import.meta.url);
let main;
if (fs.existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(source.href));
} else {
  ({ main } = await import('../dist/cli/main.js'));
}
const code = await main(process.argv.slice(2));
process.exitCode = code;
// Output to a pipe is flushed before exit; a stray handle must not keep the command alive.
setTimeout(() => process.exit(code), 3_000).unref();
