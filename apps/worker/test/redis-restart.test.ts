import { type PrivateRedis, startRedis, waitFor } from '@fleet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fleet, startFleet } from './harness';

/** 11. Redis restart (private instance, AOF, fsync always) mid-run: no lost job, no duplicate run. */
describe('Redis restart mid-run', () => {
  let redis: PrivateRedis;
  let fleet: Fleet;
  beforeAll(async () => {
    redis = await startRedis({ appendonly: true });
    fleet = await startFleet({ redisUrl: redis.url });
  });
  afterAll(async () => {
    await fleet.close();
    await redis.stop();
  });

  it('the running job completes once; a queued job still runs afterwards; one agent at a time', async () => {
    const { member, state } = await fleet.addLocalMember();
    const w = await fleet.startWorker({ FLEET_LOCK_DURATION_MS: '10000', FLEET_FENCE_TTL_MS: '10000' });
    const sampler = state.sampler(10);
    const running = await fleet.jobs.enqueue(member.id, { prompt: '@lines 2\n@sleep 3\n@lines 2' });
    const queued = await fleet.jobs.enqueue(member.id, { prompt: '@lines 1' });
    await waitFor(async () => (await fleet.registry.getRun(member.id))?.startTime, { what: 'run identity in redis' });
    await redis.restart({ downMs: 1_500 });
    const a = await fleet.waitJob(running.id ?? '', 60_000);
    const b = await fleet.waitJob(queued.id ?? '', 60_000);
    expect(await a.getState()).toBe('completed');
    expect(await b.getState()).toBe('completed');
    expect(a.returnvalue.result).toBe('done: 4 lines');
    expect(state.started()).toBe(2);
    expect(sampler.stop()).toBe(1);
    expect(state.live()).toEqual([]);
    await w.stop();
  });
});

describe('Redis down longer than the lock and fence TTLs', () => {
  let redis: PrivateRedis;
  let fleet: Fleet;
  beforeAll(async () => {
    redis = await startRedis({ appendonly: true });
    fleet = await startFleet({ redisUrl: redis.url });
  });
  afterAll(async () => {
    await fleet.close();
    await redis.stop();
  });

  it('the job is not run a second time after its lock expired; one agent at a time', async () => {
    const { member, state } = await fleet.addLocalMember();
    const w = await fleet.startWorker({ FLEET_LOCK_DURATION_MS: '2000', FLEET_FENCE_TTL_MS: '2000', FLEET_STALLED_INTERVAL_MS: '500' });
    const sampler = state.sampler(10);
    const job = await fleet.jobs.enqueue(member.id, { prompt: '@lines 1\n@sleep 5\n@lines 1' });
    await waitFor(async () => (await fleet.registry.getRun(member.id))?.startTime, { what: 'run identity in redis' });
    await redis.restart({ downMs: 3_000 });
    const done = await fleet.waitJob(job.id ?? '', 60_000);
    expect(await done.getState()).toBe('completed');
    // Let any re-delivery happen, then count.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(state.started()).toBe(1);
    expect(sampler.stop()).toBe(1);
    expect(state.live()).toEqual([]);
    await w.stop();
  });
});
