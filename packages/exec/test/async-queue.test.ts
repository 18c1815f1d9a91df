import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AsyncQueue } from '../src/transport/async-queue';
import { channelOutput } from '../src/transport/output';

/** A reader slower than its source pauses the source instead of buffering without bound. */
describe('async queue with a high-water mark', () => {
  it('is full at the mark, gives room back once the reader took half, and says so to the producer', async () => {
    const events: string[] = [];
    const q = new AsyncQueue<number>({ highWater: 4, onFull: () => events.push('full'), onRoom: () => events.push('room') });
    for (let i = 0; i < 4; i++) q.push(i);
    expect(q.full).toBe(true);
    let room = false;
    void q.room().then(() => (room = true));
    const it = q[Symbol.asyncIterator]();
    expect((await it.next()).value).toBe(0);
    await Promise.resolve();
    expect(room).toBe(false); // 3 left: more than half
    expect((await it.next()).value).toBe(1);
    await Promise.resolve();
    expect(room).toBe(true);
    expect(q.full).toBe(false);
    expect(events).toEqual(['full', 'room']);
    q.end();
    expect([(await it.next()).value, (await it.next()).value, (await it.next()).done]).toEqual([2, 3, true]);
  });

  it('channelOutput pauses a stream its reader does not keep up with, resumes it, and loses nothing', async () => {
    const s = new PassThrough();
    const out = channelOutput(s);
    for (let i = 0; i < 200; i++) s.write(Buffer.from(`chunk ${i}\n`));
    await new Promise((r) => setImmediate(r));
    expect(s.isPaused()).toBe(true);
    s.end();
    let text = '';
    for await (const b of out) text += b.toString();
    expect(text.split('\n').filter(Boolean)).toEqual(Array.from({ length: 200 }, (_, i) => `chunk ${i}`));
  });
});
