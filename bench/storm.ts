import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '@fleet/testkit';
import { type BenchRow, QUICK, percentile } from './lib';
import { rawExec } from './raw-ssh';
import { benchStack, waitUntil } from './stack';

/**
 * Each run: numbered lines, one every 0.1 s, until the bench creates `stop` (at most 10 min); then
 * `end <count>`. So every run is still going at the cut, however slowly the fleet started, and the
 * bench knows how many lines each printed. A line printed once `cut` exists says `after`. One perl
 * process with no fork per line, as an agent prints: 200 shell loops forking `sleep` would load
 * this machine's cores more than the storm does.
 */
const script = (stop: string, cut: string) =>
  `exec perl -e '$| = 1; my $i = 0; while (!-e $ARGV[0] && $i < 6000) { print "line $i ", (-e $ARGV[1] ? "after" : "before"), "\\n"; $i++; select(undef, undef, undef, 0.1) } print "end $i\\n"' '${stop}' '${cut}'`;

/**
 * A reconnect storm: `n` SSH members each running a job, then every SSH connection cut at once
 * (the server's per-connection processes killed; the runs keep going in their own sessions). Figure:
 * per member, cut → the first line printed after the cut is in Redis (re-identified, reattached,
 * streaming), p50/p99;
 * every job must complete once with every line exactly once. Baseline: `n` raw ssh2 clients that
 * reconnect at once and run `true` — the least a storm of reconnects costs.
 */
export async function benchStorm(): Promise<BenchRow[]> {
  const n = QUICK ? 5 : 200;
  // Members whose login does nothing: see bench/wave.ts (here every member shares this machine's cores).
  const s = await benchStack({ sshd: { plainHome: true } });
  const tmp = tempDir('fleet-storm-');
  const stop = join(tmp.path, 'stop');
  const cutFile = join(tmp.path, 'cut');
  try {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push((await s.sshMember(`storm-${i}`)).id);
    const jobs = await Promise.all(ids.map((id) => s.jobs.enqueue(id, { prompt: script(stop, cutFile), attempts: 1 })));
    const describe = async (id: string) => {
      const job = await s.jobs.getJob(id);
      return `${id} ${await job?.getState()}${job?.failedReason ? ` (${job.failedReason})` : ''}`;
    };
    // Every run streaming: a few lines of each in Redis.
    const streamed = () => Promise.all(jobs.map((j) => s.redis.xlen(s.registry.keys.output(j.id ?? ''))));
    await waitUntil(
      async () => (await streamed()).every((k) => k >= 5),
      300_000,
      200,
      async () => {
        const behind = (await streamed()).flatMap((k, i) => (k < 5 ? [i] : []));
        const states = await Promise.all(behind.slice(0, 5).map((i) => describe(jobs[i]?.id ?? '')));
        return `${behind.length} of ${n} runs not streaming; the first: ${states.join('; ')}`;
      },
    );
    const sshd = s.sshd;
    if (!sshd) throw new Error('no sshd');
    const lines = async (jobId: string) =>
      (await s.redis.xrange(s.registry.keys.output(jobId), '-', '+'))
        .filter(([, f]) => f[1] === 'output')
        .map(([id, f]) => {
          const [word, k, when] = (f[3] ?? '').split(' ');
          return { at: Number(id.split('-')[0]), word, k: Number(k), after: when === 'after' };
        });
    const cut = Date.now();
    const cutCount = sshd.dropConnections();
    // After the cut: a line marked `after` was printed after it.
    writeFileSync(cutFile, '');
    // Every run back: a line printed after the cut is in Redis. Then the runs may end.
    const firstAfterCut = async () =>
      Promise.all(jobs.map(async (j) => (await lines(j.id ?? '')).find((l) => l.word === 'line' && l.after)));
    await waitUntil(
      async () => (await firstAfterCut()).every(Boolean),
      300_000,
      50,
      async () => {
        const behind = (await firstAfterCut()).flatMap((l, i) => (l ? [] : [i]));
        const states = await Promise.all(behind.slice(0, 5).map((i) => describe(jobs[i]?.id ?? '')));
        return `${behind.length} of ${n} runs not streaming after the cut; the first: ${states.join('; ')}`;
      },
    );
    const back = (await firstAfterCut()).map((l) => (l?.at ?? Number.NaN) - cut);
    writeFileSync(stop, '');
    await waitUntil(async () => Number(await s.redis.hget(s.registry.keys.stats(), 'jobs_completed')) >= n, 300_000, 20);
    // After the storm, not during it: both would share the server.
    const raw = await rawReconnects(sshd, n);

    let bad = 0;
    for (const j of jobs) {
      const all = await lines(j.id ?? '');
      const printed = all.filter((l) => l.word === 'line');
      const end = all.at(-1);
      const once = end?.word === 'end' && printed.length === end.k && printed.every((l, i) => l.k === i);
      const job = await s.jobs.getJob(j.id ?? '');
      if (!once || job?.returnvalue?.attempts !== 1) bad++;
    }
    const p99 = percentile(back, 99);
    return [
      {
        name: `Reconnect storm: ${n} running SSH members, every connection cut at once → each streaming again, p99`,
        baseline: `${n} raw ssh2 reconnects at once (connect + exec \`true\`), p99`,
        baselineValue: percentile(raw, 99),
        ours: 'cut → first line printed after it in Redis, p99',
        oursValue: p99,
        unit: 'ms',
        ratio: p99 / percentile(raw, 99),
        better: 'lower',
        target: 'p99 ≤ 5 s, no job lost, no line lost or twice',
        notes: `connections cut: ${cutCount}; back streaming p50 ${percentile(back, 50).toFixed(0)} ms, p99 ${p99.toFixed(0)} ms; raw reconnect p50 ${percentile(raw, 50).toFixed(0)} ms; jobs with a line lost, doubled or a second attempt: ${bad}`,
      },
    ];
  } finally {
    writeFileSync(stop, '');
    await s.close();
    tmp.remove();
  }
}

/** `n` new connections at once, each running `true`: ms from the start to each exit. */
async function rawReconnects(sshd: { host: string; port: number; username: string; privateKey: string }, n: number): Promise<number[]> {
  const t0 = performance.now();
  return Promise.all(Array.from({ length: n }, () => rawExec(sshd, 'true').then(() => performance.now() - t0)));
}
