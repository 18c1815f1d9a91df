import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';

/** One live (non-zombie) process of the table. */
export interface ProcRow {
  pid: number;
  ppid: number;
  pgrp: number;
  sid: number;
  /** /proc/<pid>/stat field 22, clock ticks since boot. */
  start: number;
}

/**
 * The pass over /proc, as plain JavaScript so that one text runs in a worker thread (the pass is
 * ~8 µs per process of synchronous syscalls: with many runs ending, that is CPU a busy event loop
 * should not spend) or in this one (when the loop is idle, or no thread can be had). Each stat file: one open, one read,
 * one close. Rows come back flat: pid, ppid, pgrp, sid, start.
 */
const SCAN = `
const { readdirSync, openSync, readSync, closeSync } = require('node:fs');
const buf = Buffer.alloc(4096);
function scan(self) {
  const out = [];
  for (const name of readdirSync('/proc')) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(name);
    if (pid === self) continue;
    let s;
    try {
      const fd = openSync('/proc/' + name + '/stat', 'r');
      try { s = buf.toString('latin1', 0, readSync(fd, buf, 0, buf.length, 0)); } finally { closeSync(fd); }
    } catch { continue; }
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    if (f[0] === 'Z' || f[0] === 'X' || f[0] === 'x') continue;
    out.push(pid, Number(f[1]), Number(f[2]), Number(f[3]), Number(f[19]));
  }
  return out;
}
`;

let thread: Worker | undefined;
let threadFailed = false;
const waiting: Array<(flat: number[]) => void> = [];
let inline: ((self: number) => number[]) | undefined;

function scanHere(): number[] {
  inline ??= new Function('require', `${SCAN}\nreturn scan;`)(createRequire(import.meta.url)) as (self: number) => number[];
  return inline(process.pid);
}

/**
 * Whether the event loop is busy (utilization over the last ~100 ms above 60 %). A pass handed to
 * the thread costs a message round trip (~0.5 ms on a loaded 2-core machine) more than one done here:
 * worth it only when the loop has better things to do.
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
      const t = new Worker(
        `${SCAN}\nrequire('node:worker_threads').parentPort.on('message', (self) => require('node:worker_threads').parentPort.postMessage(scan(self)));`,
        {
          eval: true,
        },
      );
      t.unref();
      t.on('message', (flat: number[]) => waiting.shift()?.(flat));
      const fail = () => {
        threadFailed = true;
        thread = undefined;
        // Requests the thread did not answer are answered here.
        for (const w of waiting.splice(0)) w(scanHere());
      };
      t.on('error', fail);
      t.on('exit', fail);
      thread = t;
    } catch {
      threadFailed = true;
    }
  }
  const t = thread;
  if (!t) return Promise.resolve(scanHere());
  return new Promise((resolve) => {
    waiting.push(resolve);
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
