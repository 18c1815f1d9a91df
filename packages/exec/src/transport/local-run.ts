import { type FSWatcher, closeSync, openSync, readFileSync, readSync, watch } from 'node:fs';
import { join } from 'node:path';
import { removeRunCgroup } from '../os/linux-cgroup';
import { linuxAlive, linuxStartTime } from '../os/linux-proc';
import { LineSplitter } from '../lines';
import { parseExitRecord, parseRunRecord } from '../os/markers';
import type { RunStream } from '../run/host';
import type { WrapperEvent } from '../run/reader';
import { AsyncQueue } from './async-queue';
import type { LocalSpawner, RunSpec } from './local-spawner';
import type { ChannelEnd } from './types';

/**
 * A local run: the LocalSpawner starts it in a new session (the spawn helper's \`fleet_run\`, see
 * os/linux/sh/spawn-helper.sh), and its events are read in-process — pid and identity from the
 * record the run's first step writes, the out file's lines as they grow, then the recorded exit
 * code — instead of by a shell pipeline (sh, setsid, tail, a watcher). Same run directory as every
 * other host: adoption after a crash and kills read the same files.
 *
 * The end is read from the run directory, not from a child's exit event (the run is the helper's,
 * not ours): the exit record complete, or both the leader and its waiter gone (the leader ends
 * before the waiter appends its exit code) — each checked *before* a last drain of the output, so
 * every byte written before the end is delivered.
 */
