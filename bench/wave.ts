import { readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type PrivateSshd, type SshdOptions, startSshd, tempDir } from '@fleet/testkit';
import { type BenchRow, QUICK, machineBusyMs } from './lib';
import { rawExec } from './raw-ssh';
import { benchStack, waitUntil } from './stack';

/** What each member runs: a second of work, as a short agent run would. */
const COMMAND = 'sleep 1';

/**
 * A wave across the fleet: `n` SSH members (each its own connection to a private sshd), one prompt
 * each enqueued at once. Figures: time until every PID is persisted, until every job is done, the
 * process's RSS and open sockets with the wave's connections up. Baseline: the same `n` commands by a
 * raw ssh2 client, one connection per member (connect, exec, exit), timed to the first byte of each
 * (its shell started) and to every exit. The members' login shell does nothing (a HOME of their own):
 * here every member shares this machine's cores, so a login as heavy as root's own would price the
 * count of logins, not the wave. That is measured too, at 10 members, for the record. Then the same
 * wave over `big` members, for the RSS and sockets a worker holds at that size (full size only).
 */
export async function benchWave(): Promise<BenchRow[]> {
  const n = QUICK ? 10 : 200;
  const big = 1000;
  const plain = await wave(n, { plainHome: true });
  const rootLogin = await wave(10, {});
  // Room for every member's connection at once, and for the reconnects of any that sshd was slow to take.
  const large = QUICK ? undefined : await fleetWave(big, { maxStartups: 2 * big, plainHome: true }, 'up');
  const note = (w: typeof plain) =>
    `raw: all started ${w.raw.startedMs.toFixed(0)} ms, all done ${w.raw.doneMs.toFixed(0)} ms; ours: all PIDs persisted ${w.ours.pidsMs.toFixed(0)} ms, all done ${w.ours.doneMs.toFixed(0)} ms; with the wave's connections up: RSS ${w.ours.rssMb.toFixed(0)} MB, ${w.ours.sockets} open sockets (the process also holds the bench's); CPU per member run, ms: this process raw ${w.raw.cpu.ownMs.toFixed(1)} / ours ${w.ours.cpu.ownMs.toFixed(1)}, the whole machine raw ${w.raw.cpu.machineMs.toFixed(1)} / ours ${w.ours.cpu.machineMs.toFixed(1)}`;
  const rows: BenchRow[] = [
    {
      name: `Wave: ${n} SSH members, one prompt each (\`${COMMAND}\`) enqueued at once → every PID persisted`,
      baseline: `raw ssh2, ${n} connections: every command started`,
      baselineValue: plain.raw.startedMs,
      ours: 'fleet-exec: every PID persisted',
      oursValue: plain.ours.pidsMs,
      unit: 'ms',
      ratio: plain.ours.pidsMs / plain.raw.startedMs,
      better: 'lower',
      notes: note(plain),
    },
    {
      name: `Wave: ${n} SSH members → every job done`,
      baseline: `raw ssh2, ${n} connections: every command exited`,
      baselineValue: plain.raw.doneMs,
      ours: 'fleet-exec: every job completed',
      oursValue: plain.ours.doneMs,
      unit: 'ms',
      ratio: plain.ours.doneMs / plain.raw.doneMs,
      better: 'lower',
      target: '≤ 1.3×',
    },
    {
      name: `Wave: ${n} SSH members → CPU of the dispatching process per member run (what a fleet's worker pays)`,
      baseline: 'raw ssh2 client',
      baselineValue: plain.raw.cpu.ownMs,
      ours: 'fleet-exec worker (and API)',
      oursValue: plain.ours.cpu.ownMs,
      unit: 'ms',
      ratio: plain.ours.cpu.ownMs / plain.raw.cpu.ownMs,
      better: 'lower',
      notes: `the whole machine per member run (every member's sshd and processes share it here): raw ${plain.raw.cpu.machineMs.toFixed(1)} ms, ours ${plain.ours.cpu.machineMs.toFixed(1)} ms (${(plain.ours.cpu.machineMs / plain.raw.cpu.machineMs).toFixed(2)}×)`,
    },
    {
      name: "Wave: 10 SSH members logging in as this machine's root (its rc files) → every job done",
      baseline: 'raw ssh2, 10 connections: every command exited',
      baselineValue: rootLogin.raw.doneMs,
      ours: 'fleet-exec: every job completed',
      oursValue: rootLogin.ours.doneMs,
      unit: 'ms',
      ratio: rootLogin.ours.doneMs / rootLogin.raw.doneMs,
      better: 'lower',
      notes: `${note(rootLogin)}; a run pays two login shells (control shell, output channel), the raw client one`,
    },
  ];
  if (large)
    rows.push({
      name: `Wave: ${big} SSH members → the worker's RSS with every connection up`,
      baseline: `the same at ${n} members`,
      baselineValue: plain.ours.rssMb,
      ours: `${big} members`,
      oursValue: large.rssMb,
      unit: 'MB',
      ratio: large.rssMb / plain.ours.rssMb,
      better: 'lower',
      notes: `${big} members, enqueued 100 at a time: all PIDs persisted ${large.pidsMs.toFixed(0)} ms, ${large.sockets} open sockets (${plain.ours.sockets} at ${n}); ${(((large.rssMb - plain.ours.rssMb) * 1000) / (big - n)).toFixed(0)} KB more RSS per member; not timed to the end: see fleetWave`,
    });
  return rows;
}

