import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { type BenchRow, QUICK } from './lib';
import { benchStack, waitUntil } from './stack';

/** The same command a shell member runs for the prompt `true`: sh reading the script from stdin. */
function rawSpawn(): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn('sh', [], { stdio: ['pipe', 'pipe', 'pipe'] });
    c.stdout.resume();
    c.stderr.resume();
    c.stdin.on('error', () => {});
    c.on('error', reject);
    c.on('close', () => resolve());
    c.stdin.end('true\n');
  });
}

/** Raw BullMQ: `n` jobs over `queues` queues, a processor that spawns the command; total concurrency = queues. */
export async function rawBullmq(redisUrl: string, n: number, queues: number): Promise<number> {
  const prefix = `raw-${randomBytes(3).toString('hex')}`;
  const conn = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const qs = Array.from({ length: queues }, (_, i) => new Queue(`q${i}`, { connection: conn, prefix }));
  let done = 0;
  const ws = qs.map((q) => new Worker(q.name, async () => rawSpawn().then(() => 'ok'), { connection: conn, prefix, concurrency: 1 }));
  for (const w of ws) w.on('completed', () => done++);
  await Promise.all(ws.map((w) => w.waitUntilReady()));
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await (qs[i % queues] as Queue).add('j', {}, { removeOnComplete: true });
  await waitUntil(() => done >= n);
  const ms = performance.now() - t0;
  await Promise.all(ws.map((w) => w.close()));
  await Promise.all(qs.map((q) => q.obliterate({ force: true }).then(() => q.close())));
  conn.disconnect();
  return ms;
}

export async function ours(n: number, members: number): Promise<number> {
  const s = await benchStack();
  try {
    const ids: string[] = [];
    for (let i = 0; i < members; i++) ids.push((await s.localMember(`m${i}`)).id);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await s.jobs.enqueue(ids[i % members] as string, { prompt: 'true', attempts: 1 });
    // One HGET per poll (the success transition counts completions), as cheap as the raw baseline's
    // 'completed' events: the harness must not load the process it measures.
    await waitUntil(async () => Number(await s.redis.hget(s.registry.keys.stats(), 'jobs_completed')) >= n, 600_000, 5);
    return performance.now() - t0;
  } finally {
    await s.close();
  }
}

/** Bench 1 (one member, concurrency 1) and bench 4 (200 members, total concurrency 200). */
export async function benchOrchestration(): Promise<BenchRow[]> {
  const redisUrl = process.env.FLEET_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const n1 = QUICK ? 10 : 200;
  const raw1 = await rawBullmq(redisUrl, n1, 1);
  const our1 = await ours(n1, 1);
  const members = QUICK ? 10 : 200;
  const n4 = QUICK ? 20 : 1000;
  const raw4 = await rawBullmq(redisUrl, n4, members);
  const our4 = await ours(n4, members);
  return [
    {
      name: `Orchestration: ${n1} jobs \`true\`, one local member (concurrency 1), end to end`,
      baseline: 'raw BullMQ worker spawning the same command',
      baselineValue: raw1 / n1,
      ours: 'queue + worker + run protocol',
      oursValue: our1 / n1,
      unit: 'ms/job',
      ratio: our1 / raw1,
      better: 'lower',
      target: '≤ 1.5×',
    },
    {
      name: `Throughput: ${n4} short jobs over ${members} members (total concurrency ${members})`,
      baseline: `raw BullMQ + spawn, ${members} queues`,
      baselineValue: (n4 / raw4) * 1000,
      ours: 'fleet-exec',
      oursValue: (n4 / our4) * 1000,
      unit: 'jobs/s',
      ratio: raw4 / our4,
      better: 'higher',
      target: '≥ 0.6×',
    },
  ];
}