export async function spawnLocalRun(opts: {
  run: RunSpec;
  cwd: string;
  runDir: string;
  spawner: LocalSpawner;
  /** The run's cgroup, created (empty) by the caller; removed here if the run is not known to have started. */
  cgroup?: string;
}): Promise<RunStream> {
  // A reader slower than the agent: reads of the out file wait for room (the file keeps every byte).
  const queue = new AsyncQueue<WrapperEvent[]>({ highWater: 16 });
  const push = (...evs: WrapperEvent[]) => {
    if (evs.length > 0) queue.push(evs);
  };
  const splitter = new LineSplitter();
  let endResolve: (e: ChannelEnd) => void = () => {};
  const ended = new Promise<ChannelEnd>((r) => {
    endResolve = r;
  });
  const finish = (code: number) => {
    queue.end();
    endResolve({ kind: 'exit', code });
  };
  // Closed by the reader: no more reads of the run directory (the run goes on).
  const closed = () => queue.ended;
  const channel: RunStream = { events: queue, ended, close: () => queue.end() };

  const out = join(opts.runDir, 'out');
  // inotify on the run directory (output writes, the exit record), set up before the spawn so that
  // nothing is missed; a slow timer covers what it misses and a supervisor killed without a record.
  let poke: () => void = () => {};
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(opts.runDir, () => poke());
  } catch {}
  const timer = setInterval(() => poke(), 100);
  const stopWatching = () => {
    clearInterval(timer);
    watcher?.close();
  };

  const started = await opts.spawner.startRun(opts.run, opts.cwd, opts.cgroup);
  // The answer names the process started (the helper's waiter, or the supervisor itself); the run's
  // leader and its identity are in the record that the run's first step writes.
  const spawned = 'pid' in started ? started.pid : undefined;
  const spawnedStart = spawned === undefined ? undefined : linuxStartTime(spawned);
  const recordPath = join(opts.runDir, 'pid');
  const abandoned = /^abandoned\r?\n/;
  let text = readOr(recordPath);
  let rec = parseRunRecord(text, opts.runDir);
  for (const deadline = Date.now() + 2_000; !rec && spawned !== undefined && !abandoned.test(text) && Date.now() < deadline; ) {
    // Gone without a record: one last look (it may have written it just before).
    const gone = spawnedStart === undefined || !linuxAlive(spawned, spawnedStart);
    if (!gone) {
      await new Promise<void>((r) => {
        poke = r;
      });
    }
    text = readOr(recordPath);
    rec = parseRunRecord(text, opts.runDir);
    if (gone) break;
  }
  if (!rec && abandoned.test(text)) {
    // Claimed as never started (see claimRunScript): its first step stopped before the cgroup.
    stopWatching();
    if (opts.cgroup !== undefined) removeRunCgroup(opts.cgroup);
    push({ type: 'error', reason: 'abandoned' });
    finish(97);
    return channel;
  }
  if (!rec) {
    stopWatching();
    // (a populated one stays: a start whose answer was lost is recovered from the run directory)
    if (opts.cgroup !== undefined) removeRunCgroup(opts.cgroup);
    if ('error' in started && started.error === 'workfolder_missing') {
      push({ type: 'error', reason: 'workfolder_missing' });
      finish(97);
    } else {
      // Not known to have started: RunFollower waits for the run directory's record (a drop before the PID).
      queue.end();
      endResolve({ kind: 'drop', reason: 'local spawn: no answer from the spawn helper' });
    }
    return channel;
  }
  const { pid, startTime: start } = rec.handle;
  const waiter = rec.waiter;
  const leader = pid;
  const leaderStart = start;
  // One batch: the follower sees PID and identity together and can persist both in one write.
  push({ type: 'pid', pid: leader }, { type: 'identity', bootId: rec.handle.bootId, startTime: leaderStart });

  // Reads are synchronous (a local file in the page cache): no thread-pool hop per read, and nothing
  // can happen between a check and the drain that follows it.
  const buf = Buffer.alloc(1 << 16);
  let fd: number | undefined;
  let pos = 0;
  /** Reads the out file to its current end, or until the reader's queue is full. */
  const drain = (): { got: boolean; full: boolean } => {
    fd ??= openOr(out);
    if (fd === undefined) return { got: false, full: false };
    let got = false;
    while (!queue.full) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n <= 0) return { got, full: false };
      pos += n;
      got = true;
      push(...splitter.push(buf.subarray(0, n)).map((l): WrapperEvent => ({ type: 'line', text: l.text, bytes: l.bytes })));
    }
    return { got, full: true };
  };
  void (async () => {
    try {
      for (;;) {
        const d = drain();
        if (d.full) {
          await queue.room();
          if (closed()) return;
          continue;
        }
        if (!d.got) {
          if (closed()) return;
          // Nothing new: has the run ended? (checked before the last drain below; an exit code recorded
          // means the agent is gone, so is everything it wrote)
          const code = exitCode(opts.runDir);
          if (code !== undefined || !(linuxAlive(leader, leaderStart) || (waiter && linuxAlive(waiter.pid, waiter.startTime)))) {
            for (let r = drain(); r.full; r = drain()) {
              await queue.room();
              if (closed()) return;
            }
            const last = splitter.flush();
            const recorded = code ?? exitCode(opts.runDir);
            push(...(last ? [{ type: 'line', text: last.text, bytes: last.bytes } as const] : []), {
              type: 'exit',
              exitCode: recorded === undefined ? undefined : Number(recorded),
            });
            finish(0);
            return;
          }
        }
        if (closed()) return;
        await new Promise<void>((r) => {
          poke = r;
        });
      }
    } finally {
      stopWatching();
      if (fd !== undefined) closeSync(fd);
    }
  })().catch((err: Error) => {
    // Losing the follower is a "drop": RunFollower reattaches through the generic path.
    endResolve({ kind: 'drop', reason: `local follower failed: ${err.message}` });
    queue.end();
  });
  return channel;
}

/** The exit code, once recorded (line 2 of the run's record, see parseExitRecord). */
function exitCode(runDir: string): string | undefined {
  return parseExitRecord(readOr(join(runDir, 'pid')));
}

function openOr(path: string): number | undefined {
  try {
    return openSync(path, 'r');
  } catch {
    return undefined;
  }
}

/** A small local file's text, or '' if it cannot be read. */
function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
