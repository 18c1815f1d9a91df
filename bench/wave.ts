import { readdirSync, readlinkSync } from 'node:fs';
import { type PrivateSshd, type SshdOptions, startSshd } from '@fleet/testkit';
import { type BenchRow, QUICK } from './lib';
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
  const large = QUICK ? undefined : await fleetWave(big, { maxStartups: 2 * big, plainHome: true });
  const note = (w: typeof plain) =>
    `raw: all started ${w.raw.startedMs.toFixed(0)} ms, all done ${w.raw.doneMs.toFixed(0)} ms; ours: all PIDs persisted ${w.ours.pidsMs.toFixed(0)} ms, all done ${w.ours.doneMs.toFixed(0)} ms; with the wave's connections up: RSS ${w.ours.rssMb.toFixed(0)} MB, ${w.ours.sockets} open sockets (the process also holds the bench's)`;
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
      notes: `${big} members: all PIDs persisted ${large.pidsMs.toFixed(0)} ms, all done ${large.doneMs.toFixed(0)} ms, ${large.sockets} open sockets (${plain.ours.sockets} at ${n}); ${(((large.rssMb - plain.ours.rssMb) * 1000) / (big - n)).toFixed(0)} KB more RSS per member`,
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

async function rawWave(sshd: PrivateSshd, n: number): Promise<{ startedMs: number; doneMs: number }> {
  const t0 = performance.now();
  let lastStart = 0;
  const started = () => (lastStart = Math.max(lastStart, performance.now() - t0));
  await Promise.all(Array.from({ length: n }, () => rawExec(sshd, `echo started; ${COMMAND}`, started)));
  return { startedMs: lastStart, doneMs: performance.now() - t0 };
}

async function fleetWave(n: number, sshd?: SshdOptions) {
  const s = await benchStack({ sshd });
  try {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push((await s.sshMember(`wave-${i}`)).id);
    const t0 = performance.now();
    const jobs = await Promise.all(ids.map((id) => s.jobs.enqueue(id, { prompt: COMMAND, attempts: 1 })));
    const started = async () => {
      const p = s.redis.pipeline();
      for (const id of ids) p.hget(s.registry.keys.run(id), 'pid');
      return ((await p.exec()) ?? []).filter(([, v]) => v).length;
    };
    // A member whose run already ended has no run record left: count completions too.
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
        if (!pidsMs && (await started()) + (await completed()) >= n) {
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
    await waitUntil(async () => (await completed()) >= n, 300_000, 10, failed);
    return { pidsMs, doneMs: performance.now() - t0, rssMb, sockets };
  } finally {
    await s.close();
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
