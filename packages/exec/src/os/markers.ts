import type { RunHandle } from '../identity';

/**
 * The wire protocol between the wrapper scripts on a member and us. The first line a wrapper prints
 * is `FLEET_PID:<pid>` (the seed's contract), the second `FLEET_ID:<bootId>:<startTime>`; after them
 * only agent output follows, so those two can't be spoofed by the agent. The end marker carries a
 * per-stream random nonce and may be glued to the agent's last, unterminated line.
 */
export const PID_LINE = /^FLEET_PID:(\d+)$/;
export const ID_LINE = /^FLEET_ID:([^:]*):([^:]*)$/;
export const ERR_LINE = /^FLEET_ERR:([a-z_]+)$/;
export const ATTACH_LINE = /^FLEET_ATTACH:(alive|gone|rebooted|mismatch)$/;
const PROBE_LINE = /^FLEET_PROBE:(alive|gone|rebooted|mismatch):([^:]*):(\d*)$/;
const KILL_LINE = /^FLEET_KILL:(killed|already_gone|identity_mismatch|timeout):(\d+)$/;

/** The local spawn helper: ready (or why not), then one line per request. */
export const HELPER_LINE = /^FLEET_HELPER:([a-z_]+)$/;
export const SPAWNED_LINE = /^FLEET_SPAWNED:(\d+):(\d+|[a-z_]+)$/;

function exitMarker(nonce: string): string {
  return `FLEET_EXIT:${nonce}:`;
}

/** Splits a line that ends with the end marker into (agent text before it, exit field). */
export function matchExit(line: string, nonce: string): { before: string; exit: string } | undefined {
  const marker = exitMarker(nonce);
  const at = line.lastIndexOf(marker);
  if (at === -1) return undefined;
  const exit = line.slice(at + marker.length);
  if (!/^(\d+|none)$/.test(exit)) return undefined;
  return { before: line.slice(0, at), exit };
}

export type ProbeState = 'alive' | 'gone' | 'rebooted' | 'mismatch';
export type KillResult = 'killed' | 'already_gone' | 'identity_mismatch' | 'timeout' | 'unreachable';

export interface ProbeResult {
  state: ProbeState;
  /** The agent's exit code if its exit file exists. */
  exitCode: number | undefined;
  /** Size of the output file in bytes. */
  outSize: number;
}

export function parseProbe(text: string): ProbeResult {
  for (const line of text.split('\n')) {
    const m = PROBE_LINE.exec(line.trim());
    if (m) {
      return {
        state: m[1] as ProbeState,
        exitCode: m[2] === '' ? undefined : Number(m[2]),
        outSize: m[3] === '' ? 0 : Number(m[3]),
      };
    }
  }
  throw new Error(`unparseable probe output: ${JSON.stringify(text.slice(0, 200))}`);
}

export function parseKill(text: string): { result: KillResult; count: number } {
  for (const line of text.split('\n')) {
    const m = KILL_LINE.exec(line.trim());
    if (m) return { result: m[1] as KillResult, count: Number(m[2]) };
  }
  throw new Error(`unparseable kill output: ${JSON.stringify(text.slice(0, 200))}`);
}

const TRIAGE_LINE = /^FLEET_TRIAGE:(\d+):(alive|gone|rebooted|mismatch):([01])$/;

export interface TriageResult {
  state: ProbeState;
  /** Some live process still belongs to the run's session or process group. */
  inUse: boolean;
}

export function parseTriage(text: string, count: number): TriageResult[] {
  const out: Array<TriageResult | undefined> = new Array(count).fill(undefined);
  for (const line of text.split('\n')) {
    const m = TRIAGE_LINE.exec(line.trim());
    if (m) out[Number(m[1])] = { state: m[2] as ProbeState, inUse: m[3] === '1' };
  }
  if (out.some((r) => r === undefined)) throw new Error(`incomplete triage output: ${JSON.stringify(text.slice(0, 200))}`);
  return out as TriageResult[];
}

/** `pid:bootId:startTime`, as the supervisor writes it to runDir/pid. */
export function parsePidFile(text: string, runDir: string): RunHandle | undefined {
  return parseRunRecord(text, runDir)?.handle;
}

/** A local run's waiter: the process that appends the leader's exit code (see os/unix.ts). */
export type Waiter = { pid: number; startTime: string };
export type RunRecordLine = { handle: RunHandle; waiter?: Waiter };

/**
 * Line 1 of runDir/pid: `pid:bootId:startTime` (the run's leader), and for a run started by the local
 * spawn helper also `:waiterPid:waiterStart` — the process outside the run's session that waits for
 * the leader and appends its exit code (see os/unix.ts).
 */
export function parseRunRecord(text: string, runDir: string): RunRecordLine | undefined {
  // A complete line only: the supervisor writes it with one write(2), so a reader can see the file
  // empty, but a record without its newline is never taken (it could be cut short).
  const m = /^(\d+):([^:\s]*):(\d+)(?::(\d+):(\d+))?\r?\n/.exec(text.replace(/^\s+/, ''));
  if (!m) return undefined;
  const handle = { pid: Number(m[1]), bootId: m[2] ?? '', startTime: m[3] ?? '', runDir };
  return m[4] && m[5] ? { handle, waiter: { pid: Number(m[4]), startTime: m[5] } } : { handle };
}

/** What claimRunScript found: the run's own record, our claim (it never started), or undecided. */
export type ClaimResult = { kind: 'record'; handle: RunHandle } | { kind: 'claimed' } | { kind: 'pending' };

export function parseClaim(text: string, runDir: string): ClaimResult {
  const m = /FLEET_CLAIM:(claimed|record|pending)\r?\n([\s\S]*)/.exec(text);
  if (m?.[1] === 'claimed') return { kind: 'claimed' };
  if (m?.[1] === 'record') {
    const handle = parsePidFile(m[2] ?? '', runDir);
    if (handle) return { kind: 'record', handle };
  }
  return { kind: 'pending' };
}

/**
 * The agent's exit code from the run's record: the second line of \`pid\`. Complete lines only: an
 * unterminated one may be cut short.
 */
export function parseExitRecord(pidText: string): string | undefined {
  return /^[^\n]*\n(\d+)\r?\n/.exec(pidText)?.[1];
}
