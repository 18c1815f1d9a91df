/**
 * What identifies one process we started, across SSH reconnects and worker restarts: the PID alone
 * can be reused, so a kill is only ever aimed at a PID whose boot id and start time still match.
 * On Unix startTime is /proc/<pid>/stat field 22 (clock ticks since boot); on Windows it is the
 * process StartTime as UTC ticks.
 */
export interface ProcessIdentity {
  pid: number;
  bootId: string;
  startTime: string;
}

/** Where a run keeps its files on the member: prompt, out, exit. */
export interface RunLocation {
  runDir: string;
}

export type RunHandle = ProcessIdentity & RunLocation;
