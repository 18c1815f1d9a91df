import { type ClusterOps, attachCluster, waitFor } from '@fleet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fleet, startFleet } from '../apps/worker/test/harness';

/**
 * A master of the Redis Cluster dies while an agent runs: its replica takes over, and the job still
 * ends once, with every output line, and no second agent ever starts.
 */
let fleet: Fleet;
let cluster: ClusterOps;

beforeAll(async () => {
  const url = process.env.FLEET_TEST_REDIS_URL ?? '';
  if (!url.startsWith('redis+cluster://')) throw new Error('run with cluster/vitest.config.ts (it starts the cluster)');
  fleet = await startFleet();
  // The suite's cluster was started by cluster/setup.ts in vitest's main process: reached by its ports.
  cluster = attachCluster((process.env.FLEET_TEST_CLUSTER_PORTS ?? '').split(',').map(Number));
});
afterAll(async () => {
  await fleet?.close();
});

describe('Redis Cluster', () => {
  it('the keys of one prefix (ours and BullMQ’s) live on one master, under the hash tag', async () => {
    const { member } = await fleet.addLocalMember('slot');
    await fleet.jobs.enqueue(member.id, { prompt: '@lines 1' });
    expect(fleet.prefix).toMatch(/^\{fleet-t[0-9a-f]{8}\}$/);
    const master = await cluster.masterOf(fleet.registry.keys.member(member.id));
    expect(await cluster.masterOf(`${fleet.prefix}:q:member-${member.id}:wait`)).toBe(master);
  });

  it('a master killed mid-run: the replica takes over; the job completes once, every line kept, never a second agent', async () => {
    const { member, state } = await fleet.addLocalMember('failover');
    // Production timings (a failover takes seconds): the fence and the job lock outlast it.
    const worker = await fleet.startWorker({ FLEET_FENCE_TTL_MS: '15000', FLEET_LOCK_DURATION_MS: '15000' });
    const sampler = state.sampler(20);
    const job = await fleet.jobs.enqueue(member.id, { prompt: '@lines 3\n@sleep 8\n@lines 4\n@exit 0', attempts: 3 });
    await waitFor(async () => (await fleet.registry.getRun(member.id))?.pid, { what: 'pid persisted', timeoutMs: 30_000 });
    // Let replication catch up (it is asynchronous: what a master acknowledged in its last moment may be lost).
    await new Promise((r) => setTimeout(r, 500));
    const master = await cluster.masterOf(fleet.registry.keys.member(member.id));
    await cluster.kill(master);
    await cluster.waitHealthy(fleet.registry.keys.member(member.id));
    expect(await cluster.masterOf(fleet.registry.keys.member(member.id))).not.toBe(master);

    const done = await fleet.waitJob(job.id ?? '', 90_000);
    expect(await done.getState()).toBe('completed');
    expect(done.returnvalue).toMatchObject({ exitCode: 0, result: 'done: 7 lines' });
    expect(state.started()).toBe(1);
    expect(sampler.stop()).toBe(1);
    const out = await fleet.redis.xrange(fleet.registry.keys.output(job.id ?? ''), '-', '+');
    const lines = out.map(([, f]) => f[f.indexOf('data') + 1] ?? '').filter((l) => l.includes('"line '));
    expect(lines.map((l) => /"line (\d)"/.exec(l)?.[1])).toEqual(['1', '2', '3', '4', '5', '6', '7']);
    expect(state.live()).toEqual([]);
    await worker.stop();
  });
});
