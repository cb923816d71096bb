/**
 * One contract: every public or cross-boundary name (workflow types, failure types, search
 * attributes, internal ids) is defined in core/contract.ts and nowhere else.
 */
import { describe, test, expect } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../core/config.js';
import { FAILURE_TYPES, INTERNAL_ID, SEARCH_ATTRIBUTE_KEYS, WORKFLOW_TYPES } from '../../core/contract.js';

const SOURCE_ROOMS = [
  'core',
  'client',
  'docker',
  'render',
  'providers',
  'activities',
  'workflows',
  'worker',
  'cli',
  'slack',
];

function sourceFiles(): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts')) files.push(full);
    }
  };
  for (const room of SOURCE_ROOMS) walk(path.join(repoRoot, room));
  return files;
}

/** String literals (quotes or backticks) in code, comments left out. */
function literalsOf(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  return [...code.matchAll(/(['"`])((?:(?!\1)[^\\\n]|\\.)*)\1/g)].map((m) => m[2]);
}

describe('core/contract.ts', () => {
  test('the worker registers every workflow type under its contract name', () => {
    const index = fs.readFileSync(path.join(repoRoot, 'workflows', 'index.ts'), 'utf8');
    for (const type of Object.values(WORKFLOW_TYPES)) expect(index).toMatch(new RegExp(`\\bas ${type}\\b`));
  });

  test('names are typed once: no other source file spells a failure type, search attribute or internal id', () => {
    const names = new Set<string>([
      ...Object.values(FAILURE_TYPES),
      ...SEARCH_ATTRIBUTE_KEYS.map((key) => key.name),
      ...Object.values(WORKFLOW_TYPES).filter((type) => type !== 'pipeline'),
      INTERNAL_ID.workspaceLockPrefix,
      INTERNAL_ID.retentionSchedule,
    ]);
    const offenders: string[] = [];
    for (const file of sourceFiles()) {
      if (file === path.join(repoRoot, 'core', 'contract.ts')) continue;
      for (const literal of literalsOf(fs.readFileSync(file, 'utf8'))) {
        if (names.has(literal)) offenders.push(`${path.relative(repoRoot, file)}: '${literal}'`);
      }
    }
    expect(offenders).toEqual([]);
  });

  test('failure types are distinct', () => {
    const values = Object.values(FAILURE_TYPES);
    expect(new Set(values).size).toBe(values.length);
  });
});
