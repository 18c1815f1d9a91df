import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { dead, scan as scanTable, stat } from './linux/proc-scan.mjs';

/** One live (non-zombie) process of the table. */
export interface ProcRow {
  pid: number;
  ppid: number;
  pgrp: number;
  sid: number;
  /** /proc/<pid>/stat field 22, clock ticks since boot. */
  start: number;
}

/** One process's stat fields, or undefined if it is gone. */
export function procStat(pid: number): { state: string; ppid: number; pgrp: number; sid: number; start: number } | undefined {
  const st = stat(pid);
  return st && { state: st[0], ppid: st[1], pgrp: st[2], sid: st[3], start: st[4] };
}

/** Zombies (and dying processes) count as dead: PID 1 may take seconds to reap an orphan. */
export function isDead(state: string): boolean {
  return dead(state);
}

let thread: Worker | undefined;
let threadFailed = false;
const waiting: Array<(flat: number[]) => void> = [];
function scanHere(): number[] {
  passes.here++;
  return scanTable(process.pid);
}

const passes = { here: 0, inThread: 0 };
/** How many passes ran in this thread and in the scan thread (diagnostics, tests). */
export function procScanCounts(): { here: number; inThread: number } {
  return { ...passes };
}

/**
 * Whether the event loop is busy (utilization over the last 100 ms above 60 %). A pass handed to the
 * thread costs a message round trip more than one done here: worth it only when the loop has better
 * things to do.
 */
let eluMark = performance.eventLoopUtilization();
let eluAt = performance.now();
let busy = false;
function loopBusy(): boolean {
  const now = performance.now();
  if (now - eluAt >= 100) {
    const cur = performance.eventLoopUtilization();
    busy = performance.eventLoopUtilization(cur, eluMark).utilization > 0.6;
    eluMark = cur;
    eluAt = now;
  }
  return busy;
}

function scan(): Promise<number[]> {
  return loopBusy() ? scanInThread() : Promise.resolve(scanHere());
}

function scanInThread(): Promise<number[]> {
  if (!thread && !threadFailed) {
    try {
      // Plain JavaScript: a thread needs no loader for it.
      const t = new Worker(new URL('./linux/proc-scan.mjs', import.meta.url));
      t.on('message', (flat: number[]) => {
        waiting.shift()?.(flat);
        // Referenced only while a pass is awaited: an idle thread must never keep the process alive.
        if (waiting.length === 0) t.unref();
      });
      const fail = () => {
        threadFailed = true;
        thread = undefined;
        // Requests the thread did not answer are answered here.
        for (const w of waiting.splice(0)) w(scanHere());
      };
      t.on('error', fail);
      t.on('exit', fail);
      // After the listeners: adding a 'message' listener references the worker again.
      t.unref();
      thread = t;
    } catch {
      threadFailed = true;
    }
  }
  const t = thread;
  if (!t) return Promise.resolve(scanHere());
  passes.inThread++;
  return new Promise((resolve) => {
    waiting.push(resolve);
    t.ref();
    t.postMessage(process.pid);
  });
}

let pending: Promise<ProcRow[]> | undefined;

/**
 * The live processes, from one pass over /proc that starts after this call. Callers in the same turn
 * of the event loop share the pass (many runs ending together need one pass, not one each); a caller
 * never gets a pass that started before its request, which is what a kill round needs.
 */
export function procTable(): Promise<ProcRow[]> {
  pending ??= new Promise<ProcRow[]>((resolve) =>
    setImmediate(() => {
      pending = undefined;
      void scan().then((flat) => {
        const rows: ProcRow[] = [];
        for (let i = 0; i + 4 < flat.length; i += 5) {
          rows.push({
            pid: flat[i] as number,
            ppid: flat[i + 1] as number,
            pgrp: flat[i + 2] as number,
            sid: flat[i + 3] as number,
            start: flat[i + 4] as number,
          });
        }
        resolve(rows);
      });
    }),
  );
  return pending;
}
