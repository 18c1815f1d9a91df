import type { RunHandle } from '../identity';
import { type ClaimResult, type KillResult, type ProbeResult, type TriageResult, parsePidFile } from '../os/markers';
import type { BackoffOptions } from '../transport/backoff';
import { type Transport, isTransportError } from '../transport/types';
import { controlExec } from './shell-host';

/** Control steps on one run, through the member's RunHost. */

export function probeRun(transport: Transport, handle: RunHandle, backoff?: BackoffOptions): Promise<ProbeResult> {
  return transport.host.probe(handle, backoff);
}

export interface KillReport {
  result: KillResult;
  /** Processes found and killed in the first round. */
  count: number;
  /** Time from the kill request to "confirmed gone". */
  ms: number;
}

/** A kill that could not confirm the run gone (member unreachable, or the tree outlived the timeout): its record must stay. */
export function killUnconfirmed(report: KillReport | undefined): boolean {
  return report?.result === 'unreachable' || report?.result === 'timeout';
}

/**
 * Kills the run's whole process tree if (and only if) its identity still matches, and waits until
 * nothing of it is alive. `unreachable` means we could not even ask: the caller must not assume the
 * run is gone.
 */
export async function killRun(
  transport: Transport,
  handle: RunHandle,
  opts: { timeoutMs?: number; backoff?: BackoffOptions } = {},
): Promise<KillReport> {
  const started = performance.now();
  try {
    const { result, count } = await transport.host.kill(handle, opts.timeoutMs ?? 5_000, opts.backoff);
    return { result, count, ms: performance.now() - started };
  } catch (err) {
    if (isTransportError(err)) return { result: 'unreachable', count: 0, ms: performance.now() - started };
    throw err;
  }
}

/** The identity the supervisor recorded in runDir/pid, if it got that far. */
export async function readRunPidFile(transport: Transport, runDir: string, backoff?: BackoffOptions): Promise<RunHandle | undefined> {
  const text = await controlExec(transport, transport.os.readFileScript(transport.os.joinPath(runDir, 'pid')), backoff);
  return parsePidFile(text, runDir);
}

/**
 * Settles whether a run whose PID never reached Redis started (see OsCommands.claimRunScript): its
 * handle, or `claimed` (it never started and now never will), or `pending` (undecided: spawn nothing).
 */
export function claimRun(transport: Transport, runDir: string, backoff?: BackoffOptions): Promise<ClaimResult> {
  return transport.host.claim(runDir, backoff);
}

/**
 * Deletes the member's finished run directories older than `retentionMs`, except `keep` (runs a
 * record still names). The count deleted, or undefined where the member's OS cannot do it yet.
 */
export async function pruneRunDirs(
  transport: Transport,
  workFolder: string,
  retentionMs: number,
  keep: readonly string[],
): Promise<number | undefined> {
  const script = transport.os.pruneRunDirsScript?.(workFolder, Math.floor(retentionMs / 1000), keep);
  if (script === undefined) return undefined;
  const m = /^FLEET_PRUNED:(\d+)$/m.exec(await controlExec(transport, script));
  if (!m) throw new Error('prune of run directories gave no count');
  return Number(m[1]);
}

/** Classifies many runs on one member host with a single pass over its process table. */
export function triageRuns(transport: Transport, handles: readonly RunHandle[], backoff?: BackoffOptions): Promise<TriageResult[]> {
  return transport.host.triage(handles, backoff);
}

/** Whether a triaged run needs a kill: its leader lives (with our identity) or its session/group does. */
export function needsKill(t: TriageResult): boolean {
  return t.state === 'alive' || (t.state === 'gone' && t.inUse);
}
