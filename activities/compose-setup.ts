/**
 * A run's Compose setup, read once when it starts: the workspace's compose files and `.env` are
 * copied into the run's folder and every step calls Compose with those copies (relative paths
 * still resolve in the workspace). A step can write the workspace — it is the step's to build —
 * but what it writes there does not change how the rest of its run calls Compose.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { composeProjectName, composeVariables } from '../docker/environment.js';
import type { ComposeSetup } from './types.js';

function digestOf(file: string): string | null {
  try {
    return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  } catch {
    return null;
  }
}

export interface ComposeSources {
  workspace: string;
  /** The compose files Compose would read, relative to the workspace, in order. */
  files: string[];
  /** Variables poc.config.json lets Compose pass on. */
  env: string[];
  /** More workspace files (relative) whose change during the run is worth a line in the log. */
  alsoWatch: string[];
  jobDir: string;
}

/** Copies what Compose reads into `<jobDir>/compose/` and says how steps call it. */
export function fixComposeSetup({ workspace, files: sources, env, alsoWatch, jobDir }: ComposeSources): ComposeSetup {
  const dir = path.join(jobDir, 'compose');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const variables = new Set(env);
  const files = sources.map((relative, i) => {
    const text = fs.readFileSync(path.join(workspace, relative), 'utf8');
    for (const name of composeVariables(text)) variables.add(name);
    // Flat, in order, each keeping its own name (Compose shows it in errors).
    const copy = path.join(dir, `${i + 1}-${path.basename(relative)}`);
    fs.writeFileSync(copy, text, { mode: 0o600 });
    return copy;
  });
  const envFile = path.join(dir, 'env');
  const dotenv = path.join(workspace, '.env');
  fs.writeFileSync(envFile, fs.existsSync(dotenv) ? fs.readFileSync(dotenv) : '', { mode: 0o600 });
  const watched = [...sources, '.env', ...alsoWatch];
  return {
    files,
    projectDirectory: workspace,
    envFile,
    project: composeProjectName(fs.realpathSync(workspace)),
    variables: [...variables].sort(),
    sources: watched.map((relative) => {
      const file = path.join(workspace, relative);
      return { path: file, sha256: digestOf(file) };
    }),
  };
}

/** The workspace files of `setup` that differ now from when the run started. */
export function changedSources(setup: ComposeSetup): string[] {
  return setup.sources.filter((source) => digestOf(source.path) !== source.sha256).map((source) => source.path);
}
