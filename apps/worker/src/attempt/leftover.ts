import { type RunHandle, type Transport, killRun, killUnconfirmed, probeRun } from '@fleet/exec';
import type { RunRecord } from '@fleet/registry';
import { RetryableJobError, YieldMember } from '../errors';
import { handleOf } from '../run-handle';
import type { Attempt } from './attempt';
import { holdFence } from './fence-keeper';

/** A run this attempt follows instead of starting one: its record and identity. */
export type Adoption = { rec: RunRecord; handle: RunHandle };

/**
 * Step 2, kill-before-spawn, for the record beginAttempt found on the member. Our own run (same job
 * and attempt) is adopted if it still runs, or if it finished while nobody watched (its exit code
 * and output are in its run directory). Anything else is killed and confirmed gone first; then its
 * record is dropped, except another job's *finished* run, which is parked for that job's attempt to
 * take its result. Only the fence holder kills or drops: an attempt that lost the fence leaves both.
 */
export async function settleLeftover(a: Attempt, t: Transport, leftover: RunRecord): Promise<Adoption | undefined> {
  const h = await handleOf(t, leftover);
  const probe = h ? await probeRun(t, h) : undefined;
  const finished = probe?.state === 'gone' && probe.exitCode !== undefined;
  if (h && (probe?.state === 'alive' || finished) && (await adoptOwn(a, leftover, h, probe?.state))) return { rec: leftover, handle: h };
  await holdFence(a, 'before settling the run left on the member');
  const report = h ? await killRun(t, h, { timeoutMs: a.cfg.killTimeoutMs }) : undefined;
  a.log.warn(
    { pid: h?.pid, leftover: leftover.token, kill: report?.result ?? 'never_spawned', killMs: report && Math.round(report.ms) },
    'killed leftover run before spawning',
  );
  if (report && killUnconfirmed(report)) {
    throw new RetryableJobError(
      'unreachable',
      `leftover run ${leftover.token} could not be confirmed gone (${report.result}); not spawning`,
    );
  }
  if (report?.result === 'killed') await a.registry.incrStat('leftovers_killed');
  await dropOrPark(a, leftover, finished && leftover.jobId !== a.jobId, { pid: h?.pid, exitCode: probe?.exitCode });
  return undefined;
}

/** The leftover is gone: drop its record, or park it when it is another job's finished run. */
async function dropOrPark(a: Attempt, leftover: RunRecord, park: boolean, seen: { pid?: number; exitCode?: number }): Promise<void> {
  const settled = park
    ? await a.registry.parkRun(a.memberId, a.fence, leftover)
    : await a.registry.dropLeftover(a.memberId, a.fence, leftover.token);
  if (settled === 'no_fence') throw new YieldMember("lost the member's fence while settling the run left on it");
  if (park && settled === 'ok') {
    await a.registry.incrStat('leftovers_parked');
    a.log.warn({ ...seen, leftover: leftover.token }, "parked another job's finished run for that job (its result is kept)");
  }
}

/** The leftover is this very attempt's run (its worker died): adopt it. */
async function adoptOwn(a: Attempt, leftover: RunRecord, h: RunHandle, runState: string | undefined): Promise<boolean> {
  if (leftover.jobId !== a.jobId || leftover.attempt !== a.attempt) return false;
  if (!(await a.registry.adoptRun(a.memberId, leftover.token, a.fence, a.cfg.workerId))) return false;
  a.log.info({ pid: h.pid, from: leftover.token, offset: leftover.outOffset, runState }, 'adopting our own run left by a previous worker');
  return true;
}

/** Our own finished run, parked by another job's attempt: its exit code and output are the result. */
export async function takeParked(a: Attempt, t: Transport, parked: RunRecord): Promise<Adoption | undefined> {
  const h = await handleOf(t, parked);
  const probe = h ? await probeRun(t, h) : undefined;
  if (!h || probe?.state !== 'gone' || probe.exitCode === undefined) {
    // Its run directory no longer tells how it ended: nothing to take (the record expires).
    a.log.warn({ pid: h?.pid, parked: parked.token, runState: probe?.state }, 'parked run has no recorded end; running the attempt');
    return undefined;
  }
  const r = await a.registry.adoptParked(a.memberId, a.fence, parked, a.cfg.workerId);
  if (r !== 'ok') throw new YieldMember(`cannot take back the parked run (${r})`);
  a.log.info(
    { pid: h.pid, from: parked.token, offset: parked.outOffset, runState: probe.state, parked: true },
    'adopting our own run left by a previous worker',
  );
  return { rec: parked, handle: h };
}
