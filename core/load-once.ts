/**
 * A module loaded on first use, then kept: a worker that never calls a provider or Slack never
 * holds that SDK in memory (each is megabytes of code and objects). A failed load is tried again
 * next time.
 */
export function loadOnce<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () =>
    (loading ??= load().catch((err: unknown) => {
      loading = undefined;
      throw err;
    }));
}
