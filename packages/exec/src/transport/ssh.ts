import { createHash, randomBytes } from 'node:crypto';
import { Client, type ClientChannel, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import { getOsCommands } from '../os/index';
import type { OsCommands } from '../os/types';
import { type BackoffOptions, DEFAULT_BACKOFF, withBackoff } from './backoff';
import { ControlShell } from './control-shell';
import { settle } from './settle';
import { channelOutput } from './output';
import type { RunHost } from '../run/host';
import { ShellHost } from '../run/shell-host';
import { type ChannelEnd, type ExecResult, type StreamChannel, type Transport, TransportError, isTransient } from './types';

export interface SshOptions {
  host: string;
  port: number;
  username: string;
  privateKey?: string | Buffer;
  passphrase?: string;
  password?: string;
  /** Pinned host key, as OpenSSH prints it: `SHA256:<base64>`. */
  hostKeySha256?: string;
  /** What to do when no key is pinned: refuse (default) or accept and report it through onHostKey. */
  unknownHostKey?: 'reject' | 'accept';
  onHostKey?: (sha256: string) => void;
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  readyTimeoutMs?: number;
  commandTimeoutMs?: number;
  backoff?: BackoffOptions;
  os?: OsCommands;
}

export function hostKeyFingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** Channel opens that may fail in a row before the connection is replaced. */
const MAX_CHANNEL_FAILURES = 3;

function normalizeFingerprint(fp: string): string {
  const body = fp.startsWith('SHA256:') ? fp.slice(7) : fp;
  return `SHA256:${body.replace(/=+$/, '')}`;
}

/**
 * One pooled SSH connection to a member: a control shell for short commands and each run's prepare
 * and start, and one exec channel per run's output stream (SFTP only for the member check's file).
 * Reconnects with backoff when the connection is gone; never retries a host-key or authentication
 * failure.
 */
export class SshTransport implements Transport {
  readonly kind = 'ssh' as const;
  readonly os: OsCommands;
  readonly host: RunHost = new ShellHost(this);
  private client: Client | undefined;
  private connecting: Promise<Client> | undefined;
  private control: ControlShell | undefined;
  private opening: Promise<ControlShell> | undefined;
  private sftp: Promise<{ c: Client; sftp: SFTPWrapper }> | undefined;
  /** The server refused the SFTP subsystem on this connection: files go through the control shell. */
  private noSftp = false;
  /**
   * The exec channel of the next run's output stream, opened when that run is prepared: opening one
   * pays the member's login shell, which is then paid beside the prepare and start steps instead of
   * between the run's PID and its first line. Dropped with the connection.
   */
  private spare: { ch: Promise<ClientChannel>; closed: boolean } | undefined;
  private closed = false;
  /** Connections opened so far (for tests and metrics). */
  connects = 0;
  /** Connections dropped because they kept refusing channels. */
  replaced = 0;
  /** Channel opens that failed in a row on the current connection. */
  private channelFailures = 0;

  constructor(private readonly opts: SshOptions) {
    this.os = opts.os ?? getOsCommands('linux');
  }

  private connectOnce(): Promise<Client> {
    return new Promise((resolve, reject) => {
      const c = new Client();
      let hostKeyProblem: TransportError | undefined;
      const o = this.opts;
      const cfg: ConnectConfig = {
        host: o.host,
        port: o.port,
        username: o.username,
        keepaliveInterval: o.keepaliveIntervalMs ?? 5_000,
        keepaliveCountMax: o.keepaliveCountMax ?? 3,
        readyTimeout: o.readyTimeoutMs ?? 10_000,
        hostVerifier: (key: Buffer) => {
          const seen = hostKeyFingerprint(key);
          if (o.hostKeySha256) {
            if (normalizeFingerprint(o.hostKeySha256) === seen) return true;
            hostKeyProblem = new TransportError(
              'host_key_mismatch',
              `host key of ${o.host}:${o.port} changed: pinned ${normalizeFingerprint(o.hostKeySha256)}, offered ${seen}; refusing to connect — fix: if the server was reinstalled, set the member's hostKeySha256 to the new key`,
            );
            return false;
          }
          if (o.unknownHostKey === 'accept') {
            o.onHostKey?.(seen);
            return true;
          }
          hostKeyProblem = new TransportError(
            'host_key_unknown',
            `host key of ${o.host}:${o.port} is not pinned (offered ${seen}); pin it or allow unknown keys`,
          );
          return false;
        },
      };
      if (o.privateKey !== undefined) cfg.privateKey = o.privateKey;
      if (o.passphrase !== undefined) cfg.passphrase = o.passphrase;
      if (o.password !== undefined) cfg.password = o.password;
      let ready = false;
      c.on('ready', () => {
        ready = true;
        this.connects++;
        this.client = c;
        resolve(c);
      });
      c.on('error', (err: Error & { level?: string }) => {
        if (ready) return; // 'close' follows and resets state
        c.end();
        if (hostKeyProblem) return reject(hostKeyProblem);
        if (err.level === 'client-authentication') {
          return reject(
            new TransportError(
              'auth',
              `authentication to ${o.username}@${o.host}:${o.port} failed — fix: check the member's username and key or password, and that the key is in the user's authorized_keys`,
            ),
          );
        }
        if (err.level === 'client-timeout') return reject(new TransportError('timeout', `connect timeout: ${err.message}`));
        reject(new TransportError('unreachable', `cannot reach ${o.host}:${o.port}: ${err.message}`));
      });
      c.on('close', () => {
        if (this.client === c) this.resetConnection();
        if (!ready) reject(hostKeyProblem ?? new TransportError('unreachable', `connection to ${o.host}:${o.port} closed`));
      });
      c.connect(cfg);
    });
  }

  private resetConnection(): void {
    this.client = undefined;
    this.channelFailures = 0;
    this.spare = undefined;
    this.control?.destroy();
    this.control = undefined;
    this.sftp = undefined;
    this.noSftp = false;
  }

  private getClient(): Promise<Client> {
    if (this.closed) return Promise.reject(new TransportError('unreachable', 'transport closed'));
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= withBackoff(
      () => this.connectOnce(),
      (e) => isTransient(e) && !this.closed,
      this.opts.backoff ?? DEFAULT_BACKOFF,
    ).finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async openExec(command: string): Promise<ClientChannel> {
    const c = await this.getClient();
    try {
      const ch = await settle<ClientChannel>(
        'cannot open channel',
        [c],
        this.requestTimeoutMs,
        (cb) => c.exec(command, cb),
        (late) => late.close(),
      );
      this.channelFailures = 0;
      return ch;
    } catch (err) {
      // A connection that is up but refuses channel after channel (its session limit held by
      // channels the server never closed, a wedged server process) is replaced, not reused forever.
      if (this.client === c && ++this.channelFailures >= MAX_CHANNEL_FAILURES) {
        this.channelFailures = 0;
        this.replaced++;
        this.resetConnection();
        c.end();
      }
      throw err;
    }
  }

  /** Bound of one request on the connection (a control command, a channel open, an SFTP call). */
  private get requestTimeoutMs(): number {
    return this.opts.commandTimeoutMs ?? 30_000;
  }

  private getControl(): Promise<ControlShell> {
    if (this.control?.alive) return Promise.resolve(this.control);
    this.opening ??= this.openExec(this.os.shellCommand)
      .then((ch) => {
        this.control = new ControlShell(ch, this.os, this.requestTimeoutMs);
        return this.control;
      })
      .finally(() => {
        this.opening = undefined;
      });
    return this.opening;
  }

  async exec(script: string, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<ExecResult> {
    const shell = await this.getControl();
    return shell.exec(script, opts.timeoutMs ?? this.requestTimeoutMs, opts.signal);
  }

  private getSftp(): Promise<{ c: Client; sftp: SFTPWrapper }> {
    this.sftp ??= this.getClient().then(async (c) => {
      const sftp = await settle<SFTPWrapper>(
        'sftp',
        [c],
        this.requestTimeoutMs,
        (cb) => c.sftp(cb),
        (late) => late.end(),
      );
      sftp.on('close', () => this.forgetSftp(session));
      return { c, sftp };
    });
    const session = this.sftp;
    session.catch(() => this.forgetSftp(session));
    return session;
  }

  /** The next SFTP request opens a new session (if `session` is still the current one). */
  private forgetSftp(session: Promise<{ c: Client; sftp: SFTPWrapper }>): boolean {
    if (this.sftp !== session) return false;
    this.sftp = undefined;
    return true;
  }

  get filesVia(): 'sftp' | 'shell' {
    return this.noSftp ? 'shell' : 'sftp';
  }

  async writeFile(path: string, data: Buffer | string, mode: number): Promise<void> {
    if (!this.noSftp) {
      const session = this.getSftp();
      const opened = await session.then(
        (s) => s,
        (err: Error) => {
          // The server has no SFTP subsystem (not a link failure: the connection is fine).
          if (/unable to start subsystem|subsystem request failed/i.test(err.message)) return undefined;
          throw err;
        },
      );
      if (opened) return this.writeBySftp(session, opened, path, data, mode);
      this.noSftp = true;
    }
    return this.writeByShell(path, typeof data === 'string' ? Buffer.from(data) : data, mode);
  }

  /** Without SFTP: the control shell writes it (write-file.sh), where the OS layer has the script. */
  private async writeByShell(path: string, data: Buffer, mode: number): Promise<void> {
    const where = `${this.opts.username}@${this.opts.host}:${this.opts.port}`;
    if (!this.os.writeFileScript) {
      throw new TransportError(
        'no_sftp',
        `${where} has no SFTP subsystem and files cannot be written without it on ${this.os.name}; enable "Subsystem sftp" in its sshd_config`,
      );
    }
    const r = await this.exec(this.os.writeFileScript(path, data, mode, randomBytes(8).toString('hex')));
    if (r.code !== 0)
      throw new Error(`cannot write ${path} on ${where} (no SFTP, through the shell): ${r.output.trim() || `exit ${r.code}`}`);
  }

  private async writeBySftp(
    session: Promise<{ c: Client; sftp: SFTPWrapper }>,
    { c, sftp }: { c: Client; sftp: SFTPWrapper },
    path: string,
    data: Buffer | string,
    mode: number,
  ): Promise<void> {
    const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
    const call = (what: string, fn: (cb: (err?: Error | null) => void) => void) =>
      settle<void>(`sftp ${what} ${path}`, [c, sftp], this.requestTimeoutMs, fn).catch((err: Error) => {
        // A session in doubt (closed, timed out, or a failed request) is not reused.
        if (this.forgetSftp(session)) sftp.end();
        throw err;
      });
    await call('write', (cb) => sftp.writeFile(tmp, data, { mode, flag: 'wx' }, cb));
    await call('chmod', (cb) => sftp.chmod(tmp, mode, cb));
    await call('rename', (cb) => sftp.ext_openssh_rename(tmp, path, cb));
  }

  prepareStream(): void {
    if (this.closed || (this.spare && !this.spare.closed)) return;
    const entry = { ch: this.openExec(this.os.shellCommand), closed: false };
    entry.ch.then(
      (c) => c.once('close', () => (entry.closed = true)),
      () => (entry.closed = true),
    );
    this.spare = entry;
  }

  private async takeChannel(): Promise<ClientChannel> {
    const spare = this.spare;
    this.spare = undefined;
    if (spare && !spare.closed) {
      const ch = await spare.ch.catch(() => undefined);
      if (ch && !spare.closed) return ch;
    }
    return this.openExec(this.os.shellCommand);
  }

  async stream(script: string): Promise<StreamChannel> {
    const ch = await this.takeChannel();
    let exit: { code: number | null; signal?: string | undefined } | undefined;
    ch.on('exit', (code: number | null, signal?: string) => {
      exit = { code: code ?? null, signal };
    });
    const ended = new Promise<ChannelEnd>((resolve) => {
      ch.on('close', () => resolve(exit ? { kind: 'exit', ...exit } : { kind: 'drop', reason: 'channel closed without an exit status' }));
    });
    ch.stderr.resume();
    ch.on('error', () => {});
    ch.end(script);
    return { output: channelOutput(ch), ended, close: () => ch.close() };
  }

  /** Drops the connection (for tests and for a member whose configuration changed). */
  disconnect(): void {
    this.client?.end();
  }

  async close(): Promise<void> {
    this.closed = true;
    const c = this.client;
    this.resetConnection();
    c?.end();
  }
}
