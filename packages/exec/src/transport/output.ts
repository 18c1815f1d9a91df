import type { Readable } from 'node:stream';

/**
 * A readable's data as an async iterable that also ends when the stream closes without 'end' (an
 * SSH channel whose connection dropped), so a consumer never waits forever on a dead channel.
 */
export function channelOutput(stream: Readable): AsyncIterable<Buffer> {
  const queue: Buffer[] = [];
  let done = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  stream.on('data', (c: Buffer | string) => {
    queue.push(typeof c === 'string' ? Buffer.from(c) : c);
    notify();
  });
  const finish = () => {
    done = true;
    notify();
  };
  stream.on('end', finish);
  stream.on('close', finish);
  stream.on('error', finish);
  return {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        const next = queue.shift();
        if (next) {
          yield next;
          continue;
        }
        if (done) return;
        await new Promise<void>((r) => {
          wake = r;
        });
      }
    },
  };
}
