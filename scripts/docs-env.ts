/**
 * `npm run docs:env`: rewrites README's table of environment variables (between its
 * `env:begin` / `env:end` markers) from CONFIG_VARIABLES in core/config.ts. `--check` only
 * reports whether README is current (exit 1 when it is not).
 */
import fs from 'node:fs';
import path from 'node:path';
import { CONFIG_TABLE_BEGIN, CONFIG_TABLE_END, configVariablesMarkdown, repoRoot } from '../core/config.js';

const readmePath = path.join(repoRoot, 'README.md');

/** README with its variables table replaced by the generated one. */
export function withGeneratedTable(readme: string): string {
  const begin = readme.indexOf(CONFIG_TABLE_BEGIN);
  const end = readme.indexOf(CONFIG_TABLE_END);
  if (begin < 0 || end < begin) {
    throw new Error(`README.md has no "${CONFIG_TABLE_BEGIN}" … "${CONFIG_TABLE_END}" block; add the two markers`);
  }
  return `${readme.slice(0, begin)}${CONFIG_TABLE_BEGIN}\n${configVariablesMarkdown()}\n${readme.slice(end)}`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const current = fs.readFileSync(readmePath, 'utf8');
  const next = withGeneratedTable(current);
  if (process.argv.includes('--check')) {
    if (next !== current) {
      process.stderr.write('README.md: the variables table is out of date; run `npm run docs:env`\n');
      process.exitCode = 1;
    }
  } else if (next !== current) {
    fs.writeFileSync(readmePath, next);
    process.stderr.write('README.md: variables table rewritten\n');
  } else {
    process.stderr.write('README.md: variables table already current\n');
  }
}
