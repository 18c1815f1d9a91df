// /proc/<pid>/stat and the pass over /proc, as plain JavaScript: the same file runs in the worker
// (single reads; a pass when its event loop is idle) and in a worker thread (a pass while the loop
// is busy). Each stat file: one open, one read, one close. A stat is [state, ppid, pgrp, sid, start];
// pass rows come back flat: pid, ppid, pgrp, sid, start.
import { closeSync, openSync, readSync, readdirSync } from 'node:fs';
import { isMainThread, parentPort } from 'node:worker_threads';

const buf = Buffer.alloc(4096);

export function stat(pid) {
  let s;
  try {
    const fd = openSync(`/proc/${pid}/stat`, 'r');
    try {
      s = buf.toString('latin1', 0, readSync(fd, buf, 0, buf.length, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return [f[0] ?? '', Number(f[1]), Number(f[2]), Number(f[3]), Number(f[19])];
}

export function dead(state) {
  return state === 'Z' || state === 'X' || state === 'x';
}

export function scan(self) {
  const out = [];
  for (const name of readdirSync('/proc')) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(name);
    if (pid === self) continue;
    const st = stat(name);
    if (!st || dead(st[0])) continue;
    out.push(pid, st[1], st[2], st[3], st[4]);
  }
  return out;
}

// Started as the scan thread: one pass per message (the message is the pid to leave out).
if (!isMainThread && parentPort) {
  const port = parentPort;
  port.on('message', (self) => port.postMessage(scan(self)));
}
