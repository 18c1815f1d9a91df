import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive, waitFor } from '@fleet/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunHandle } from '../src/identity';
import { parseExitRecord, parseKill, parseRunRecord } from '../src/os/markers';
import { probeRun } from '../src/run/control';
import type { RunOutcome } from '../src/run/follow';
import { attachRun, runAgent } from '../src/run/run-agent';
import { type Kind, suiteMember, type TestMember } from './helpers/members';

/**
 * A local run has two processes of ours: the leader (the agent, its session's first process, named
 * by the record) and its waiter outside that session, which appends the agent's exit code once the
 * leader has ended (see os/unix.ts). Between the two the leader is gone and the exit code not yet
 * written; every reader must treat that as "still running", or a finished run reads as killed. A
 * SIGSTOP on the waiter holds that gap open for as long as a test needs.
 */
describe.each<Kind>(['local', 'local-proc'])('the waiter of a local run (%s)', (kind) => {
  const m = suiteMember(kind);
  const stopped: number[] = [];
  afterEach(() => {
    for (const p of stopped.splice(0)) {
      try {
        process.kill(p, 'SIGCONT');
      } catch {}
    }
  });

  let seq = 0;
  /** A run of `sh` that prints a line, waits for a file, then exits 5; `release` creates the file. */
  async function gatedRun(t: TestMember): Promise<{ handle: RunHandle; done: Promise<RunOutcome>; release(): void }> {
    const gate = join(t.workFolder, `gate-${process.pid}-${++seq}`);
    let started: (h: RunHandle) => void = () => {};
    const handle = new Promise<RunHandle>((r) => {
      started = r;
    });
    const done = runAgent({
      transport: t.transport,
      runId: `waiter${process.pid}-${seq}`,
      workFolder: t.workFolder,
      argv: ['sh'],
      prompt: `echo hi; while [ ! -e '${gate}' ]; do sleep 0.01; done; exit 5\n`,
      hooks: { onStarted: (h) => started(h) },
    });
    return { handle: await handle, done, release: () => writeFileSync(gate, '') };
  }

  /** Stops the run's waiter, lets the leader end, and waits until it has. */
  async function openGap(run: { handle: RunHandle; release(): void }): Promise<{ pid: number; startTime: string }> {
    const rec = parseRunRecord(readFileSync(join(run.handle.runDir, 'pid'), 'utf8'), run.handle.runDir);
    const waiter = rec?.waiter;
    if (!waiter) throw new Error('the record names no waiter');
    process.kill(waiter.pid, 'SIGSTOP');
    stopped.push(waiter.pid);
    run.release();
    await waitFor(() => !isAlive(run.handle.pid), { what: 'leader ended' });
    return waiter;
  }

  it('followed live: the run is not over until the waiter has recorded the exit code', async () => {
    const run = await gatedRun(m);
    const waiter = await openGap(run);
    let settled = false;
    void run.done.then(() => {
      settled = true;
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(settled).toBe(false);
    process.kill(waiter.pid, 'SIGCONT');
    const out = await run.done;
    expect(out).toMatchObject({ kind: 'exited', exitCode: 5, tail: ['hi'] });
  });

  it('adopted (probe and reattach scripts): the gap reads as running, then as ended with the exit code', async () => {
    const run = await gatedRun(m);
    const waiter = await openGap(run);
    // A reattach in the gap: its CLASSIFY waits 2 s for the waiter, then its watcher keeps waiting.
    const attached = attachRun({ transport: m.transport, handle: run.handle, offset: 0 });
    let settled = false;
    void attached.then(() => {
      settled = true;
    });
    await new Promise((r) => setTimeout(r, 2_600));
    expect(settled).toBe(false);
    // A probe in the gap waits for the waiter (CLASSIFY): released meanwhile, it reports the exit code.
    const probe = probeRun(m.transport, run.handle);
    await new Promise((r) => setTimeout(r, 300));
    process.kill(waiter.pid, 'SIGCONT');
    expect(await probe).toMatchObject({ state: 'gone', exitCode: 5 });
    expect(await attached).toMatchObject({ kind: 'exited', exitCode: 5, tail: ['hi'] });
    expect(await run.done).toMatchObject({ kind: 'exited', exitCode: 5 });
  });

  it('the kill script takes the waiter before the leader: the run reads as killed, not as exit 137', async () => {
    const run = await gatedRun(m);
    const rec = parseRunRecord(readFileSync(join(run.handle.runDir, 'pid'), 'utf8'), run.handle.runDir);
    expect(rec?.waiter).toBeDefined();
    const res = await m.transport.exec(m.transport.os.killScript(run.handle, { timeoutMs: 5_000 }));
    expect(parseKill(res.output).result).toBe('killed');
    expect(isAlive(run.handle.pid)).toBe(false);
    expect(isAlive(rec?.waiter?.pid ?? 0, rec?.waiter?.startTime)).toBe(false);
    expect(parseExitRecord(readFileSync(join(run.handle.runDir, 'pid'), 'utf8'))).toBeUndefined();
    expect((await run.done).kind).toBe('lost');
  });
});
