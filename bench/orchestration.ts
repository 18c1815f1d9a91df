import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { LocalTransport } from '@fleet/exec';
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

/** Ours: `n` jobs `true` over `members` local members (work folders under `workRoot`), queue + in-process worker. */
export async function ours(n: number, members: number, workRoot?: string): Promise<number> {
  // Run directories stay until the bench ends (as on a member, where nothing deletes them per job).
  const s = await benchStack({ workRoot, keepWork: workRoot !== undefined });
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

/** One side of one round: its time, and where the CPU went meanwhile (ms; see side.ts). */
interface Sample {
  ms: number;
  cpu?: { total?: number; process: number; redis: number };
}

/**
 * The sides, interleaved for `rounds` rounds (this machine is shared and noisy: a round of one side
 * alone can be 2× off); the figures are the medians, every round is in the notes.
 */
async function interleaved(rounds: number, sides: Record<string, () => Promise<Sample>>) {
  const all = new Map<string, Sample[]>(Object.keys(sides).map((k) => [k, []]));
  for (let i = 0; i < rounds; i++) for (const [k, fn] of Object.entries(sides)) all.get(k)?.push(await fn());
  const of = (k: string) => (all.get(k) ?? []).map((s) => s.ms);
  /** Median CPU per job of a side, ms: total (all cores), the side's process, Redis. */
  const cpu = (k: string, jobs: number) => {
    const ss = (all.get(k) ?? []).flatMap((s) => (s.cpu ? [s.cpu] : []));
    const med = (f: (c: NonNullable<Sample['cpu']>) => number | undefined) => {
      const v = ss.flatMap((c) => {
        const x = f(c);
        return x === undefined ? [] : [x / jobs];
      });
      return v.length > 0 ? median(v) : Number.NaN;
    };
    return { total: med((c) => c.total), process: med((c) => c.process), redis: med((c) => c.redis) };
  };
  return { rounds: of, median: (k: string) => median(of(k)), cpu };
}

/** "total 6.10 (process 3.12, Redis 0.58)": a side's median CPU per job, ms. */
function cpuNote(c: { total: number; process: number; redis: number }): string {
  return `total ${c.total.toFixed(2)} (process ${c.process.toFixed(2)}, Redis ${c.redis.toFixed(2)})`;
}

const HERE = dirname(fileURLToPath(import.meta.url));

const TMPFS_MAGIC = 0x01021994;

/** A tmpfs to hold work folders (`/dev/shm` on Linux), or none. */
function tmpfsRoot(): string | undefined {
  try {
    return statfsSync('/dev/shm').type === TMPFS_MAGIC ? '/dev/shm' : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What the run directory costs on the disk under `root`: p50 of a directory plus three small files
 * (prompt, pid, out), as a run creates them — measured in each run, because it differs by machine
 * and by minute far more than any code path (on one VM: 0.04–0.08 ms on tmpfs, 0.4–3.8 ms on ext4).
 */
function runDirCost(root: string, n = 100): number {
  const base = mkdtempSync(join(root, 'fleet-bench-fs-'));
  try {
    const t: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const d = join(base, String(i));
      mkdirSync(d);
      for (const f of ['prompt', 'pid', 'out']) writeFileSync(join(d, f), 'x'.repeat(50));
      t.push(performance.now() - t0);
    }
    return median(t);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

/**
 * What creating a process costs on this machine, ms per run, from a dash loop of `n`: a subshell
 * (fork), `/bin/true` (fork + exec) and `setsid /bin/true` (one exec more, as a run's session costs).
 * Printed with bench 1: its ratio moves with these far more than with any code path.
 */
function processCost(n = 200): { fork: number; exec: number; setsid: number } | undefined {
  const loop = (body: string) => {
    const t0 = performance.now();
    const r = spawnSync('sh', ['-c', `i=0; while [ $i -lt ${n} ]; do ${body} || exit 1; i=$((i + 1)); done`], { stdio: 'ignore' });
    return r.status === 0 ? (performance.now() - t0) / n : Number.NaN;
  };
  try {
    const base = loop(':');
    return { fork: loop('( : )') - base, exec: loop('/bin/true') - base, setsid: loop('setsid /bin/true') - base };
  } catch {
    return undefined;
  }
}

/** One side of a round in a fresh process (bench/side.ts): the time for `n` jobs over `members` members, and its CPU. */
function inChild(side: 'raw' | 'ours', n: number, members: number, workRoot = '', env: Record<string, string> = {}): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['--import', 'tsx', join(HERE, 'side.ts'), side, String(n), String(members), workRoot], {
      cwd: join(HERE, '..'),
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('error', reject);
    c.on('close', (code) => {
      const got = code === 0 ? (JSON.parse(out.trim().split('\n').pop() ?? '{}') as Partial<Sample>) : {};
      if (typeof got.ms === 'number') resolve({ ms: got.ms, ...(got.cpu ? { cpu: got.cpu } : {}) });
      else reject(new Error(`bench side ${side} exited ${code}: ${err.slice(-2000)}`));
    });
  });
}

/** Bench 1 (one member, concurrency 1) and bench 4 (200 members, total concurrency 200), each side in a fresh process. */
export async function benchOrchestration(): Promise<BenchRow[]> {
  const rounds = QUICK ? 1 : 5;
  const n1 = QUICK ? 10 : 200;
  const shm = tmpfsRoot();
  // Where local runs get a cgroup each, the same side without (what a container or non-root worker gets).
  const cgroups = new LocalTransport().runCgroup('/probe') !== undefined;
  // Our sides' work folders, kept until the end: deleting each round's ~1000 files made every later
  // round's file creation dearer on ext4 (bench 1 rose 11.9 → 14.1 ms/job over five rounds with the
  // deletes, and stayed at 11.1–12.4 without), which measured this harness, not a member (nothing
  // deletes run directories per job there).
  const disk = mkdtempSync(join(tmpdir(), 'fleet-bench-orch-'));
  const shmRoot = shm ? mkdtempSync(join(shm, 'fleet-bench-orch-')) : undefined;
  let b1: Awaited<ReturnType<typeof interleaved>>;
  let b4: Awaited<ReturnType<typeof interleaved>>;
  let fsCost: { disk: number; shm: number };
  let procCost: ReturnType<typeof processCost>;
  const members = QUICK ? 10 : 200;
  const n4 = QUICK ? 20 : 1000;
  try {
    b1 = await interleaved(rounds, {
      raw: () => inChild('raw', n1, 1),
      ours: () => inChild('ours', n1, 1, disk),
      ...(shmRoot ? { tmpfs: () => inChild('ours', n1, 1, shmRoot) } : {}),
      ...(cgroups ? { nocgroup: () => inChild('ours', n1, 1, disk, { FLEET_CGROUP: 'off' }) } : {}),
    });
    b4 = await interleaved(rounds, { raw: () => inChild('raw', n4, members), ours: () => inChild('ours', n4, members, disk) });
    // What the run directory costs where the runs were (before the roots are deleted).
    fsCost = { disk: runDirCost(disk), shm: shmRoot ? runDirCost(shmRoot) : 0 };
    procCost = processCost(QUICK ? 20 : 200);
  } finally {
    for (const d of [disk, shmRoot]) if (d) rmSync(d, { recursive: true, force: true });
  }
  const perJob = (ms: number[]) => ms.map((v) => (v / n1).toFixed(2)).join(', ');
  const perSec = (ms: number[]) => ms.map((v) => ((n4 / v) * 1000).toFixed(0)).join(', ');
  const rows: BenchRow[] = [
    {
      name: `Orchestration: ${n1} jobs \`true\`, one local member (concurrency 1), end to end`,
      baseline: 'raw BullMQ worker spawning the same command',
      baselineValue: b1.median('raw') / n1,
      ours: 'queue + worker + run protocol',
      oursValue: b1.median('ours') / n1,
      unit: 'ms/job',
      ratio: b1.median('ours') / b1.median('raw'),
      better: 'lower',
      target: 'regression figure only',
      notes: `medians of ${rounds} interleaved rounds, each side in a fresh process; ms/job raw: ${perJob(b1.rounds('raw'))}; ours: ${perJob(b1.rounds('ours'))}; ratio within each round: ${b1
        .rounds('ours')
        .map((v, i) => (v / (b1.rounds('raw')[i] ?? Number.NaN)).toFixed(2))
        .join(', ')}; CPU per job, ms (medians): raw ${cpuNote(b1.cpu('raw', n1))}, ours ${cpuNote(b1.cpu('ours', n1))}${
        procCost
          ? `; this machine, from a dash loop, ms per run: fork ${procCost.fork.toFixed(2)}, fork + exec ${procCost.exec.toFixed(2)}, with setsid ${procCost.setsid.toFixed(2)}`
          : ''
      }`,
    },
    {
      name: `Throughput: ${n4} short jobs over ${members} members (total concurrency ${members})`,
      baseline: `raw BullMQ + spawn, ${members} queues`,
      baselineValue: (n4 / b4.median('raw')) * 1000,
      ours: 'fleet-exec',
      oursValue: (n4 / b4.median('ours')) * 1000,
      unit: 'jobs/s',
      ratio: b4.median('raw') / b4.median('ours'),
      better: 'higher',
      target: '≥ 0.6×',
      notes: `medians of ${rounds} interleaved rounds, each side in a fresh process; jobs/s raw: ${perSec(b4.rounds('raw'))}; ours: ${perSec(b4.rounds('ours'))}; CPU per job, ms (medians): raw ${cpuNote(b4.cpu('raw', n4))}, ours ${cpuNote(b4.cpu('ours', n4))}`,
    },
  ];
  /** A variant of bench 1's side "ours", against the same baseline (inserted after bench 1's row). */
  const variant = (key: string, name: string, ours: string, notes: string) =>
    rows.splice(1, 0, {
      name,
      baseline: 'raw BullMQ worker spawning the same command',
      baselineValue: b1.median('raw') / n1,
      ours,
      oursValue: b1.median(key) / n1,
      unit: 'ms/job',
      ratio: b1.median(key) / b1.median('raw'),
      better: 'lower',
      notes,
    });
  if (cgroups) {
    variant(
      'nocgroup',
      'Orchestration as above, FLEET_CGROUP=off: the end-of-run check as a pass over /proc',
      'queue + worker + run protocol, no cgroup per run',
      `ms/job without cgroups: ${perJob(b1.rounds('nocgroup'))}`,
    );
  }
  if (shm) {
    variant(
      'tmpfs',
      `Orchestration as above, work folder on tmpfs (${shm}): the run protocol without the disk`,
      'queue + worker + run protocol, run directories on tmpfs',
      `ms/job on tmpfs: ${perJob(b1.rounds('tmpfs'))}; a run directory + 3 small files, p50: ${fsCost.disk.toFixed(2)} ms on the disk of ${tmpdir()}, ${fsCost.shm.toFixed(2)} ms on tmpfs`,
    );
  }
  return rows;
}
