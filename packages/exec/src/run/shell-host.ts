import { randomBytes } from 'node:crypto';
import type { RunHandle } from '../identity';
import { parseClaim, parseKill, parseProbe, parseTriage } from '../os/markers';
import { type BackoffOptions, withBackoff } from '../transport/backoff';
import { type StreamChannel, type Transport, isTransient } from '../transport/types';
import type { PrepareRefusal, RunHost, RunStart, RunStream } from './host';
import { WrapperReader } from './reader';

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
    const prep = await controlExec(this.transport, os.prepareRunDirScript(workFolder, runDir), RECONNECT, signal);
    if (prep.includes('FLEET_ERR:workfolder_missing')) return 'workfolder_missing';
    // A run directory is started once: one holding a record (an earlier start, or a claim) is never reused.
    if (prep.includes('FLEET_ERR:rundir_used')) return 'rundir_used';
    if (!prep.includes('FLEET_OK')) return `cannot create run directory: ${prep.trim().slice(0, 300)}`;
    await withBackoff(() => this.transport.writeFile(os.joinPath(runDir, 'prompt'), prompt, 0o600), isTransient, RECONNECT, signal);
    return 'ok';
  }

  async start(run: RunStart): Promise<RunStream> {
    const nonce = newNonce();
    return wrapperStream(await this.transport.stream(this.transport.os.wrapperScript({ ...run, nonce })), nonce);
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
