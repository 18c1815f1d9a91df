import { type PrivateSshd, isAlive } from '@fleet/testkit';
import { Client } from 'ssh2';
import { type BenchRow, QUICK, percentile, timeEach } from './lib';
import { benchStack, waitUntil } from './stack';

/**
 * Bench 2: enqueue → PID persisted in Redis (the run record's `pidAt`, set by the compare-and-set
 * that persists the PID). Baseline: a Redis round trip (PING); for SSH members also a raw exec
 * channel (`true`) on an open connection, which pays the login shell's startup — the price of any
 * new command over SSH. The SSH member's login is made slow (LOGIN_DELAY_S on top of the user's rc
 * files, like pyenv or nvm), and its runs are measured back to back and spaced by the raw channel
 * time, after the member's first run (which also connects).
 * Bench 3: cancel → the whole process tree gone (polled in /proc every 2 ms). Baseline: the raw
 * kill(2) + reap of a child process.
 */
/** The slow login of the SSH member (issue 19: a login shell costing ≥ 0.4 s). */
const LOGIN_DELAY_S = 0.4;

export async function benchLatency(): Promise<BenchRow[]> {
  const n = QUICK ? 3 : 50;
  const s = await benchStack({ sshd: { loginDelayS: LOGIN_DELAY_S } });
  const rows: BenchRow[] = [];
  /** What a timed-out wait found: the job's state and reason, and the member's run record. */
  const found = (memberId: string, jobId: string | undefined) => async () => {
    const job = await s.jobs.getJob(jobId ?? '');
    const run = await s.registry.getRun(memberId);
    return JSON.stringify({ jobId, state: await job?.getState(), failedReason: job?.failedReason, run });
  };
  try {
    const ping: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t = performance.now();
      await s.redis.ping();
      ping.push(performance.now() - t);
    }
    const rawKill: number[] = [];
    const { spawn } = await import('node:child_process');
    for (let i = 0; i < n; i++) {
      const c = spawn('sleep', ['60'], { stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, 20));
      const t = performance.now();
      c.kill('SIGKILL');
      await waitUntil(() => !isAlive(c.pid ?? 0), 10_000, 1);
      rawKill.push(performance.now() - t);
    }
    for (const kind of ['local', 'ssh'] as const) {
      const m = kind === 'local' ? await s.localMember('lat-local') : await s.sshMember('lat-ssh');
      /** One short run: enqueue → the PID persisted in the run record (its `pidAt`), then its completion. */
      const enqueueToPid = async (memberId: string): Promise<number> => {
        const t0 = Date.now();
        const job = await s.jobs.enqueue(memberId, { prompt: 'sleep 0.05', attempts: 1 });
        let pidAt = 0;
        await waitUntil(
          async () => {
            const rec = await s.registry.getRun(memberId);
            if (rec && rec.jobId === job.id && rec.pidAt) pidAt = rec.pidAt;
            return pidAt > 0;
          },
          120_000,
          1,
          found(memberId, job.id),
        );
        await waitUntil(async () => (await job.getState()) === 'completed', 120_000, 5, found(memberId, job.id));
        return pidAt - t0;
      };
      // The member's first run also connects and starts its control shell: printed, not counted.
      const first = await enqueueToPid(m.id);
      const toPid: number[] = [];
      for (let i = 0; i < n; i++) toPid.push(await enqueueToPid(m.id));
      if (kind === 'ssh' && s.sshd) {
        const raw = await rawExecChannel(s.sshd, n);
        const spaced: number[] = [];
        const gap = Math.ceil(percentile(raw, 50) * 1.5);
        for (let i = 0; i < n; i++) {
          await new Promise((r) => setTimeout(r, gap));
          spaced.push(await enqueueToPid(m.id));
        }
        for (const [how, v] of [
          ['back to back', toPid],
          [`runs ${gap} ms apart`, spaced],
        ] as const) {
          rows.push(
            msRow(
              `Enqueue → PID persisted in Redis (ssh, ${how}), p50 (p99 ${percentile(v, 99).toFixed(0)} ms; the member's first run ${first} ms)`,
              [`raw exec channel (\`true\`) on an open connection (the login shell), p50`, percentile(raw, 50)],
              ['enqueue → pid persisted p50', percentile(v, 50)],
              'p50 ≤ 50 ms, p99 ≤ 150 ms',
            ),
          );
        }
      } else
        rows.push(
          msRow(
            `Enqueue → PID persisted in Redis (${kind}), p50 (p99 ${percentile(toPid, 99).toFixed(0)} ms; the member's first run ${first} ms)`,
            ['Redis PING round trip p50', percentile(ping, 50)],
            ['enqueue → pid persisted p50', percentile(toPid, 50)],
            kind === 'local' ? 'p50 ≤ 15 ms' : '',
          ),
        );
      const toGone: number[] = [];
      for (let i = 0; i < n; i++) {
        const job = await s.jobs.enqueue(m.id, { prompt: 'sleep 60 & sleep 60 & wait', attempts: 1 });
        let pid = 0;
        await waitUntil(
          async () => {
            const r = await s.registry.getRun(m.id);
            if (r?.startTime && r.jobId === job.id) pid = r.pid ?? 0;
            return pid > 0;
          },
          120_000,
          2,
          found(m.id, job.id),
        );
        await new Promise((r) => setTimeout(r, 50));
        const t = performance.now();
        await s.jobs.cancel(job.id ?? '');
        await waitUntil(() => !isAlive(pid), 120_000, 2, found(m.id, job.id));
        toGone.push(performance.now() - t);
        await waitUntil(async () => (await job.getState()) === 'failed', 120_000, 5, found(m.id, job.id));
      }
      rows.push(
        msRow(
          `Cancel → process tree gone (${kind}), p99 (p50 ${percentile(toGone, 50).toFixed(0)} ms)`,
          ['raw kill(2)+reap of a child p99', percentile(rawKill, 99)],
          ['cancel → tree gone p99', percentile(toGone, 99)],
          kind === 'local' ? 'p99 ≤ 250 ms' : 'p99 ≤ 500 ms',
        ),
      );
    }
  } finally {
    await s.close();
  }
  return rows;
}

/** A latency row (ms, lower is better): ours against its baseline. */
function msRow(name: string, [baseline, baselineValue]: [string, number], [ours, oursValue]: [string, number], target: string): BenchRow {
  return { name, baseline, baselineValue, ours, oursValue, unit: 'ms', ratio: oursValue / baselineValue, better: 'lower', target };
}

/** `n` exec channels running `true` on one open connection, each timed from the request to its close. */
async function rawExecChannel(sshd: PrivateSshd, n: number): Promise<number[]> {
  const c = new Client();
  await new Promise<void>((resolve, reject) => {
    c.once('ready', () => resolve());
    c.once('error', reject);
    c.connect({ host: sshd.host, port: sshd.port, username: sshd.username, privateKey: sshd.privateKey });
  });
  try {
    return await timeEach(
      n,
      () =>
        new Promise<void>((resolve, reject) =>
          c.exec('true', (err, ch) => {
            if (err) return reject(err);
            ch.once('close', () => resolve());
            ch.resume();
            ch.stderr.resume();
          }),
        ),
    );
  } finally {
    c.end();
  }
}
