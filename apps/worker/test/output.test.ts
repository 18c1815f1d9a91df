import { Registry } from '@fleet/registry';
import { type PrivateRedis, startRedis } from '@fleet/testkit';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutputSink } from '../src/output';

/** The output sink never holds an agent's output in memory without bound: past a few unwritten batches, the reader waits. */
describe('output sink backpressure (a private Redis, stopped with SIGSTOP)', () => {
  let redis: PrivateRedis;
  let client: Redis;
  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url, { maxRetriesPerRequest: null });
  });
  afterAll(async () => {
    client.disconnect();
    await redis.stop();
  });

  it('while Redis does not answer, push hands back a promise once 16 batches are unwritten; it resolves when they are, every line in order', async () => {
    const registry = new Registry(client, 'out-test');
    const queue = new Queue('q', { connection: client, prefix: 'out-test:q' });
    const job = await queue.add('j', {});
    const sink = new OutputSink(registry, job.id ?? '', job, { maxLines: 10_000, maxBatch: 10, flushMs: 5 });
    const pid = Number((await client.info('server')).match(/process_id:(\d+)/)?.[1]);
    process.kill(pid, 'SIGSTOP');
    let waitAt = -1;
    let wait: Promise<void> | undefined;
    try {
      for (let i = 0; i < 500 && !wait; i++) {
        wait = sink.push(`line ${i}`);
        if (wait) waitAt = i;
      }
      // 16 batches of 10 sent and unanswered: the 160th line is the first that must wait.
      expect(waitAt).toBe(159);
      let resolved = false;
      void wait?.then(() => (resolved = true));
      await new Promise((r) => setTimeout(r, 300));
      expect(resolved).toBe(false);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await wait;
    expect(sink.push('after')).toBeUndefined();
    await sink.flush();
    const entries = await client.xrange(registry.keys.output(job.id ?? ''), '-', '+');
    expect(entries.map(([, f]) => f[3])).toEqual([...Array.from({ length: 160 }, (_, i) => `line ${i}`), 'after']);
    await queue.close();
  });
});
