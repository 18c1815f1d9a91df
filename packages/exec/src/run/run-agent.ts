import type { RunHandle } from '../identity';
import { type BackoffOptions, withBackoff } from '../transport/backoff';
import { LocalTransport } from '../transport/local';
import { type Transport, TransportError } from '../transport/types';
import { controlExec } from './control';
import { type RunHooks, type RunOutcome, RunFollower, newNonce } from './follow';

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
 * One run, start to end: run directory (0700) and prompt file (0600, written as a file, never on a
 * command line), the PID-announcing wrapper, then RunFollower until the agent's own exit.
 */
export async function runAgent(o: RunAgentOptions): Promise<RunOutcome> {
  const { transport } = o;
  const os = transport.os;
  const runDir = os.runDir(o.workFolder, o.runId);
  const retryTransient = (e: unknown) => e instanceof TransportError && e.transient;
  const reconnect = o.reconnect ?? { initialMs: 100, maxMs: 2_000, deadlineMs: 30_000 };
  const fast = transport instanceof LocalTransport && os.supervisorArgv ? transport : undefined;
  try {
    if (fast) {
      const prep = await fast.prepareRun(o.workFolder, runDir, o.prompt);
      if (prep !== 'ok') return { kind: 'not_started', reason: prep };
    } else {
      const prep = await controlExec(transport, os.prepareRunDirScript(o.workFolder, runDir), reconnect, o.signal);
      if (prep.includes('FLEET_ERR:workfolder_missing')) return { kind: 'not_started', reason: 'workfolder_missing' };
      // A run directory is started once: one holding a record (an earlier start, or a claim) is never reused.
      if (prep.includes('FLEET_ERR:rundir_used')) return { kind: 'not_started', reason: 'rundir_used' };
      if (!prep.includes('FLEET_OK')) return { kind: 'not_started', reason: `cannot create run directory: ${prep.trim().slice(0, 300)}` };
      await withBackoff(() => transport.writeFile(os.joinPath(runDir, 'prompt'), o.prompt, 0o600), retryTransient, reconnect, o.signal);
    }
  } catch (err) {
    if (err instanceof TransportError) return { kind: 'not_started', reason: err.message };
    if (fast) return { kind: 'not_started', reason: `cannot create run directory: ${(err as Error).message}` };
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
  const nonce = newNonce();
  let first: { channel: Awaited<ReturnType<Transport['stream']>>; nonce: string } | undefined;
  try {
    if (fast && os.supervisorArgv) {
      first = {
        channel: await fast.spawnRun({ run: { runDir, argv: o.argv, env: o.env }, cwd: o.workFolder, runDir, nonce }),
        nonce,
      };
    } else {
      first = {
        channel: await transport.stream(os.wrapperScript({ runDir, workFolder: o.workFolder, argv: o.argv, env: o.env, nonce })),
        nonce,
      };
    }
  } catch (err) {
    // The exec request may or may not have reached the member: recover from runDir/pid.
    if (!(err instanceof TransportError)) throw err;
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
