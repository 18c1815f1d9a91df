import type { Readable } from 'node:stream';
import { AsyncQueue } from './async-queue';

/**
 * A readable's data as an async iterable that also ends when the stream closes without 'end' (an
 * SSH channel whose connection dropped), so a consumer never waits forever on a dead channel.
 */
export function channelOutput(stream: Readable): AsyncIterable<Buffer> {
  const queue = new AsyncQueue<Buffer>();
  stream.on('data', (c: Buffer | string) => queue.push(typeof c === 'string' ? Buffer.from(c) : c));
  const finish = () => queue.end();
  stream.on('end', finish);
  stream.on('close', finish);
  stream.on('error', finish);
  return queue;
}
