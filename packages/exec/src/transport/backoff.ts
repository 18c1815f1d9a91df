/** Exponential backoff with full jitter, bounded by a deadline. */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** Give up once this much time has passed since the first try. */
  deadlineMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 5_000, deadlineMs: 60_000 };

export async function withBackoff<T>(
  fn: (attempt: number) => Promise<T>,
  isRetryable: (err: unknown) => boolean,
  opts: BackoffOptions = DEFAULT_BACKOFF,
  signal?: AbortSignal,
): Promise<T> {
  const start = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      const elapsed = Date.now() - start;
      if (!isRetryable(err) || elapsed >= opts.deadlineMs || signal?.aborted) throw err;
      const cap = Math.min(opts.maxMs, opts.initialMs * 2 ** (attempt - 1));
      const wait = Math.min(opts.deadlineMs - elapsed, Math.max(10, Math.random() * cap));
      await sleep(wait, signal);
    }
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
