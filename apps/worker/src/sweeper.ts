import { type RunHandle, type Transport, killRun, killUnconfirmed, needsKill, triageRuns } from '@fleet/exec';
import type { FleetJobs, Registry, RunRecord } from '@fleet/registry';
import type { Logger } from 'pino';
import { handleOf } from './run-handle';
import type { Transports } from './transports';

type Triage = Awaited<ReturnType<typeof triageRuns>>[number];

/**
 * Finds run records that no live attempt owns and kills their process trees (identity-checked).
 * A record is left alone while its fence is held by its own token (a live attempt), or while its job
 * is still active/waiting (the job's next attempt will adopt or kill it itself).
 *
 * Cost: one pass over the process table per member host (triage) for all its stale records; an
 * individual kill only where a run's leader, session or group is still alive. Records are independent
 * (one per member), so their Redis reads and removals overlap, `SWEEP_CONCURRENCY` at a time.
 */
export async function sweep(deps: {
  registry: Registry;
  jobs: FleetJobs;
  transports: Transports;
  log: Logger;
  killTimeoutMs: number;
}): Promise<{
  checked: number;
  killed: number;
  removed: number;
}> {
  const { registry, jobs, transports, log } = deps;
  let killed = 0;
  let removed = 0;
  const runs = await registry.listRuns();
  const byTransport = new Map<Transport, Orphan[]>();
  await eachLimit(runs, SWEEP_CONCURRENCY, async ({ run, fence }) => {
    if (fence === run.token) return;
    const job = await jobs.getJob(run.jobId);
    const jobState = job ? await job.getState() : 'missing';
    if (jobState === 'active' || jobState === 'waiting' || jobState === 'delayed' || jobState === 'prioritized') return;
    try {
      const member = await registry.getMember(run.memberId);
      if (!member) return;
      const t = await transports.get(member);
      const handle = await handleOf(t, run);
      const list = byTransport.get(t) ?? [];
      list.push({ run, handle, jobState });
      byTransport.set(t, list);
    } catch (err) {
      log.error({ memberId: run.memberId, jobId: run.jobId, err: (err as Error).message }, 'sweeper: cannot inspect a run record');
    }
  });
  for (const [t, list] of byTransport) {
    const withHandle = list.filter((e) => e.handle !== undefined);
    let triage: Triage[];
    try {
      triage = await triageRuns(
        t,
        withHandle.map((e) => e.handle as RunHandle),
      );
    } catch (err) {
      log.warn({ err: (err as Error).message, runs: list.length }, 'sweeper: member unreachable; will retry');
      continue;
    }
    const verdict = new Map(withHandle.map((e, i) => [e, triage[i]]));
    await eachLimit(list, SWEEP_CONCURRENCY, async (e) => {
      const l = log.child({ memberId: e.run.memberId, jobId: e.run.jobId, attempt: e.run.attempt, pid: e.run.pid });
      try {
        const r = await settleOrphan(registry, t, e, verdict.get(e), deps.killTimeoutMs);
        if (r.result === 'unconfirmed') return l.warn({ kill: r.kill }, 'sweeper: orphan not confirmed gone; will retry');
        if (r.result === 'killed') killed++;
        if (r.removed) removed++;
        l.warn({ jobState: e.jobState, kill: r.result, category: 'orphan' }, 'sweeper: removed a run no live job owns');
      } catch (err) {
        l.error({ err: (err as Error).message }, 'sweeper: failed on a run record');
      }
    });
  }
  return { checked: runs.length, killed, removed };
}

type Orphan = { run: RunRecord; handle: RunHandle | undefined; jobState: string };

/** Kills one orphan if the triage found it alive (identity-checked), then drops its record unless the kill is unconfirmed. */
async function settleOrphan(
  registry: Registry,
  t: Transport,
  { run, handle }: Orphan,
  tr: Triage | undefined,
  killTimeoutMs: number,
): Promise<{ result: string; kill?: string; removed?: boolean }> {
  let result = handle ? 'already_gone' : 'never_spawned';
  if (handle && tr && needsKill(tr)) {
    const report = await killRun(t, handle, { timeoutMs: killTimeoutMs });
    if (killUnconfirmed(report)) return { result: 'unconfirmed', kill: report.result };
    result = report.result;
    if (report.result === 'killed') await registry.incrStat('orphans_killed');
  } else if (tr?.state === 'mismatch') {
    result = 'identity_mismatch';
  }
  return { result, removed: await registry.deleteRun(run.memberId, run.token) };
}

/** Records handled at once by a sweep (each is a few Redis round trips; kills are identity-checked). */
const SWEEP_CONCURRENCY = 32;

/** Runs `fn` over `items`, at most `limit` at a time. */
async function eachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}