/** The raw wave and ours over members of one kind of sshd. */
async function wave(n: number, opts: SshdOptions) {
  const sshd = await startSshd({ maxSessions: 10, ...opts });
  try {
    const raw = await rawWave(sshd, n);
    const ours = await fleetWave(n, opts);
    return { raw, ours };
  } finally {
    await sshd.stop();
  }
}

async function rawWave(sshd: PrivateSshd, n: number) {
  const t0 = performance.now();
  const cpu0 = cpuNow();
  let lastStart = 0;
  const started = () => (lastStart = Math.max(lastStart, performance.now() - t0));
  await Promise.all(Array.from({ length: n }, () => rawExec(sshd, `echo started; ${COMMAND}`, started)));
  return { startedMs: lastStart, doneMs: performance.now() - t0, cpu: cpuSince(cpu0, n) };
}

/**
 * CPU per member run over a wave, ms: `own` this process (ours: worker and API; raw: the ssh2
 * client), which is what a fleet's worker pays; `machine` every core's busy time, which here also
 * holds every member's sshd and processes (on a fleet each member pays its own on its own cores).
 */
function cpuNow() {
  return { own: process.cpuUsage(), machine: machineBusyMs() ?? Number.NaN };
}
function cpuSince(c0: ReturnType<typeof cpuNow>, n: number) {
  const own = process.cpuUsage(c0.own);
  return { ownMs: (own.user + own.system) / 1000 / n, machineMs: ((machineBusyMs() ?? Number.NaN) - c0.machine) / n };
}

/**
 * Ours: `n` members, one job each. `done`: enqueued at once, timed until every job completed. `up`:
 * the runs wait for a file the bench creates once every PID is persisted and RSS and sockets are
 * read; the worker then stops without waiting for them. Every member here shares this one machine,
 * and a run's end reads every process of its member (kill.sh cleans up the run's session): on one
 * host of 1000 members that is every member's processes, per run, which real servers do not share.
 */
async function fleetWave(n: number, sshd?: SshdOptions, until: 'done' | 'up' = 'done') {
  const s = await benchStack({ sshd, env: until === 'up' ? { FLEET_SHUTDOWN_GRACE_MS: '0' } : {} });
  const tmp = tempDir('fleet-wave-');
  const stop = join(tmp.path, 'stop');
  const prompt = until === 'up' ? `exec perl -e 'select(undef, undef, undef, 0.5) until -e $ARGV[0]' '${stop}'` : COMMAND;
  try {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push((await s.sshMember(`wave-${i}`)).id);
    // Each member's record is read until its PID is seen: the polls' own CPU counts as ours.
    const seen = new Set<string>();
    const started = async () => {
      const pending = ids.filter((id) => !seen.has(id));
      const p = s.redis.pipeline();
      for (const id of pending) p.hget(s.registry.keys.run(id), 'pid');
      const got = (await p.exec()) ?? [];
      for (const [i, id] of pending.entries()) if (got[i]?.[1]) seen.add(id);
      return seen.size;
    };
    const t0 = performance.now();
    const cpu0 = cpuNow();
    const jobs: Awaited<ReturnType<typeof s.jobs.enqueue>>[] = [];
    // `up` enqueues in batches of 100, each once the one before has its PIDs: it measures what a worker
    // holds with every connection up. 1000 logins at once on this one 2-core host outlast the
    // handshake's timeout and retry, and the host never catches up: a fleet's servers do not share cores.
    const batch = until === 'up' ? 100 : n;
    for (let i = 0; i < n; i += batch) {
      jobs.push(...(await Promise.all(ids.slice(i, i + batch).map((id) => s.jobs.enqueue(id, { prompt, attempts: 1 })))));
      if (i + batch < n) await waitUntil(async () => (await started()) >= i + batch, 300_000, 50);
    }
    // Completions, for the end (and for a PID wait that a run's whole life fit between two polls).
    const completed = async () => Number(await s.redis.hget(s.registry.keys.stats(), 'jobs_completed'));
    // A job that failed never completes: the wait says so instead of running out its time.
    const failed = async () => {
      const reasons = await Promise.all(jobs.map(async (j) => (await j.isFailed()) && (await s.jobs.getJob(j.id ?? ''))?.failedReason));
      const bad = reasons.filter(Boolean);
      return `${await completed()} of ${n} completed, ${bad.length} failed${bad.length ? `: ${bad[0]}` : ''}`;
    };
    let pidsMs = 0;
    let rssMb = 0;
    let sockets = 0;
    await waitUntil(
      async () => {
        if (!pidsMs && ((await started()) >= n || (await completed()) >= n)) {
          pidsMs = performance.now() - t0;
          rssMb = process.memoryUsage().rss / 1e6;
          sockets = openSockets();
        }
        return pidsMs > 0;
      },
      300_000,
      10,
      failed,
    );
    if (until === 'done') await waitUntil(async () => (await completed()) >= n, 300_000, 10, failed);
    return { pidsMs, doneMs: performance.now() - t0, rssMb, sockets, cpu: cpuSince(cpu0, n) };
  } finally {
    writeFileSync(stop, '');
    await s.close();
    tmp.remove();
  }
}

function openSockets(): number {
  let k = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:')) k++;
    } catch {
      // closed meanwhile
    }
  }
  return k;
}
