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
const { code } = await bundleWorkflowCode({ workflowsPath: entry, logger: new DefaultLogger('WARN') });
fs.mkdirSync(path.dirname(file), { recursive: true });
const partial = `${file}.${process.pid}.partial`;
fs.writeFileSync(partial, code);
fs.renameSync(partial, file);
