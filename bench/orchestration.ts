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

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] as number;

/**
 * Baseline and ours, interleaved for `rounds` rounds (this machine is shared and noisy: a round of
 * one side alone can be 2× off); the figures are the medians, every round is in the notes.
 */
async function interleaved(rounds: number, raw: () => Promise<number>, our: () => Promise<number>) {
  const r: number[] = [];
  const o: number[] = [];
  for (let i = 0; i < rounds; i++) {
    r.push(await raw());
    o.push(await our());
  }
  return { raw: median(r), ours: median(o), rounds: { raw: r, ours: o } };
}

/** Bench 1 (one member, concurrency 1) and bench 4 (200 members, total concurrency 200). */
export async function benchOrchestration(): Promise<BenchRow[]> {
  const redisUrl = process.env.FLEET_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const rounds = QUICK ? 1 : 3;
  const n1 = QUICK ? 10 : 200;
  const b1 = await interleaved(
    rounds,
    () => rawBullmq(redisUrl, n1, 1),
    () => ours(n1, 1),
  );
  const members = QUICK ? 10 : 200;
  const n4 = QUICK ? 20 : 1000;
  const b4 = await interleaved(
    rounds,
    () => rawBullmq(redisUrl, n4, members),
    () => ours(n4, members),
  );
  const perJob = (ms: number[]) => ms.map((v) => (v / n1).toFixed(2)).join(', ');
  const perSec = (ms: number[]) => ms.map((v) => ((n4 / v) * 1000).toFixed(0)).join(', ');
  return [
    {
      name: `Orchestration: ${n1} jobs \`true\`, one local member (concurrency 1), end to end`,
      baseline: 'raw BullMQ worker spawning the same command',
      baselineValue: b1.raw / n1,
      ours: 'queue + worker + run protocol',
      oursValue: b1.ours / n1,
      unit: 'ms/job',
      ratio: b1.ours / b1.raw,
      better: 'lower',
      target: '≤ 1.5×',
      notes: `medians of ${rounds} interleaved rounds; ms/job raw: ${perJob(b1.rounds.raw)}; ours: ${perJob(b1.rounds.ours)}`,
    },
    {
      name: `Throughput: ${n4} short jobs over ${members} members (total concurrency ${members})`,
      baseline: `raw BullMQ + spawn, ${members} queues`,
      baselineValue: (n4 / b4.raw) * 1000,
      ours: 'fleet-exec',
      oursValue: (n4 / b4.ours) * 1000,
      unit: 'jobs/s',
      ratio: b4.raw / b4.ours,
      better: 'higher',
      target: '≥ 0.6×',
      notes: `medians of ${rounds} interleaved rounds; jobs/s raw: ${perSec(b4.rounds.raw)}; ours: ${perSec(b4.rounds.ours)}`,
    },
  ];
}
