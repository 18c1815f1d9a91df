import { killRun, readRunPidFile } from '@fleet/exec';
import type { FleetJobs, Registry } from '@fleet/registry';
import type { Logger } from 'pino';
import type { Transports } from './transports';

/**
 * Finds run records that no live attempt owns and kills their process trees (identity-checked).
 * A record is left alone while its fence is held by its own token (a live attempt), or while its job
 * is still active/waiting (the job's next attempt will adopt or kill it itself).
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
  for (const { run, fence } of runs) {
    if (fence === run.token) continue;
    const job = await jobs.getJob(run.jobId);
    const state = job ? await job.getState() : 'missing';
    if (state === 'active' || state === 'waiting' || state === 'delayed' || state === 'prioritized') continue;
    const l = log.child({ memberId: run.memberId, jobId: run.jobId, attempt: run.attempt, pid: run.pid });
    try {
      const member = await registry.getMember(run.memberId);
      if (!member) continue;
      const t = await transports.get(member);
      const handle =
        run.pid !== undefined && run.bootId && run.startTime
          ? { pid: run.pid, bootId: run.bootId, startTime: run.startTime, runDir: run.runDir }
          : await readRunPidFile(t, run.runDir);
      const report = handle ? await killRun(t, handle, { timeoutMs: deps.killTimeoutMs }) : undefined;
      if (report?.result === 'unreachable' || report?.result === 'timeout') {
        l.warn({ kill: report.result }, 'sweeper: orphan not confirmed gone; will retry');
        continue;
      }
      if (report?.result === 'killed') {
        killed++;
        await registry.incrStat('orphans_killed');
      }
      if (await registry.deleteRun(run.memberId, run.token)) removed++;
      l.warn({ jobState: state, kill: report?.result ?? 'never_spawned', category: 'orphan' }, 'sweeper: removed a run no live job owns');
    } catch (err) {
      l.error({ err: (err as Error).message }, 'sweeper: failed on a run record');
    }
  }
  return { checked: runs.length, killed, removed };
}
