/**
 * Bundles the workflows for worker/bundle.ts in a process of its own (webpack's memory goes away
 * with it): `bundle-child <workflows entry> <output file>`. The file appears whole or not at all.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DefaultLogger, bundleWorkflowCode } from '@temporalio/worker';

const [entry, file] = process.argv.slice(2);
if (!entry || !file) {
  process.stderr.write('usage: bundle-child <workflows entry> <output file>\n');
  process.exit(2);
}
// Every module of the bundle is loaded once into the shared V8 context instead of once per
// workflow: a cached pipeline costs about 200 KiB instead of 340 (measured with 300 waiting runs).
// Safe because no module here keeps state at module scope (workflow state lives in the workflow
// function; module scope holds constants, activity proxies and pure functions, and the SDK freezes
// them) — CLAUDE.md's determinism fence says so, and the workflows' tests run on this bundle.
const { code } = await bundleWorkflowCode({
  workflowsPath: entry,
  logger: new DefaultLogger('WARN'),
  preloadModules: ['@temporalio/workflow', '@temporalio/common', entry],
});
fs.mkdirSync(path.dirname(file), { recursive: true });
const partial = `${file}.${process.pid}.partial`;
fs.writeFileSync(partial, code);
fs.renameSync(partial, file);
