/**
 * Per-layer backstop timeouts (jest reads `testTimeout` only from the global config, so each
 * layer sets its own here). Tests do not rely on them: they wait on events and conditions, each
 * with its own deadline and a message saying what did not happen.
 */
import { expect, jest } from '@jest/globals';

const file = expect.getState().testPath ?? '';
const timeoutMs = /[/\\]unit[/\\]/.test(file) ? 10_000 : /\.e2e\.test\.ts$/.test(file) ? 900_000 : 180_000;
jest.setTimeout(timeoutMs);
