import type { RunHandle } from '../identity';
import type { ProbeState } from '../os/markers';
import { type BackoffOptions, sleep, withBackoff } from '../transport/backoff';
import { type Transport, isTransient, isTransportError } from '../transport/types';
import { type KillReport, killRun, readRunPidFile } from './control';
import type { RunStream } from './host';
import type { WrapperEvent } from './reader';
import { controlExec } from './shell-host';

export interface RunHooks {
  /**
   * The FLEET_PID line arrived. Awaited before anything else of the stream is handled. `identity` is
   * the full handle when the identity line came in the same read (local runs), so a caller can
   * persist both in one write; onStarted follows with the same object.
   */
  onPid?(pid: number, identity?: RunHandle): void | Promise<void>;
  /** The full identity (pid, boot id, start time, run dir) is known. Awaited likewise. */
  onStarted?(handle: RunHandle): void | Promise<void>;
  /** The end marker arrived (the exit code, or undefined if none): called before the end-of-run cleanup. */
  onExit?(exitCode: number | undefined): void;
  /** One line of agent output, in order, exactly once across reconnects. */
  onLine?(text: string): void | Promise<void>;
  /** The stream was lost without the end marker; we are about to reconnect. */
  onDrop?(info: { reason: string; drops: number }): void;
  /** A reattach found the run in this state. */
  onReattach?(state: ProbeState): void;
}

export type RunOutcome =
  | {
      kind: 'exited';
      exitCode: number;
      handle: RunHandle;
      /** Last lines of output (bounded), for result parsing and error classification. */
      tail: string[];
      outBytes: number;
      drops: number;
      /** What was left in the run's session after the agent exited, now killed. */
      cleanup: KillReport;
    }
  /** The process is gone and left no exit code (killed from outside, reboot). */
  | { kind: 'lost'; handle: RunHandle; tail: string[]; outBytes: number; drops: number; reason: string }
  /** Our signal fired; the run was killed (see kill.result). */
  | { kind: 'aborted'; handle: RunHandle | undefined; kill: KillReport | undefined; tail: string[]; drops: number }
  /** The wrapper refused to start, or the spawn provably never happened. */
  | { kind: 'not_started'; reason: string }
  /** The member stayed unreachable past the reconnect deadline; the run's state is unknown. */
  | { kind: 'unreachable'; handle: RunHandle | undefined; reason: string; tail: string[]; drops: number };

export interface FollowOptions {
  transport: Transport;
  runDir: string;
  hooks?: RunHooks;
  signal?: AbortSignal;
  /** Reconnect policy after a drop. */
  reconnect?: BackoffOptions;
  /** How long to wait for runDir/pid after a drop that came before the FLEET_PID line. */
  spawnGraceMs?: number;
  killTimeoutMs?: number;
  /** Bounds of the kept output tail. */
  tailLines?: number;
  tailBytes?: number;
  /** Consecutive drops without any progress before giving up as unreachable. */
  maxIdleDrops?: number;
}

const DEFAULT_RECONNECT: BackoffOptions = { initialMs: 100, maxMs: 3_000, deadlineMs: 120_000 };

/**
 * Follows one run to its end across any number of stream drops: reads the header (PID first,
 * persisted by the caller before anything else), forwards output lines, and on a drop reconnects,
 * re-identifies the process and resumes from the exact byte offset. Only the agent's own exit code
 * (the end marker, from the exit file the supervisor wrote) ends a run as `exited`.
 */
export class RunFollower {
  handle: RunHandle | undefined;
  private pid: number | undefined;
  private offset = 0;
  private drops = 0;
  private readonly tail: string[] = [];
  private tailSize = 0;
  private exitCode: number | undefined | null = null; // null = no end marker seen
  /** Where this follower started in the output (> 0 after an adoption). */
  private startOffset = 0;
  private wrapperError: string | undefined;

  constructor(private readonly o: FollowOptions) {}

  /** Start following from an already-known run (adoption after a restart). */
  static fromHandle(o: FollowOptions, handle: RunHandle, offset: number): RunFollower {
    const f = new RunFollower(o);
    f.handle = handle;
    f.pid = handle.pid;
    f.offset = offset;
    f.startOffset = offset;
    return f;
  }

  get outBytes(): number {
    return this.offset;
  }

