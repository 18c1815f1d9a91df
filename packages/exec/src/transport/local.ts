import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, rename, rm, writeFile } from 'node:fs/promises';
import { getOsCommands } from '../os/index';
import { runCgroupBase, runCgroupPath } from '../os/linux-cgroup';
import type { OsCommands } from '../os/types';
import type { RunHost } from '../run/host';
import { LocalLinuxHost } from '../run/local-host';
import { ShellHost } from '../run/shell-host';
import { type ChannelEnd, type ExecResult, type StreamChannel, type Transport, NotSentError, TransportError } from './types';

/**
 * The member is this machine. Scripts run under the same shell and wrappers as over SSH, so a local
 * member behaves exactly like a remote one (the agent is in its own session and survives us).
 */
export class LocalTransport implements Transport {
  readonly kind = 'local' as const;
  readonly os: OsCommands;
  readonly host: RunHost;
  readonly filesVia = 'local' as const;
  private readonly cgroups: boolean;
  private readonly commandTimeoutMs: number;

  /**
   * `cgroups`: give each run a cgroup where this process can create one (default: unless
   * FLEET_CGROUP=off). A fast path for the end-of-run check and a wider net for kills; without it
   * every guarantee holds through /proc alone. `commandTimeoutMs`: the bound of a control command
   * that is given none (30 s, as over SSH): a read that blocks (a work folder on a hung network
   * file system, a FIFO where a file should be) must not hold an attempt for good.
   */
  constructor(os: OsCommands = getOsCommands('linux'), opts: { cgroups?: boolean; commandTimeoutMs?: number } = {}) {
    this.os = os;
    this.cgroups = opts.cgroups ?? process.env.FLEET_CGROUP !== 'off';
    this.commandTimeoutMs = opts.commandTimeoutMs ?? 30_000;
    this.host = os.supervisorArgv ? new LocalLinuxHost(this) : new ShellHost(this);
  }

  /** The run's cgroup path, if runs get cgroups here. */
  runCgroup(runDir: string): string | undefined {
    if (!this.cgroups || this.os.name !== 'linux') return undefined;
    const base = runCgroupBase();
    return base === undefined ? undefined : runCgroupPath(base, runDir);
  }

  exec(script: string, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<ExecResult> {
    const timeoutMs = opts.timeoutMs ?? this.commandTimeoutMs;
    if (opts.signal?.aborted) return Promise.reject(new NotSentError());
    return new Promise((resolve, reject) => {
      const [cmd, ...args] = this.os.shellArgv;
      const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
      const chunks: Buffer[] = [];
      child.stdout.on('data', (c: Buffer) => chunks.push(c));
      child.stderr.on('data', (c: Buffer) => chunks.push(c));
      const timer = setTimeout(() => {
        killGroup(child);
        reject(new TransportError('timeout', `local command timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(new TransportError('unreachable', `cannot start ${cmd}: ${err.message}`));
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ output: Buffer.concat(chunks).toString('utf8'), code });
      });
      child.stdin.on('error', () => {});
      child.stdin.end(script);
    });
  }

  async writeFile(path: string, data: Buffer | string, mode: number): Promise<void> {
    const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
    try {
      await writeFile(tmp, data, { mode, flag: 'wx' });
      await chmod(tmp, mode);
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /** A local stream is a spawn: nothing to open ahead. */
  prepareStream(): void {}

  async stream(script: string): Promise<StreamChannel> {
    const [cmd, ...args] = this.os.shellArgv;
    // detached: the wrapper gets its own process group so close() can stop it (and its tail) without
    // touching the agent, which the wrapper started in yet another session.
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'ignore'], detached: true });
    const ended = new Promise<ChannelEnd>((resolve) => {
      child.on('error', (err) => resolve({ kind: 'drop', reason: err.message }));
      child.on('close', (code, signal) => resolve({ kind: 'exit', code, signal: signal ?? undefined }));
    });
    child.stdin.on('error', () => {});
    child.stdin.end(script);
    return {
      output: child.stdout as AsyncIterable<Buffer>,
      ended,
      close: () => killGroup(child),
    };
  }

  async close(): Promise<void> {
    this.host.close?.();
  }
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}
