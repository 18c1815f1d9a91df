import { type RunHandle, type Transport, TransportError, claimRun } from '@fleet/exec';
import type { RunRecord } from '@fleet/registry';

/**
 * Identity of a run record: from the record, or — if the PID line never reached Redis — from the
 * run's own record on the member. `undefined` means the run never started *and never will*: a start
 * still in flight (sent just before its worker died or its link was cut; a slow login shell makes
 * that window long) is stopped by claiming its record first (see claimRun). A missing record file is
 * not proof, which is what let a second agent start next to a late first one.
 * Throws (transient TransportError) while that cannot be decided yet: spawn nothing then.
 */
export async function handleOf(t: Transport, rec: RunRecord): Promise<RunHandle | undefined> {
  if (rec.pid !== undefined && rec.bootId && rec.startTime) {
    return { pid: rec.pid, bootId: rec.bootId, startTime: rec.startTime, runDir: rec.runDir };
  }
  if (!rec.runDir) return undefined;
  const c = await claimRun(t, rec.runDir);
  if (c.kind === 'record') return c.handle;
  if (c.kind === 'claimed') return undefined;
  throw new TransportError('timeout', `run ${rec.runDir}: its record is being written; cannot tell yet whether it started`);
}
