import { spawn } from 'node:child_process';
import { type FSWatcher, rmSync, watch, writeFileSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { linuxBootId, linuxStartTime } from '../os/linux-proc';
import { parsePidFile } from '../os/markers';
import type { ChannelEnd, StreamChannel } from './types';

/**
 * The local fast path of a run: the supervisor is spawned directly in a new session (`detached`),
 * so its PID is known at once, and the wrapper's protocol is produced in-process — FLEET_PID,
 * FLEET_ID, the out file's bytes as they grow, then FLEET_EXIT with the exit file's code — instead
 * of by a shell pipeline (sh, setsid, tail, a watcher). Same files, same supervisor, same protocol:
 * RunFollower, adoption after a crash and kills are unchanged.
 */
export async function spawnLocalRun(opts: { argv: string[]; cwd: string; runDir: string; nonce: string }): Promise<StreamChannel> {
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
  // Synchronous: three syscalls on a local disk, cheaper than three thread-pool round trips.
  for (const f of ['exit', 'pid']) rmSync(join(opts.runDir, f), { force: true });
  writeFileSync(out, '');
  const [cmd, ...args] = opts.argv;
  const child = spawn(cmd ?? 'sh', args, { cwd: opts.cwd, detached: true, stdio: 'ignore' });
  let exited = false;
  child.once('exit', () => {
    exited = true;
    poke();
  });
  const spawnError = await new Promise<Error | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', (e) => resolve(e));
  });
  if (spawnError || child.pid === undefined) {
    push(`FLEET_ERR:${(spawnError as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' ? 'workfolder_missing' : 'spawn_failed'}\n`);
    finish(97);
    return channel;
  }
  const pid = child.pid;
  push(`FLEET_PID:${pid}\n`);
  let start = linuxStartTime(pid);
  if (start === undefined) {
    // Already exited and reaped: its own record has the identity.
    start = parsePidFile(await readFile(join(opts.runDir, 'pid'), 'utf8').catch(() => ''), opts.runDir)?.startTime ?? '';
  }
  push(`FLEET_ID:${linuxBootId()}:${start}\n`);

  // Follow the out file: inotify wakes us on writes; a slow timer covers anything it misses.
  let poke: () => void = () => {};
  let watcher: FSWatcher | undefined;
  void (async () => {
    const fd = await open(out, 'r');
    const buf = Buffer.alloc(1 << 16);
    let pos = 0;
    try {
      watcher = watch(out, () => poke());
    } catch {}
    const timer = setInterval(() => poke(), 100);
    try {
      for (;;) {
        let n = 0;
        do {
          ({ bytesRead: n } = await fd.read(buf, 0, buf.length, pos));
          if (n > 0) {
            pos += n;
            push(Buffer.from(buf.subarray(0, n)));
          }
        } while (n > 0);
        if (closed) return;
        if (exited) {
          // The supervisor is gone: one last read above drained the file. Now the exit code.
          const code = (await readFile(join(opts.runDir, 'exit'), 'utf8').catch(() => '')).trim();
          push(`FLEET_EXIT:${opts.nonce}:${/^\d+$/.test(code) ? code : 'none'}\n`);
          finish(0);
          return;
        }
        await new Promise<void>((r) => {
          poke = r;
        });
      }
    } finally {
      clearInterval(timer);
      watcher?.close();
      await fd.close();
    }
  })().catch((err: Error) => {
    // Losing the follower is a "drop": RunFollower reattaches through the generic path.
    endResolve({ kind: 'drop', reason: `local follower failed: ${err.message}` });
    done = true;
    wake?.();
  });
  return channel;
}
