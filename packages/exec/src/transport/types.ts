import type { OsCommands } from '../os/types';
import type { RunHost } from '../run/host';

/** Output of a short control command (stdout and stderr merged). */
export interface ExecResult {
  output: string;
  code: number | null;
}

/**
 * How a streaming channel ended. `exit` carries the *wrapper's* exit status; only the end marker in
 * the stream (or the exit file) carries the agent's. `drop` means the channel went away without an
 * exit status: the connection broke, and the agent may well still be running.
 */
export type ChannelEnd = { kind: 'exit'; code: number | null; signal?: string | undefined } | { kind: 'drop'; reason: string };

export interface StreamChannel {
  /** Raw output bytes, in order. Ends when the channel ends. */
  readonly output: AsyncIterable<Buffer>;
  /** Settles once when the channel is gone. */
  readonly ended: Promise<ChannelEnd>;
  /** Close our side (does not touch the process tree on the member). */
  close(): void;
}

export interface Transport {
  readonly kind: 'local' | 'ssh';
  readonly os: OsCommands;
  /** How runs are started, followed and killed on this member (see run/host.ts). */
  readonly host: RunHost;
  /**
   * How `writeFile` reaches the member (the member check's probe; a run's prompt goes with its
   * prepare step): its own filesystem, SFTP, or the control shell where the server has no SFTP.
   */
  readonly filesVia: 'local' | 'sftp' | 'shell';
  /**
   * Runs a short script on the member's control shell. Throws TransportError if unreachable, and
   * NotSentError if `signal` fired before the script was sent (it never ran).
   */
  exec(script: string, opts?: { timeoutMs?: number; signal?: AbortSignal }): Promise<ExecResult>;
  /** Writes a file atomically (temp + rename) with the given mode. */
  writeFile(path: string, data: Buffer | string, mode: number): Promise<void>;
  /** Starts a long-running script and streams its stdout. */
  stream(script: string): Promise<StreamChannel>;
  /** A run will ask for a stream soon: its channel may be opened now, beside the run's other steps. */
  prepareStream(): void;
  close(): Promise<void>;
}

export type TransportErrorCode = 'unreachable' | 'dropped' | 'timeout' | 'auth' | 'host_key_mismatch' | 'host_key_unknown' | 'no_sftp';

export class TransportError extends Error {
  override name = 'TransportError';
  /** Marks the errors of a link, whatever copy of this module made them (see isTransportError). */
  readonly linkFailure = true;
  constructor(
    readonly code: TransportErrorCode,
    message: string,
  ) {
    super(message);
  }
  /** Worth retrying after a backoff (the network), as opposed to a configuration problem. */
  get transient(): boolean {
    return this.code === 'unreachable' || this.code === 'dropped' || this.code === 'timeout';
  }
}

/** A failure of the link to the member (not of what ran there). */
export function isTransportError(e: unknown): e is TransportError {
  return typeof e === 'object' && e !== null && (e as { linkFailure?: unknown }).linkFailure === true;
}

/** A link failure worth retrying after a backoff. */
export function isTransient(e: unknown): boolean {
  return isTransportError(e) && e.transient;
}

/** A command whose signal fired before it was sent: it never ran. */
export class NotSentError extends Error {
  constructor() {
    super('aborted before it was sent');
    this.name = 'NotSentError';
  }
}