  /** Follows `first` (a fresh start's stream, or undefined to start with a reattach). */
  async follow(first: RunStream | undefined): Promise<RunOutcome> {
    const { signal } = this.o;
    let current = first;
    let idleDrops = 0;
    for (;;) {
      const before = this.offset;
      if (current) {
        const reason = await this.consume(current);
        if (signal?.aborted) return this.abort();
        if (this.wrapperError) return { kind: 'not_started', reason: this.wrapperError };
        if (this.exitCode !== null) return this.finish();
        this.drops++;
        this.o.hooks?.onDrop?.({ reason, drops: this.drops });
      }
      if (signal?.aborted) return this.abort();
      idleDrops = this.offset === before ? idleDrops + 1 : 0;
      if (idleDrops > (this.o.maxIdleDrops ?? 20)) {
        return { kind: 'unreachable', handle: this.handle, reason: 'stream keeps dropping', tail: this.tail, drops: this.drops };
      }
      try {
        if (!this.handle) {
          this.handle = await this.recoverHandle(signal);
          if (!this.handle) return { kind: 'not_started', reason: 'stream lost before the agent was spawned' };
          await this.o.hooks?.onStarted?.(this.handle);
        }
        current = await this.reattach(this.handle);
      } catch (err) {
        if (signal?.aborted) return this.abort();
        if (isTransportError(err)) {
          return { kind: 'unreachable', handle: this.handle, reason: err.message, tail: this.tail, drops: this.drops };
        }
        throw err;
      }
    }
  }

  private get finished(): boolean {
    return this.exitCode !== null || this.wrapperError !== undefined;
  }

  private async consume(stream: RunStream): Promise<string> {
    // An abort must not wait for the channel: a silent agent sends nothing, and sshd does not confirm
    // a channel close while the wrapper still runs. Every read races the signal.
    const signal = this.o.signal;
    const it = stream.events[Symbol.asyncIterator]();
    for (;;) {
      const next = await nextOrAbort(it, signal);
      if (next === 'aborted' || next.done) break;
      const evs = next.value;
      for (let i = 0; i < evs.length && !this.finished; i++) await this.apply(evs[i] as WrapperEvent, evs[i + 1]);
      if (this.finished || signal?.aborted) break;
    }
    if (this.finished || this.o.signal?.aborted) {
      stream.close();
      return this.finished ? 'done' : 'aborted';
    }
    const end = await Promise.race([stream.ended, sleep(2_000).then(() => undefined)]);
    stream.close();
    if (!end) return 'stream ended';
    return end.kind === 'drop' ? end.reason : `wrapper ended (code ${end.code}, signal ${end.signal ?? 'none'})`;
  }

  private async apply(ev: WrapperEvent, next?: WrapperEvent): Promise<void> {
    switch (ev.type) {
      case 'pid': {
        this.pid = ev.pid;
        if (next?.type !== 'identity' || this.handle) {
          await this.o.hooks?.onPid?.(ev.pid);
          return;
        }
        // The identity came in the same read: one handle for both hooks (the identity event that
        // follows finds it set and is a no-op).
        const handle = { pid: ev.pid, bootId: next.bootId, startTime: next.startTime, runDir: this.o.runDir };
        await this.o.hooks?.onPid?.(ev.pid, handle);
        this.handle = handle;
        await this.o.hooks?.onStarted?.(handle);
        return;
      }
      case 'identity':
        if (this.pid === undefined || this.handle) return;
        this.handle = { pid: this.pid, bootId: ev.bootId, startTime: ev.startTime, runDir: this.o.runDir };
        await this.o.hooks?.onStarted?.(this.handle);
        return;
      case 'attached':
        this.o.hooks?.onReattach?.(ev.state);
        return;
      case 'error':
        this.wrapperError = ev.reason;
        return;
      case 'line':
        this.offset += ev.bytes;
        this.keep(ev.text);
        await this.o.hooks?.onLine?.(ev.text);
        return;
      case 'exit':
        this.exitCode = ev.exitCode;
        this.o.hooks?.onExit?.(ev.exitCode);
        return;
    }
  }

  private keep(text: string): void {
    const maxLines = this.o.tailLines ?? 2_000;
    const maxBytes = this.o.tailBytes ?? 1 << 20;
    this.tail.push(text);
    this.tailSize += text.length;
    while (this.tail.length > maxLines || (this.tailSize > maxBytes && this.tail.length > 1)) {
      this.tailSize -= this.tail.shift()?.length ?? 0;
    }
  }

