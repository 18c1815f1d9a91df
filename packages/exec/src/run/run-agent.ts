import type { RunHandle } from '../identity';
import type { BackoffOptions } from '../transport/backoff';
import { NotSentError, type Transport, isTransportError } from '../transport/types';
import { type RunHooks, type RunOutcome, RunFollower } from './follow';
import type { RunStream } from './host';

export interface RunAgentOptions {
  transport: Transport;
  /** Unique per attempt, e.g. `<jobId>-<attempt>`; names the run directory. */
  runId: string;
  workFolder: string;
  /** The agent's argv (from a provider). The prompt is never part of it. */
  argv: string[];
  env?: Record<string, string>;
  prompt: string | Buffer;
  hooks?: RunHooks;
  signal?: AbortSignal;
  reconnect?: BackoffOptions;
  killTimeoutMs?: number;
  /** Called once the run directory and prompt file exist, before the spawn. */
  onPrepared?(runDir: string): void | Promise<void>;
}

/**
 * One run, start to end, on the transport's RunHost: run directory and prompt file, the record
 * awaited (onPrepared), the start in a session of its own, then RunFollower until the agent's own exit.
 */
export async function runAgent(o: RunAgentOptions): Promise<RunOutcome> {
  const { transport } = o;
  const host = transport.host;
  const runDir = transport.os.runDir(o.workFolder, o.runId);
  try {
    const prep = await host.prepare(o.workFolder, runDir, o.prompt, o.signal);
    if (prep !== 'ok') return { kind: 'not_started', reason: prep };
  } catch (err) {
    // A link that failed is worth another attempt; a host that refuses us (auth, host key, no SFTP) is not.
    if (isTransportError(err) && err.transient) return { kind: 'not_started', reason: err.message };
    throw err;
  }
  await o.onPrepared?.(runDir);
  const follower = new RunFollower({
    transport,
    runDir,
    hooks: o.hooks,
    signal: o.signal,
    reconnect: o.reconnect,
    killTimeoutMs: o.killTimeoutMs,
  });
  if (o.signal?.aborted) return { kind: 'not_started', reason: 'aborted before spawn' };
  let first: RunStream | undefined;
  try {
    first = await host.start({ runDir, workFolder: o.workFolder, argv: o.argv, env: o.env }, o.signal);
  } catch (err) {
    // The start may or may not have reached the member: recover from runDir/pid. One never sent
    // (aborted while it waited for the control shell) goes the same way: the abort claims the run.
    if (!isTransportError(err) && !(err instanceof NotSentError)) throw err;
  }
  return follower.follow(first);
}

export interface AttachRunOptions {
  transport: Transport;
  handle: RunHandle;
  /** Output bytes already delivered to the caller. */
  offset: number;
  hooks?: RunHooks;
  signal?: AbortSignal;
  reconnect?: BackoffOptions;
  killTimeoutMs?: number;
}

/** Adopts a run started earlier (by us or a worker that died): streams from `offset` to its end. */
export function attachRun(o: AttachRunOptions): Promise<RunOutcome> {
  const follower = RunFollower.fromHandle(
    {
      transport: o.transport,
      runDir: o.handle.runDir,
      hooks: o.hooks,
      signal: o.signal,
      reconnect: o.reconnect,
      killTimeoutMs: o.killTimeoutMs,
    },
    o.handle,
    o.offset,
  );
  return follower.follow(undefined);
}
