import { createHash } from 'node:crypto';
import { type FSWatcher, mkdirSync, readFileSync, readdirSync, rmdirSync, statSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A cgroup (v2) per local run, where this process may create one: a fast path and a wider net, never
 * the only guarantee.
 *
 * The spawn helper's subshell moves itself into the run's cgroup before it execs the supervisor, so
 * the supervisor and everything it ever forks are members (a daemon that double-forks and calls
 * setsid too, which a pass over the session misses). At the end of a run, "is anything of it left?"
 * is then one read of `cgroup.procs` instead of a pass over every process of the machine, and a kill
 * can add one write to `cgroup.kill`.
 *
 * Trust rule: a run's cgroup counts only if its CPU usage is above zero, i.e. the subshell did join
 * it (nothing else ever writes its `cgroup.procs`). A cgroup that is missing, or was never joined
 * (no helper, a failed write, a cleanup that removed it first), sends the caller to the /proc pass.
 * A process that moves itself out of the cgroup (an explicit write to another cgroup's `cgroup.procs`,
 * root only) is not seen by the fast check; the kill path still runs the /proc pass.
 */

let probed: { base: string | undefined } | undefined;

/** Where this process keeps its runs' cgroups (created on first use), or undefined if it cannot. */
export function runCgroupBase(): string | undefined {
  if (probed) return probed.base;
  probed = { base: undefined };
  try {
    const mount = readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .find((f) => f[2] === 'cgroup2')?.[1];
    const own = processCgroup('self');
    // Octal escapes in /proc/mounts (a space in the path) or an odd own path: no cgroups, nothing lost.
    if (!mount || mount.includes('\\') || !own?.startsWith('/') || own.includes(' ')) return undefined;
    const base = join(mount, own, 'fleet-exec');
    mkdirSync(base, { recursive: true });
    probed.base = base;
    removeStaleRunCgroups(base);
  } catch {
    // Read-only /sys/fs/cgroup (containers), no permission, no cgroup v2: the /proc path only.
  }
  return probed.base;
}

/** A process's cgroup v2 path (relative to the cgroup2 mount), or undefined if it cannot be read. */
export function processCgroup(pid: number | 'self'): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cgroup`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('0::'))
      ?.slice(3);
  } catch {
    return undefined;
  }
}

/** The run's cgroup, named after its run directory (unique per run; the same name after a restart). */
export function runCgroupPath(base: string, runDir: string): string {
  return join(base, `run-${createHash('sha256').update(runDir).digest('hex').slice(0, 32)}`);
}

/** Creates the run's cgroup before its start; false if it cannot (the run then goes without). */
export function createRunCgroup(path: string): boolean {
  try {
    mkdirSync(path);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EEXIST';
  }
}

/**
 * The run's cgroup as far as it can be trusted: undefined if missing or never joined, else the PIDs
 * in it now (zombies are not members).
 */
export function readRunCgroup(path: string): { pids: number[] } | undefined {
  try {
    const usage = /^usage_usec (\d+)/m.exec(readFileSync(join(path, 'cpu.stat'), 'utf8'));
    if (!usage || usage[1] === '0') return undefined;
    const pids = readFileSync(join(path, 'cgroup.procs'), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map(Number);
    return { pids };
  } catch {
    return undefined;
  }
}

/** SIGKILL to every member at once (the kernel does it, no PID can be reused in between). */
export function killRunCgroup(path: string): boolean {
  try {
    writeFileSync(join(path, 'cgroup.kill'), '1');
    return true;
  } catch {
    return false;
  }
}

function populated(path: string): boolean {
  try {
    return /^populated 1$/m.test(readFileSync(join(path, 'cgroup.events'), 'utf8'));
  } catch {
    return false;
  }
}

/** Resolves true once the cgroup has no member (the kernel notifies changes of `cgroup.events`), false after `ms`. */
export function waitRunCgroupEmpty(path: string, ms: number): Promise<boolean> {
  if (!populated(path)) return Promise.resolve(true);
  return new Promise((resolve) => {
    let watcher: FSWatcher | undefined;
    const done = (empty: boolean) => {
      clearInterval(poll);
      clearTimeout(limit);
      watcher?.close();
      resolve(empty);
    };
    const check = () => {
      if (!populated(path)) done(true);
    };
    try {
      watcher = watch(join(path, 'cgroup.events'), check);
      watcher.on('error', () => {}); // (the poll below still runs)
    } catch {}
    const poll = setInterval(check, 5);
    const limit = setTimeout(() => done(!populated(path)), ms);
    check();
  });
}

/** Removes the run's cgroup; a populated one stays (EBUSY), a missing one is fine. */
export function removeRunCgroup(path: string): void {
  try {
    rmdirSync(path);
  } catch {}
}

/**
 * At first use: removes run cgroups left by an earlier process (a crash between a run's end and its
 * check). Only empty ones, and only if joined or older than a minute: a fresh one may belong to a run
 * another worker on this machine is starting right now.
 */
export function removeStaleRunCgroups(base: string): void {
  const now = Date.now();
  for (const name of readdirSync(base)) {
    if (!name.startsWith('run-')) continue;
    const path = join(base, name);
    try {
      const cg = readRunCgroup(path);
      if (cg ? cg.pids.length === 0 : now - statSync(path).mtimeMs > 60_000) removeRunCgroup(path);
    } catch {}
  }
}
