import type { EventEmitter } from 'node:events';
import { TransportError } from './types';

/**
 * One callback-style ssh2 request, always settled: by its callback, or as `dropped` when one of
 * `closers` (the connection, the SFTP session) closes first, or as `timeout` after `ms`. ssh2 leaves
 * some callbacks uncalled when the connection dies mid-request (an SFTP write waiting for window
 * space never returns after a drop), which would hold a run in `starting` for good, deaf to its
 * cancel. What arrives after that (a channel opened late) is handed to `discard`, never leaked.
 */
export function settle<T>(
  what: string,
  closers: readonly EventEmitter[],
  ms: number,
  start: (cb: (err: Error | null | undefined, value: T) => void) => void,
  discard?: (late: T) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const finish = (fn: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      for (const e of closers) e.off('close', onClose);
      fn();
    };
    const onClose = () => finish(() => reject(new TransportError('dropped', `${what}: connection closed`)));
    const timer = setTimeout(() => finish(() => reject(new TransportError('timeout', `${what}: no answer after ${ms} ms`))), ms);
    for (const e of closers) e.once('close', onClose);
    try {
      start((err, value) => {
        if (done) {
          if (!err && value !== undefined) discard?.(value);
          return;
        }
        finish(() => (err ? reject(new TransportError('dropped', `${what}: ${err.message}`)) : resolve(value)));
      });
    } catch (err) {
      finish(() => reject(new TransportError('dropped', `${what}: ${(err as Error).message}`)));
    }
  });
}
