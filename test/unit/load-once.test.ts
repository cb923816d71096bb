/** loadOnce: the SDKs and each provider's client are made on first use, once, and a failed load is not kept. */
import { expect, test } from '@jest/globals';
import { loadOnce } from '../../core/load-once.js';

test('callers at the same time share one load, and later callers get what it loaded', async () => {
  let loads = 0;
  const load = loadOnce(async () => ({ n: ++loads }));
  const [a, b] = await Promise.all([load(), load()]);
  expect(a).toBe(b);
  expect(await load()).toBe(a);
  expect(loads).toBe(1);
});

test('a load that failed is tried again by the next caller', async () => {
  let attempts = 0;
  const load = loadOnce(async () => {
    attempts += 1;
    if (attempts === 1) throw new Error('module not found');
    return 'sdk';
  });
  await expect(load()).rejects.toThrow('module not found');
  expect(await load()).toBe('sdk');
  expect(attempts).toBe(2);
});
