#!/usr/bin/env node
// The `poc` command: TypeScript sources run through tsx, so a fresh clone needs no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
const code = await main(process.argv.slice(2));
process.exitCode = code;
// Output to a pipe is flushed before exit; a stray handle must not keep the command alive.
setTimeout(() => process.exit(code), 3_000).unref();
