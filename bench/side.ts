import { ours, rawBullmq } from './orchestration';

/**
 * One side of one round of benches 1 and 4, in a process of its own: `raw|ours <jobs> <members>
 * [workRoot]` prints `{"ms": …}`. Each measurement starts from a fresh process because the raw
 * baseline forks Node for every job, and a fork costs more the larger the forking process: run in
 * the bench process after our in-process stack, the baseline measured ~1.5× slower (and ~4× with
 * 300 MB more heap), which flattered our ratio. A first, unmeasured batch warms the code up (a
 * worker is a long-lived process; a cold one measured ours ~40 % slower).
 */
const [side, jobs, members, workRoot] = process.argv.slice(2);
const n = Number(jobs);
const m = Number(members);
if (!Number.isInteger(n) || !Number.isInteger(m) || (side !== 'raw' && side !== 'ours')) {
  process.stderr.write('usage: side.ts raw|ours <jobs> <members> [workRoot]\n');
  process.exit(2);
}
const redisUrl = process.env.FLEET_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const once = (jobs: number) => (side === 'raw' ? rawBullmq(redisUrl, jobs, m) : ours(jobs, m, workRoot || undefined));
await once(Math.max(m, Math.ceil(n / 4)));
const ms = await once(n);
process.stdout.write(`${JSON.stringify({ ms })}\n`);
process.exit(0);
