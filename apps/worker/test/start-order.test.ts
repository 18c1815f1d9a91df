import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { FleetJobs, Registry } from '@fleet/registry';
import { deleteKeys, tempDir, waitFor } from '@fleet/testkit';
import { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';
import { loadConfig } from '../src/config';
import { FleetWorker } from '../src/fleet-worker';
import { createLogger } from '@fleet/log';

const REDIS_URL = process.env.FLEET_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `fleet-start-${randomBytes(4).toString('hex')}`;
const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
const dir = tempDir('fleet-start-order-');
let worker: FleetWorker | undefined;
let jobs: FleetJobs | undefined;

afterAll(async () => {
  await worker?.stop();
  await jobs?.close();
  await deleteKeys(redis, `${prefix}*`);
  redis.disconnect();
  dir.remove();
});

it('a job enqueued while the starting worker takes its first look at the queues is picked up at once, not at the next periodic scan', async () => {
  const cfg = loadConfig({
    REDIS_URL,
    FLEET_PREFIX: prefix,
    FLEET_LOG_LEVEL: 'silent',
    // Nothing periodic comes to the rescue within the test: only the enqueue's nudge can start it.
    FLEET_WORK_SCAN_MS: '600000',
    FLEET_MEMBER_REFRESH_MS: '600000',
    FLEET_SWEEP_INTERVAL_MS: '600000',
  });
  const registry = new Registry(redis, prefix);
  jobs = new FleetJobs(redis, { connection: redis, bullPrefix: cfg.bullPrefix }, prefix);
  const enqueuer = jobs;
  const member = await registry.addMember({ name: 'm', transport: 'local', workFolder: dir.path, provider: 'claude', agentBinary: 'true' });
  worker = new FleetWorker(cfg, createLogger('silent', {}, new Writable({ write: (_c, _e, cb) => cb() })));
  // The first look at the queues finds them empty; the job is enqueued (and its nudge published)
  // right after that look, before start() returns.
  const inner = (worker as unknown as { jobs: FleetJobs }).jobs;
  const look = inner.membersWithWork.bind(inner);
  let enqueued: Promise<string | undefined> | undefined;
  inner.membersWithWork = async (ids) => {
    const busy = await look(ids);
    enqueued ??= enqueuer.enqueue(member.id, { prompt: 'hello', attempts: 1 }).then((j) => j.id);
    await enqueued;
    return busy;
  };
  await worker.start();
  const jobId = await enqueued;
  expect(jobId).toBeDefined();
  const job = await enqueuer.getJob(jobId ?? '');
  await waitFor(async () => (await job?.getState()) !== 'waiting', { timeoutMs: 10_000, what: 'the job picked up' });
});
