import type { Readable } from 'node:stream';
import { AsyncQueue } from './async-queue';

/** Unread chunks at most (SSH channels deliver up to 32 KiB each): past it the channel is paused. */
const HIGH_WATER = 64;

/**
 * A readable's data as an async iterable that also ends when the stream closes without 'end' (an
 * SSH channel whose connection dropped), so a consumer never waits forever on a dead channel. A
 * slow consumer pauses the stream (SSH flow control then holds the sender) instead of buffering it.
 */
export function channelOutput(stream: Readable): AsyncIterable<Buffer> {
  const queue = new AsyncQueue<Buffer>({ highWater: HIGH_WATER, onFull: () => stream.pause(), onRoom: () => stream.resume() });
  const take = (c: Buffer | string) => queue.push(typeof c === 'string' ? Buffer.from(c) : c);
  stream.on('data', take);
  const finish = () => {
    // What a paused stream still buffers is delivered before the end (read() hands it to 'data').
    while (stream.read() !== null);
    queue.end();
  };
  stream.on('end', finish);
  stream.on('close', finish);
  stream.on('error', finish);
  return queue;
}
