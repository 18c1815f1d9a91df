import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Waiter, parseExitRecord, parseRunRecord } from './markers';
import { killRunCgroup, readRunCgroup, removeRunCgroup, waitRunCgroupEmpty } from './linux-cgroup';
import { isDead, procStat, procTable } from './linux-proc-scan';

/**
 * In-process Linux process identity (what the shell scripts read with `read` from /proc), for the
 * local fast path: boot id + /proc/<pid>/stat field 22.
 */
let bootId: string | undefined;

export function linuxBootId(): string {
  bootId ??= readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  return bootId;
}

/** Whether the process with this identity still runs (a zombie does not). */
export function linuxAlive(pid: number, startTime: string): boolean {
  const st = procStat(pid);
  return st !== undefined && !isDead(st.state) && String(st.start) === startTime;
}

/**
 * The waiter named by line 1 of runDir/pid (a run started by the local spawn helper), if any, and
 * whether the exit code is recorded (the waiter has nothing left to do but exit).
 */
function runWaiter(runDir: string | undefined): { waiter?: Waiter; ended: boolean } {
  if (!runDir) return { ended: false };
  try {
    const text = readFileSync(join(runDir, 'pid'), 'utf8');
    return { waiter: parseRunRecord(text, runDir)?.waiter, ended: parseExitRecord(text) !== undefined };
  } catch {
    return { ended: false };
  }
}

function killIfAlive(p: Waiter): void {
  if (!linuxAlive(p.pid, p.startTime)) return;
  try {
    process.kill(p.pid, 'SIGKILL');
  } catch {}
}

async function waitGone(p: Waiter, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; linuxAlive(p.pid, p.startTime); ) {
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, 2));
  }
  return true;
}

export function linuxStartTime(pid: number): string | undefined {
  const st = procStat(pid);
  return st && String(st.start);
}

/**
 * The kill of os/unix.ts's killScript, in-process, for local members (no shell, one /proc pass per
 * round): nothing is touched unless boot id and the leader's start time match; targets are the
 * leader, its session and process group (members that started no earlier than it), and their
 * descendants; repeat until none is alive (zombies count as dead), bounded.
 *
 * A local run's waiter (named by its record, see os/unix.ts) is killed first while the leader lives,
 * or, if the leader has ended on its own, given up to 2 s to append the exit code.
 *
 * With the run's cgroup (see linux-cgroup.ts), joined: an empty cgroup means nothing of the run is
 * left, which ends the common case (a run's end) without a pass over /proc; if only the exiting
 * supervisor is still there, or the leader after its waiter wrote the exit code, we wait briefly.
 * Otherwise the cgroup is killed as a whole first (which also reaches what left the session), then
 * the /proc rounds run as always.
 */
export async function linuxKillRun(
  h: { pid: number; bootId: string; startTime: string; runDir?: string },
  timeoutMs: number,
  cgroup?: string,
): Promise<{ result: 'killed' | 'already_gone' | 'identity_mismatch' | 'timeout'; count: number }> {
  if (linuxBootId() !== h.bootId) return { result: 'already_gone', count: 0 };
  const lead = procStat(h.pid);
  if (lead && String(lead.start) !== h.startTime) return { result: 'identity_mismatch', count: 0 };
  const S = Number(h.startTime);
  const deadline = Date.now() + timeoutMs;
  let first = 0;
  // A local run's waiter (see os/unix.ts): killed before a live leader, since after it it would record
  // the kill's 137 as the agent's exit code; waited for if the leader has ended on its own (it is
  // about to append the real one). It is no member of the run's session and is not counted.
  const { waiter, ended } = runWaiter(h.runDir);
  if (waiter && !ended) {
    if (linuxAlive(h.pid, h.startTime)) killIfAlive(waiter);
    else if (!(await waitGone(waiter, Math.min(2_000, timeoutMs)))) killIfAlive(waiter);
  }
  // The run's cgroup counts only if the run joined it (see readRunCgroup).
  const cg = cgroup === undefined ? undefined : readRunCgroup(cgroup);
  const joined = cg ? cgroup : undefined;
  try {
    if (joined !== undefined && cg) {
      // Exiting: a supervisor alone (its agent is gone), or a leader alone after its waiter wrote
      // the exit code (without it, a leader alone is an agent still running). A waiter is no member.
      const exiting = cg.pids.length === 1 && cg.pids[0] === h.pid && (waiter === undefined || ended);
      if (cg.pids.length === 0 || (exiting && (await waitRunCgroupEmpty(joined, Math.min(50, timeoutMs))))) {
        return { result: 'already_gone', count: 0 };
      }
      const now = readRunCgroup(joined);
      if (now && now.pids.length > 0 && killRunCgroup(joined)) {
        first = now.pids.length;
        await waitRunCgroupEmpty(joined, Math.max(0, deadline - Date.now()));
      }
    }
    for (;;) {
      const all = await procTable();
      const targets = new Set<number>();
      for (const st of all) {
        if (st.pid === h.pid ? st.start === S : (st.sid === h.pid || st.pgrp === h.pid) && st.start >= S) targets.add(st.pid);
      }
      for (let grew = true; grew; ) {
        grew = false;
        for (const st of all) {
          if (!targets.has(st.pid) && targets.has(st.ppid)) {
            targets.add(st.pid);
            grew = true;
          }
        }
      }
      if (targets.size === 0) break;
      if (first === 0) first = targets.size;
      for (const pid of targets) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }
      if (Date.now() >= deadline) return { result: 'timeout', count: targets.size };
      await new Promise((r) => setTimeout(r, 10));
    }
    // What left the session is confirmed gone through the cgroup (SIGKILL sent above).
    if (joined !== undefined && !(await waitRunCgroupEmpty(joined, Math.max(0, deadline - Date.now())))) {
      return { result: 'timeout', count: readRunCgroup(joined)?.pids.length ?? 1 };
    }
  } finally {
    // (a populated one stays: EBUSY)
    if (cgroup !== undefined) removeRunCgroup(cgroup);
  }
  return first > 0 ? { result: 'killed', count: first } : { result: 'already_gone', count: 0 };
}
