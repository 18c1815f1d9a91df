import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive, procStat, tempDir, waitFor } from '@fleet/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalTransport } from '../src/transport/local';
import { TransportError } from '../src/transport/types';

/** A local control command is bounded like one over SSH: a blocking read can't hold an attempt for good. */
describe('LocalTransport control commands', () => {
  const dir = tempDir('fleet-local-exec-');
  afterAll(() => dir.remove());

  it('a command given no bound times out at the transport default, and its process group is killed', async () => {
    const fifo = join(dir.path, 'pid');
    execFileSync('mkfifo', [fifo]);
    const t = new LocalTransport(undefined, { commandTimeoutMs: 400 });
    // What readRunPidFile sends, on a FIFO where the run's record should be: the read never returns.
    const started = Date.now();
    const pids = join(dir.path, 'pids');
    const running = t.exec(`cat -- ${fifo} & echo "$$ $!" > ${pids}; wait`).catch((e: unknown) => e);
    const [shell, cat] = await waitFor(
      () => {
        const text = existsSync(pids) ? readFileSync(pids, 'utf8') : '';
        return text.endsWith('\n') ? text.trim().split(' ').map(Number) : undefined;
      },
      { what: 'the command to start' },
    );
    const alive = [shell, cat].map((pid) => ({ pid: pid as number, start: procStat(pid as number)?.startTime }));
    for (const p of alive) expect(isAlive(p.pid, p.start), `pid ${p.pid} running`).toBe(true);
    const err = await running;
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).code).toBe('timeout');
    expect((err as TransportError).transient).toBe(true);
    expect(Date.now() - started).toBeLessThan(5_000);
    await waitFor(() => alive.every((p) => !isAlive(p.pid, p.start)), { what: 'the shell and its cat to be gone' });
  });

  it('a command that answers is not affected, and an explicit bound still wins', async () => {
    const t = new LocalTransport(undefined, { commandTimeoutMs: 400 });
    expect((await t.exec('echo ok')).output).toBe('ok\n');
    expect((await t.exec('sleep 0.6; echo slow', { timeoutMs: 5_000 })).output).toBe('slow\n');
  });
});
