import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from '@fleet/registry';
import { startRedis, tempDir } from '@fleet/testkit';
import { Redis } from 'ioredis';
import { type BenchRow, QUICK } from './lib';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TICKS = 100;

/**
 * Bench 6: one worker process with N registered idle members, each with a stale run record (a dead
 * PID of this boot) that the startup sweep must clear. Baseline: the same worker with 1 member.
 * Figures: start time (spawn → "worker started", sweep included), RSS, Redis connections it holds,
 * CPU while idle, measured once the startup duties (sweep, first run-directory prune) are done —
 * their cost is the start figure and the prune note. A private redis-server, so every client connection counted is the worker's.
 */
async function measure(members: number) {
  const redis = await startRedis();
  const tmp = tempDir('fleet-scale-');
  const client = new Redis(redis.url);
  try {
    const reg = new Registry(client, 'scale');
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    for (let i = 0; i < members; i++) {
      const work = join(tmp.path, `m${i}`);
      mkdirSync(work, { recursive: true });
      const m = await reg.addMember({ name: `m${i}`, transport: 'local', workFolder: work, provider: 'shell' });
      await client.hset(reg.keys.run(m.id), {
        token: `${m.id}.00000000-0000-4000-8000-000000000000:1:gone`,
        jobId: `${m.id}.00000000-0000-4000-8000-000000000000`,
        attempt: '1',
        workerId: 'gone',
        state: 'running',
        runDir: join(work, '.fleet/runs/x-1'),
        pid: String(4_000_000 + i),
        bootId,
        startTime: '1',
        startedAt: '0',
        outOffset: '0',
      });
    }
    const before = Number((await client.info('clients')).match(/connected_clients:(\d+)/)?.[1]);
    const t0 = performance.now();
    const w = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'apps/worker/src/main.ts')], {
      cwd: ROOT,
      env: { ...process.env, REDIS_URL: redis.url, FLEET_PREFIX: 'scale', FLEET_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    let startMs = 0;
    let sweepMs = 0;
    let pruneMs = -1;
    await new Promise<void>((resolve, reject) => {
      w.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        // (a complete line only: a chunk may end inside it)
        const sw = /^(.*"msg":"sweep done".*)\n/m.exec(out)?.[1];
        const done = sw && (JSON.parse(sw) as { ms?: number; why?: string });
        if (done && done.why === 'startup') sweepMs = Number(done.ms);
        const pr = /^(.*"msg":"run directory prune done".*)\n/m.exec(out)?.[1];
        const pruned = pr && (JSON.parse(pr) as { ms?: number; why?: string });
        if (pruned && pruned.why === 'startup') pruneMs = Number(pruned.ms);
        if (out.includes('"msg":"worker started"') && !startMs) startMs = performance.now() - t0;
        if (startMs && pruneMs >= 0) resolve();
      });
      w.on('exit', () => reject(new Error(`worker exited: ${out.slice(-500)}`)));
    });
    const remaining = await client.keys('scale:member:*:run');
    await new Promise((r) => setTimeout(r, 2_000));
    const stat = () => {
      const f = readFileSync(`/proc/${w.pid}/stat`, 'utf8');
      const p = f.slice(f.lastIndexOf(')') + 2).split(' ');
      return Number(p[11]) + Number(p[12]);
    };
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${w.pid}/status`, 'utf8'))?.[1]) / 1024;
    const conns = Number((await client.info('clients')).match(/connected_clients:(\d+)/)?.[1]) - before;
    const c0 = stat();
    const idleS = QUICK ? 2 : 10;
    await new Promise((r) => setTimeout(r, idleS * 1000));
    const cpuPct = ((stat() - c0) / TICKS / idleS) * 100;
    w.kill('SIGKILL');
    return { startMs, sweepMs, pruneMs, rss, conns, cpuPct, staleLeft: remaining.length };
  } finally {
    client.disconnect();
    await redis.stop();
    tmp.remove();
  }
}

export async function benchScale(): Promise<BenchRow[]> {
  const n = QUICK ? 20 : 500;
  const one = await measure(1);
  const many = await measure(n);
  const row = (name: string, unit: string, a: number, b: number, target: string, notes?: string): BenchRow => ({
    name,
    baseline: '1 member',
    baselineValue: a,
    ours: `${n} members`,
    oursValue: b,
    unit,
    ratio: a === 0 ? b : b / a,
    better: 'lower',
    target,
    ...(notes ? { notes } : {}),
  });
  return [
    row(
      `Scale: worker start with ${n} members and ${n} stale run records (sweep included)`,
      'ms',
      one.startMs,
      many.startMs,
      'sweep ≤ 2 s',
      `startup sweep ${many.sweepMs} ms for ${n} records; records left ${many.staleLeft}`,
    ),
    row(`Scale: worker RSS, ${n} idle members`, 'MB', one.rss, many.rss, '≤ 300 MB'),
    row(`Scale: Redis connections held, ${n} idle members`, 'connections', one.conns, many.conns, 'does not grow with members'),
    row(
      `Scale: CPU while idle, ${n} members`,
      '% of a core',
      one.cpuPct,
      many.cpuPct,
      '',
      `startup run-directory prune of ${n} members took ${many.pruneMs} ms (1 member: ${one.pruneMs} ms)`,
    ),
  ];
}
