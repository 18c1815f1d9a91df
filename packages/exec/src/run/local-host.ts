import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { chmod, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunHandle } from '../identity';
import { createRunCgroup } from '../os/linux-cgroup';
import { linuxKillRun } from '../os/linux-proc';
import type { LocalTransport } from '../transport/local';
import { spawnLocalRun } from '../transport/local-run';
import { LocalSpawner } from '../transport/local-spawner';
import type { PrepareRefusal, RunStart, RunStream } from './host';
import { ShellHost } from './shell-host';

/**
 * This Linux machine as a member: the run directory is prepared, the run started (through the
 * long-lived spawn helper) and followed, and kills done in-process, from /proc and the run's cgroup
 * (where runs get one). Attach, probe, claim and triage are the shell's, as on any other host.
 */
export class LocalLinuxHost extends ShellHost {
  private spawner: LocalSpawner | undefined;

  constructor(private readonly local: LocalTransport) {
    super(local);
  }

  /**
   * The same checks as prepare-run-dir.sh, in-process. A run directory is started once: one that
   * already holds a record (an earlier start, or another attempt's claim) is refused and its `pid`
   * never touched. A prompt up to 64 KiB is written inline (two syscalls); a larger one through the
   * thread pool, so that a slow disk cannot stall the event loop.
   */
  override async prepare(workFolder: string, runDir: string, prompt: string | Buffer): Promise<'ok' | PrepareRefusal> {
    try {
      return await prepareRunDir(workFolder, runDir, prompt);
    } catch (err) {
      return `cannot create run directory: ${(err as Error).message}`;
    }
  }

  override start(run: RunStart): Promise<RunStream> {
    this.spawner ??= new LocalSpawner(this.local.os);
    let cgroup = this.local.runCgroup(run.runDir);
    if (cgroup !== undefined && !createRunCgroup(cgroup)) cgroup = undefined;
    return spawnLocalRun({
      run: { runDir: run.runDir, argv: run.argv, env: run.env },
      cwd: run.workFolder,
      runDir: run.runDir,
      spawner: this.spawner,
      cgroup,
    });
  }

  override kill(handle: RunHandle, timeoutMs: number) {
    return linuxKillRun(handle, timeoutMs, this.local.runCgroup(handle.runDir));
  }

  close(): void {
    this.spawner?.close();
    this.spawner = undefined;
  }
}

async function prepareRunDir(workFolder: string, runDir: string, prompt: string | Buffer): Promise<'ok' | PrepareRefusal> {
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
    if (existsSync(join(runDir, 'pid'))) return 'rundir_used';
    await chmod(runDir, 0o700);
    await Promise.all(['prompt', 'out'].map((f) => rm(join(runDir, f), { force: true })));
  }
  const path = join(runDir, 'prompt');
  if (small) writeFileSync(path, prompt, { mode: 0o600, flag: 'wx' });
  else await writeFile(path, prompt, { mode: 0o600, flag: 'wx' });
  return 'ok';
}