  /** After a drop before the identity arrived: the supervisor's own record, waited for briefly. */
  private async recoverHandle(signal: AbortSignal | undefined): Promise<RunHandle | undefined> {
    const deadline = Date.now() + (this.o.spawnGraceMs ?? 2_000);
    for (;;) {
      const h = await readRunPidFile(this.o.transport, this.o.runDir, this.o.reconnect ?? DEFAULT_RECONNECT);
      if (h) return h;
      if (Date.now() >= deadline) return undefined;
      await sleep(100, signal);
    }
  }

  private reattach(handle: RunHandle): Promise<RunStream> {
    return withBackoff(
      () => this.o.transport.host.attach(handle, this.offset),
      isTransient,
      this.o.reconnect ?? DEFAULT_RECONNECT,
      this.o.signal,
    );
  }

  private async finish(): Promise<RunOutcome> {
    const handle = this.handle;
    if (!handle) return { kind: 'not_started', reason: 'end marker without a process identity' };
    if (this.exitCode === undefined || this.exitCode === null) {
      return {
        kind: 'lost',
        handle,
        tail: this.tail,
        outBytes: this.offset,
        drops: this.drops,
        reason: 'process gone without an exit code',
      };
    }
    // Adopted mid-run: the lines before our offset (the result line among them, if the agent printed
    // it and then lingered) were delivered to an earlier follower. Parse from the file's own tail.
    if (this.startOffset > 0) await this.reloadTailFromFile(handle);
    // Nothing we started outlives its run: kill whatever the agent left in its session.
    const cleanup = await killRun(this.o.transport, handle, { timeoutMs: this.o.killTimeoutMs ?? 5_000 });
    return { kind: 'exited', exitCode: this.exitCode, handle, tail: this.tail, outBytes: this.offset, drops: this.drops, cleanup };
  }

  private async reloadTailFromFile(handle: RunHandle): Promise<void> {
    const bytes = this.o.tailBytes ?? 1 << 20;
    try {
      const os = this.o.transport.os;
      const text = await controlExec(this.o.transport, os.readFileTailScript(os.joinPath(handle.runDir, 'out'), bytes));
      let lines = text.split('\n');
      if (lines.at(-1) === '') lines.pop();
      // The first line may be cut by the byte window: drop it unless the file is smaller than the window.
      if (Buffer.byteLength(text) >= bytes) lines = lines.slice(1);
      this.tail.length = 0;
      this.tailSize = 0;
      for (const l of lines) this.keep(l.endsWith('\r') ? l.slice(0, -1) : l);
    } catch {
      // Keep what we streamed; the result may then be missing, which parsing reports clearly.
    }
  }

  private async abort(): Promise<RunOutcome> {
    // 'detach': someone else owns the run now (it was adopted): stop following, touch nothing.
    if (this.o.signal?.reason === 'detach')
      return { kind: 'aborted', handle: this.handle, kill: undefined, tail: this.tail, drops: this.drops };
    let handle = this.handle;
    if (!handle && this.pid !== undefined) {
      handle = await readRunPidFile(this.o.transport, this.o.runDir).catch(() => undefined);
    }
    // The spawn may be in flight: wait (without the fired signal) for the supervisor's record.
    if (!handle) handle = await this.recoverHandle(undefined).catch(() => undefined);
    const kill = handle ? await killRun(this.o.transport, handle, { timeoutMs: this.o.killTimeoutMs ?? 5_000 }) : undefined;
    return { kind: 'aborted', handle, kill, tail: this.tail, drops: this.drops };
  }
}

/**
 * The iterator's next item, or 'aborted' once the signal fires. Not a Promise.race against one
 * promise that lives as long as the run: each race would leave it a reaction holding what that read
 * returned, so a long run would keep all its output in memory.
 */
function nextOrAbort<T>(it: AsyncIterator<T>, signal: AbortSignal | undefined): Promise<IteratorResult<T> | 'aborted'> {
  if (!signal) return it.next();
  if (signal.aborted) return Promise.resolve('aborted');
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve('aborted');
    signal.addEventListener('abort', onAbort, { once: true });
    it.next().then(
      (r) => {
        signal.removeEventListener('abort', onAbort);
        resolve(r);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
