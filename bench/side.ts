import { Redis } from 'ioredis';
import { machineBusyMs } from './lib';
import { ours, rawBullmq } from './orchestration';

/**
 * One side of one round of benches 1 and 4, in a process of its own: `raw|ours <jobs> <members>
 * [workRoot]` prints `{"ms": …, "cpu": …}`. Each measurement starts from a fresh process because the
 * raw baseline forks Node for every job, and a fork costs more the larger the forking process: run in
 * the bench process after our in-process stack, the baseline measured ~1.5× slower (and ~4× with
 * 300 MB more heap), which flattered our ratio. A first, unmeasured batch warms the code up (a
 * worker is a long-lived process; a cold one measured ours ~40 % slower).
 *
 * `cpu` is where the CPU went while the measured batch ran, in ms: `total` is every core's busy time
 * (/proc/stat: anything else running on the machine shows there too), `process` this process (the
 * worker, or the raw BullMQ worker with its forks), `redis` the Redis server (INFO cpu); the rest of
 * `total` is mostly the commands' own processes and the kernel work they cause.
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

const info = new Redis(redisUrl, { maxRetriesPerRequest: null });
/** The Redis server's CPU so far, ms. */
async function redisCpuMs(): Promise<number> {
  const text = await info.info('cpu');
  const v = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(text)?.[1] ?? Number.NaN);
  return (v('used_cpu_user') + v('used_cpu_sys')) * 1000;
}

await once(Math.max(m, Math.ceil(n / 4)));
const busy0 = machineBusyMs();
const redis0 = await redisCpuMs();
const own0 = process.cpuUsage();
const ms = await once(n);
const own = process.cpuUsage(own0);
const redis = (await redisCpuMs()) - redis0;
const busy1 = machineBusyMs();
const cpu = {
  total: busy0 === undefined || busy1 === undefined ? undefined : busy1 - busy0,
  process: (own.user + own.system) / 1000,
  redis,
};
info.disconnect();
process.stdout.write(`${JSON.stringify({ ms, cpu })}\n`);
process.exit(0);
