import { randomBytes } from 'node:crypto';
import type { ClientChannel } from 'ssh2';
import type { OsCommands } from '../os/types';
import { type ExecResult, NotSentError, TransportError } from './types';

/**
 * One long-lived shell per member, fed commands on stdin and framed by an end tag that carries a
 * fresh random nonce per command (command output cannot spoof it): a command costs a write and a read,
 * not an exec channel's open and a login shell. Commands run one at a time. Any doubt about the
 * shell's state (drop, timeout) destroys it; the next command opens a new one. Nothing is written
 * before the shell has answered once (its login can take seconds): until then commands wait here,
 * and one whose signal fires while it waits is never sent.
 */
export class ControlShell {
  private buf = '';
  private current: { tag: string; resolve: (r: ExecResult) => void; reject: (e: Error) => void; timer?: NodeJS.Timeout } | undefined;
  private queue: Promise<unknown>;
  private dead: TransportError | undefined;

  constructor(
    private readonly channel: ClientChannel,
    private readonly os: OsCommands,
    readyTimeoutMs: number,
  ) {
    channel.setEncoding('utf8');
    channel.on('data', (d: string) => this.onData(d));
    channel.stderr.on('data', () => {});
    channel.on('close', () => this.fail(new TransportError('dropped', 'control shell closed')));
    channel.on('error', (err: Error) => this.fail(new TransportError('dropped', `control shell: ${err.message}`)));
    this.queue = this.execNow('true', readyTimeoutMs).catch(() => {});
  }

  get alive(): boolean {
    return this.dead === undefined;
  }

  exec(script: string, timeoutMs: number, signal?: AbortSignal): Promise<ExecResult> {
    const run = this.queue.then(() => {
      if (signal?.aborted) throw new NotSentError();
      return this.execNow(script, timeoutMs);
    });
    this.queue = run.catch(() => {});
    return run;
  }

  private execNow(script: string, timeoutMs: number): Promise<ExecResult> {
    if (this.dead) return Promise.reject(this.dead);
    const tag = `__FLEET_END_${randomBytes(12).toString('hex')}`;
    return new Promise<ExecResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.destroy(new TransportError('timeout', `control command timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.current = { tag, resolve, reject, timer };
      this.buf = '';
      this.channel.write(this.os.controlFrame(script, tag));
    });
  }

  private onData(d: string): void {
    const cur = this.current;
    if (!cur) return;
    this.buf += d;
    const at = this.buf.indexOf(`\n${cur.tag}:`);
    if (at === -1) return;
    const rest = this.buf.slice(at + cur.tag.length + 2);
    const nl = rest.indexOf('\n');
    if (nl === -1) return;
    const code = Number(rest.slice(0, nl).trim());
    const output = this.buf.slice(0, at);
    this.buf = '';
    this.current = undefined;
    clearTimeout(cur.timer);
    cur.resolve({ output, code: Number.isFinite(code) ? code : null });
  }

  private fail(err: TransportError): void {
    if (!this.dead) this.dead = err;
    const cur = this.current;
    this.current = undefined;
    if (cur) {
      clearTimeout(cur.timer);
      cur.reject(err);
    }
  }

  destroy(err = new TransportError('dropped', 'control shell closed')): void {
    this.fail(err);
    try {
      this.channel.close();
    } catch {}
  }
}
