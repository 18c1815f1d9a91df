import { randomBytes } from 'node:crypto';
import type { RunHandle } from '../identity';
import { parseClaim, parseKill, parseProbe, parseTriage } from '../os/markers';
import { type BackoffOptions, withBackoff } from '../transport/backoff';
import { type ChannelEnd, type StreamChannel, type Transport, isTransient, isTransportError } from '../transport/types';
import type { PrepareRefusal, RunHost, RunStart, RunStream } from './host';
import { type WrapperEvent, WrapperReader } from './reader';

/** Reconnect policy of one control step. */
const RECONNECT: BackoffOptions = { initialMs: 100, maxMs: 2_000, deadlineMs: 30_000 };

export function newNonce(): string {
  return randomBytes(16).toString('hex');
}

/** Runs a control script on the member's control shell, reconnecting with backoff on transient link errors. */
export function controlExec(
  transport: Transport,
  script: string,
  backoff: BackoffOptions = RECONNECT,
  signal?: AbortSignal,
): Promise<string> {
  return withBackoff(async () => (await transport.exec(script)).output, isTransient, backoff, signal);
}

/**
 * The run protocol as scripts for the member's shell (os/linux/sh, os/windows/ps) over any
 * transport: SSH members, and local members where no in-process step applies.
 */
export class ShellHost implements RunHost {
  constructor(protected readonly transport: Transport) {}

  async prepare(workFolder: string, runDir: string, prompt: string | Buffer, signal?: AbortSignal): Promise<'ok' | PrepareRefusal> {
    const os = this.transport.os;
    // The run's output channel opens meanwhile: its login shell is paid beside this step's.
    this.transport.prepareStream();
    const script = os.prepareRunDirScript(workFolder, runDir, typeof prompt === 'string' ? Buffer.from(prompt) : prompt);
    const prep = await controlExec(this.transport, script, RECONNECT, signal);
    if (prep.includes('FLEET_ERR:workfolder_missing')) return 'workfolder_missing';
    // A run directory is started once: one holding a record (an earlier start, or a claim) is never reused.
    if (prep.includes('FLEET_ERR:rundir_used')) return 'rundir_used';
    if (!prep.includes('FLEET_OK')) return `cannot create run directory: ${prep.trim().slice(0, 300)}`;
    return 'ok';
  }

  /**
   * One control command starts the run and answers with its PID and identity (the member's control
   * shell is up already: no login shell between enqueue and PID); the output is then followed from
   * byte 0 like any run's, on a stream of its own opened only once the PID has been handled.
   */
  async start(run: RunStart, signal?: AbortSignal): Promise<RunStream> {
    const started = await this.transport.exec(this.transport.os.startRunScript(run), { signal });
    const header = new WrapperReader(newNonce());
    const events = [...header.push(Buffer.from(started.output)), ...header.end()];
    const pid = events.find((e) => e.type === 'pid');
    const id = events.find((e) => e.type === 'identity');
    if (events.some((e) => e.type === 'error') || !pid || !id) {
      const error = events.find((e) => e.type === 'error') ?? {
        type: 'error',
        reason: `start gave no PID: ${started.output.trim().slice(0, 300)}`,
      };
      return startedStream([error], undefined);
    }
    const handle = { pid: pid.pid, bootId: id.bootId, startTime: id.startTime, runDir: run.runDir };
    return startedStream([pid, id], () => this.attach(handle, 0));
  }

  async attach(handle: RunHandle, offset: number): Promise<RunStream> {
    const nonce = newNonce();
    return wrapperStream(await this.transport.stream(this.transport.os.reattachScript({ handle, offset, nonce })), nonce);
  }

  async probe(handle: RunHandle, backoff?: BackoffOptions) {
    return parseProbe(await controlExec(this.transport, this.transport.os.probeScript(handle), backoff));
  }

  async kill(handle: RunHandle, timeoutMs: number, backoff?: BackoffOptions) {
    return parseKill(await controlExec(this.transport, this.transport.os.killScript(handle, { timeoutMs }), backoff));
  }

  async claim(runDir: string, backoff?: BackoffOptions) {
    return parseClaim(await controlExec(this.transport, this.transport.os.claimRunScript(runDir), backoff), runDir);
  }

  async triage(handles: readonly RunHandle[], backoff?: BackoffOptions) {
    if (handles.length === 0) return [];
    return parseTriage(await controlExec(this.transport, this.transport.os.triageScript(handles), backoff), handles.length);
  }
}

/**
 * A started run as one stream: its PID and identity, then (once those are handled) the output from
 * `follow`, without the `attached` line that opens it. A follow that cannot open is a drop.
 */
function startedStream(header: WrapperEvent[], follow: (() => Promise<RunStream>) | undefined): RunStream {
  let inner: RunStream | undefined;
  let closed = false;
  let settle: (end: ChannelEnd) => void = () => {};
  const ended = new Promise<ChannelEnd>((resolve) => (settle = resolve));
  async function open(): Promise<RunStream | undefined> {
    if (!follow) return void settle({ kind: 'exit', code: 97 });
    try {
      inner = await follow();
    } catch (err) {
      if (!isTransportError(err)) throw err;
      return void settle({ kind: 'drop', reason: err.message });
    }
    void inner.ended.then(settle);
    if (closed) return void inner.close();
    return inner;
  }
  async function* events() {
    yield header;
    const followed = await open();
    if (followed) yield* withoutFirstAttached(followed.events);
  }
  return {
    events: events(),
    ended,
    close: () => {
      closed = true;
      inner?.close();
    },
  };
}

async function* withoutFirstAttached(events: AsyncIterable<WrapperEvent[]>) {
  let first = true;
  for await (const evs of events) {
    const kept = first ? evs.filter((e) => e.type !== 'attached') : evs;
    first = false;
    if (kept.length > 0) yield kept;
  }
}

/** A wrapper (or reattach) script's output read into events: header, lines, the nonce'd end. */
function wrapperStream(channel: StreamChannel, nonce: string): RunStream {
  const reader = new WrapperReader(nonce);
  async function* events() {
    const it = channel.output[Symbol.asyncIterator]();
    for (let next = await it.next(); !next.done; next = await it.next()) {
      const evs = reader.push(next.value);
      if (evs.length > 0) yield evs;
      if (reader.done) return;
    }
    const last = reader.end();
    if (last.length > 0) yield last;
  }
  return { events: events(), ended: channel.ended, close: () => channel.close() };
}
