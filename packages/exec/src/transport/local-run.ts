import { type FSWatcher, closeSync, openSync, readFileSync, readSync, watch } from 'node:fs';
import { join } from 'node:path';
import { removeRunCgroup } from '../os/linux-cgroup';
import { linuxAlive, linuxBootId, linuxStartTime } from '../os/linux-proc';
import { parseExitRecord, parsePidFile } from '../os/markers';
import type { LocalSpawner } from './local-spawner';
import type { ChannelEnd, StreamChannel } from './types';

/**
 * The local fast path of a run: the supervisor is started in a new session by the LocalSpawner, so
 * its PID is known before it runs, and the wrapper's protocol is produced in-process — FLEET_PID,
 * FLEET_ID, the out file's bytes as they grow, then FLEET_EXIT with the exit file's code — instead
 * of by a shell pipeline (sh, setsid, tail, a watcher). Same files, same supervisor, same protocol:
 * RunFollower, adoption after a crash and kills are unchanged.
 *
 * The end is read from the run directory, not from a child's exit event (the supervisor is the
 * helper's child, not ours): the exit record complete, or the supervisor gone — each checked
 * *before* a last drain of the output, so every byte written before the end is delivered.
 */
export async function spawnLocalRun(opts: {
  argv: string[];
  cwd: string;
  runDir: string;
  nonce: string;
  spawner: LocalSpawner;
  /** The run's cgroup, created (empty) by the caller; removed here if the run is not known to have started. */
  cgroup?: string;
}): Promise<StreamChannel> {
  const queue: Buffer[] = [];
  let done = false;
  let wake: (() => void) | undefined;
  const push = (b: Buffer | string) => {
    queue.push(typeof b === 'string' ? Buffer.from(b) : b);
    wake?.();
  };
  let endResolve: (e: ChannelEnd) => void = () => {};
  const ended = new Promise<ChannelEnd>((r) => {
    endResolve = r;
  });
  const finish = (code: number) => {
    done = true;
    wake?.();
    endResolve({ kind: 'exit', code });
  };
  let closed = false;
  const output: AsyncIterable<Buffer> = {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        const b = queue.shift();
        if (b) {
          yield b;
          continue;
        }
        if (done || closed) return;
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = undefined;
      }
    },
  };
  const channel: StreamChannel = {
    output,
    ended,
    close: () => {
      closed = true;
      wake?.();
    },
  };

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

  const started = await opts.spawner.start(opts.argv, opts.cwd, opts.cgroup);
  let pid = 'pid' in started ? started.pid : undefined;
  let start = pid === undefined ? undefined : linuxStartTime(pid);
  if (start === undefined) {
    // Already gone and reaped, or the answer was lost with the helper: the supervisor's own record.
    const rec = parsePidFile(readOr(join(opts.runDir, 'pid')), opts.runDir);
    if (rec) ({ pid, startTime: start } = rec);
  }
  if (pid === undefined || start === undefined) {
    stopWatching();
    // (a populated one stays: a start whose answer was lost is recovered from the run directory)
    if (opts.cgroup !== undefined) removeRunCgroup(opts.cgroup);
    if ('error' in started && started.error === 'workfolder_missing') {
      push('FLEET_ERR:workfolder_missing\n');
      finish(97);
    } else {
      // Not known to have started: RunFollower waits for the run directory's record (a drop before the PID).
      done = true;
      wake?.();
      endResolve({ kind: 'drop', reason: 'local spawn: no answer from the spawn helper' });
    }
    return channel;
  }
  const leader = pid;
  const leaderStart = start;
  // One chunk: the follower sees PID and identity together and can persist both in one write.
  push(`FLEET_PID:${leader}\nFLEET_ID:${linuxBootId()}:${leaderStart}\n`);

  // Reads are synchronous (a local file in the page cache): no thread-pool hop per read, and nothing
  // can happen between a check and the drain that follows it.
  const buf = Buffer.alloc(1 << 16);
  let fd: number | undefined;
  let pos = 0;
  const drain = (): boolean => {
    fd ??= openOr(out);
    if (fd === undefined) return false;
    let got = false;
    for (let n = readSync(fd, buf, 0, buf.length, pos); n > 0; n = readSync(fd, buf, 0, buf.length, pos)) {
      pos += n;
      got = true;
      push(Buffer.from(buf.subarray(0, n)));
    }
    return got;
  };
  void (async () => {
    try {
      for (;;) {
        if (!drain()) {
          if (closed) return;
          // Nothing new: has the run ended? (checked before the last drain below; an exit code recorded
          // means the agent is gone, so is everything it wrote)
          const code = exitCode(opts.runDir);
          if (code !== undefined || !linuxAlive(leader, leaderStart)) {
            drain();
            push(`FLEET_EXIT:${opts.nonce}:${code ?? exitCode(opts.runDir) ?? 'none'}\n`);
            finish(0);
            return;
          }
        }
        if (closed) return;
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
    done = true;
    wake?.();
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
