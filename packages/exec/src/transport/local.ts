import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { chmod, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getOsCommands } from '../os/index';
import type { OsCommands } from '../os/types';
import type { RunHandle } from '../identity';
import { createRunCgroup, runCgroupBase, runCgroupPath } from '../os/linux-cgroup';
import { linuxKillRun } from '../os/linux-proc';
import { spawnLocalRun } from './local-run';
import { LocalSpawner, type RunSpec } from './local-spawner';
import { type ChannelEnd, type ExecResult, type StreamChannel, type Transport, TransportError } from './types';

/**
 * The member is this machine. Scripts run under the same shell and wrappers as over SSH, so a local
 * member behaves exactly like a remote one (the agent is in its own session and survives us).
 */
export class LocalTransport implements Transport {
  readonly kind = 'local' as const;
  readonly os: OsCommands;
  private spawner: LocalSpawner | undefined;
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
  }

  /** The run's cgroup path, if runs get cgroups here. */
  runCgroup(runDir: string): string | undefined {
    if (!this.cgroups || this.os.name !== 'linux') return undefined;
    const base = runCgroupBase();
    return base === undefined ? undefined : runCgroupPath(base, runDir);
  }

  exec(script: string, opts: { timeoutMs?: number } = {}): Promise<ExecResult> {
    const timeoutMs = opts.timeoutMs ?? this.commandTimeoutMs;
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

  /**
   * Fast path: the run directory (0700) and the prompt file (0600, created exclusively), in-process
   * with the same checks as prepareRunDirScript. A run directory is started once: one that already
   * holds a record (an earlier start, or another attempt's claim, see claimRunScript) is refused
   * (`rundir_used`) and its `pid` is never touched.
   *
   * The common case (runs folder there, prompt ≤ 64 KiB) is two syscalls done inline: each costs
   * microseconds, where a thread-pool hop costs ~0.15 ms and more when the pool is busy. A larger
   * prompt is written through the pool so a slow disk cannot stall the event loop.
   */
  async prepareRun(workFolder: string, runDir: string, prompt: string | Buffer): Promise<'ok' | 'workfolder_missing' | 'rundir_used'> {
    const small = (typeof prompt === 'string' ? prompt.length * 3 : prompt.length) <= 64 * 1024;
    let made: 'made' | 'existed' | 'no_parent';
    try {
      mkdirSync(runDir, { mode: 0o700 });
      made = 'made';
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST' && code !== 'ENOENT') throw e;
      made = code === 'EEXIST' ? 'existed' : 'no_parent';
    }
    if (made === 'no_parent') {
      // Never create the work folder itself: only its .fleet/runs.
      const st = await stat(workFolder).catch(() => undefined);
      if (!st?.isDirectory()) return 'workfolder_missing';
      await mkdir(runDir, { recursive: true, mode: 0o700 });
    } else if (made === 'existed') {
      // Started once already (or claimed as never to start): its record is never taken for a new run.
      if (existsSync(join(runDir, 'pid'))) return 'rundir_used';
      await chmod(runDir, 0o700);
      await Promise.all(['prompt', 'out', 'exit'].map((f) => rm(join(runDir, f), { force: true })));
    }
    const path = join(runDir, 'prompt');
    if (small) writeFileSync(path, prompt, { mode: 0o600, flag: 'wx' });
    else await writeFile(path, prompt, { mode: 0o600, flag: 'wx' });
    return 'ok';
  }

  /** Fast path: start the supervisor (through the spawn helper) and produce the wrapper protocol in-process. */
  spawnRun(opts: { run: RunSpec; cwd: string; runDir: string; nonce: string }): Promise<StreamChannel> {
    this.spawner ??= new LocalSpawner(this.os);
    let cgroup = this.runCgroup(opts.runDir);
    if (cgroup !== undefined && !createRunCgroup(cgroup)) cgroup = undefined;
    return spawnLocalRun({ ...opts, spawner: this.spawner, cgroup });
  }

  /** Fast path: the identity-checked tree kill, in-process (Linux /proc, and the run's cgroup if it has one). */
  killRunLocal(handle: RunHandle, timeoutMs: number) {
    return linuxKillRun(handle, timeoutMs, this.runCgroup(handle.runDir));
  }

  async close(): Promise<void> {
    this.spawner?.close();
    this.spawner = undefined;
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
