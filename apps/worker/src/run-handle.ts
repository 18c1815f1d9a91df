import { type RunHandle, type Transport, readRunPidFile } from '@fleet/exec';
import type { RunRecord } from '@fleet/registry';

/** Identity of a run record: from the record, or — if the PID line never reached Redis — from runDir/pid. */
export async function handleOf(t: Transport, rec: RunRecord): Promise<RunHandle | undefined> {
  if (rec.pid !== undefined && rec.bootId && rec.startTime) {
    return { pid: rec.pid, bootId: rec.bootId, startTime: rec.startTime, runDir: rec.runDir };
  }
  if (!rec.runDir) return undefined;
  return readRunPidFile(t, rec.runDir);
}
