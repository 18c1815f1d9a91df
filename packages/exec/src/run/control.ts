import type { RunHandle } from '../identity';
import {
  type ClaimResult,
  type KillResult,
  type ProbeResult,
  type TriageResult,
  parseClaim,
  parseKill,
  parsePidFile,
  parseProbe,
  parseTriage,
} from '../os/markers';
import { type BackoffOptions, withBackoff } from '../transport/backoff';
import { LocalTransport } from '../transport/local';
import { type Transport, TransportError } from '../transport/types';

/** Control operations on one run, each one short script on the member's control shell. */

const RECONNECT: BackoffOptions = { initialMs: 100, maxMs: 2_000, deadlineMs: 30_000 };

/** Runs a control script, reconnecting with backoff on transient transport errors. */
export function controlExec(
  transport: Transport,
  script: string,
  backoff: BackoffOptions = RECONNECT,
  signal?: AbortSignal,
): Promise<string> {
  return withBackoff(
    async () => (await transport.exec(script)).output,
    (e) => e instanceof TransportError && e.transient,
    backoff,
    signal,
  );
}

export async function probeRun(transport: Transport, handle: RunHandle, backoff?: BackoffOptions): Promise<ProbeResult> {
  return parseProbe(await controlExec(transport, transport.os.probeScript(handle), backoff));
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
  const timeoutMs = opts.timeoutMs ?? 5_000;
  try {
    if (transport instanceof LocalTransport && transport.os.name === 'linux') {
      const { result, count } = await transport.killRunLocal(handle, timeoutMs);
      return { result, count, ms: performance.now() - started };
    }
    const out = await controlExec(transport, transport.os.killScript(handle, { timeoutMs }), opts.backoff);
    const { result, count } = parseKill(out);
    return { result, count, ms: performance.now() - started };
  } catch (err) {
    if (err instanceof TransportError) return { result: 'unreachable', count: 0, ms: performance.now() - started };
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
export async function claimRun(transport: Transport, runDir: string, backoff?: BackoffOptions): Promise<ClaimResult> {
  return parseClaim(await controlExec(transport, transport.os.claimRunScript(runDir), backoff), runDir);
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
export async function triageRuns(transport: Transport, handles: readonly RunHandle[], backoff?: BackoffOptions): Promise<TriageResult[]> {
  if (handles.length === 0) return [];
  return parseTriage(await controlExec(transport, transport.os.triageScript(handles), backoff), handles.length);
}

/** Whether a triaged run needs a kill: its leader lives (with our identity) or its session/group does. */
export function needsKill(t: TriageResult): boolean {
  return t.state === 'alive' || (t.state === 'gone' && t.inUse);
}
