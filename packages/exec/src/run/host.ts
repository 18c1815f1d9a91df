import type { RunHandle } from '../identity';
import type { ClaimResult, KillResult, ProbeResult, TriageResult } from '../os/markers';
import type { BackoffOptions } from '../transport/backoff';
import type { ChannelEnd } from '../transport/types';
import type { WrapperEvent } from './reader';

/** One run's events as the host reports them, in order (a batch per read). */
export interface RunStream {
  readonly events: AsyncIterable<WrapperEvent[]>;
  /** Settles once when the stream is gone: `drop` means the link broke, not that the run ended. */
  readonly ended: Promise<ChannelEnd>;
  /** Stop reading (never touches the run). */
  close(): void;
}

export interface RunStart {
  runDir: string;
  workFolder: string;
  /** The agent's argv (from a provider). The prompt is never part of it. */
  argv: string[];
  env?: Record<string, string> | undefined;
}

/** Why a run directory could not be prepared; nothing was started. */
export type PrepareRefusal = 'workfolder_missing' | 'rundir_used' | `cannot create run directory: ${string}`;

/**
 * Where runs happen: each step of DESIGN.md's run protocol, once per kind of host. Every run
 * lives in its run directory (prompt, out, the `pid` record), so each step can be taken up by
 * another process after a crash. Errors of the link are TransportErrors.
 */
export interface RunHost {
  /** The run directory (0700) and its prompt file (0600, a file, never a command line). */
  prepare(workFolder: string, runDir: string, prompt: string | Buffer, signal?: AbortSignal): Promise<'ok' | PrepareRefusal>;
  /**
   * Starts the agent in a session of its own: its PID first, then output, then its exit code.
   * Throws NotSentError if `signal` fired before the start left us (nothing was started).
   */
  start(run: RunStart, signal?: AbortSignal): Promise<RunStream>;
  /** Follows a started run again from output byte `offset`. */
  attach(handle: RunHandle, offset: number): Promise<RunStream>;
  probe(handle: RunHandle, backoff?: BackoffOptions): Promise<ProbeResult>;
  /** Kills exactly the run's process tree (identity-checked) and waits until it is gone. */
  kill(handle: RunHandle, timeoutMs: number, backoff?: BackoffOptions): Promise<{ result: KillResult; count: number }>;
  /** For a run whose PID never reached Redis: its record, or a claim that it never starts. */
  claim(runDir: string, backoff?: BackoffOptions): Promise<ClaimResult>;
  /** Many runs classified in one pass over the host's process table. */
  triage(handles: readonly RunHandle[], backoff?: BackoffOptions): Promise<TriageResult[]>;
  close?(): void;
}
