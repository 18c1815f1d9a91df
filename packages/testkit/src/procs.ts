import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  pgrp: number;
  sid: number;
  startTime: string;
}

export function procStat(pid: number): ProcStat | undefined {
  let s: string;
  try {
    s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const close = s.lastIndexOf(')');
  const comm = s.slice(s.indexOf('(') + 1, close);
  const f = s.slice(close + 2).split(' ');
  return { pid, comm, state: f[0] ?? '', ppid: Number(f[1]), pgrp: Number(f[2]), sid: Number(f[3]), startTime: f[19] ?? '' };
}

/** Alive = exists and is not a zombie (PID 1 here reaps orphans slowly). */
export function isAlive(pid: number, startTime?: string): boolean {
  const st = procStat(pid);
  if (!st || st.state === 'Z' || st.state === 'X') return false;
  return startTime === undefined || st.startTime === startTime;
}

export function allPids(): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
}

/** Live descendants of `root` (not including it). */
export function descendants(root: number): ProcStat[] {
  const stats = allPids()
    .map(procStat)
    .filter((s): s is ProcStat => s !== undefined && s.state !== 'Z');
  const set = new Set([root]);
  const out: ProcStat[] = [];
  let grew = true;
  while (grew) {
    grew = false;
    for (const s of stats) {
      if (!set.has(s.pid) && set.has(s.ppid)) {
        set.add(s.pid);
        out.push(s);
        grew = true;
      }
    }
  }
  return out;
}

export async function waitFor<T>(
  fn: () => T | Promise<T>,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${opts.what ?? 'condition'}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 20));
  }
}

/** Stops a child we started: SIGTERM, then SIGKILL after graceMs; resolves when it has exited. */
export function stopChild(child: ChildProcess, graceMs = 3_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export function run(cmd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    c.on('error', reject);
    c.on('close', (code) => resolve({ code, out }));
  });
}
