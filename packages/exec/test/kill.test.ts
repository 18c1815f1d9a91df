import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isAlive, pidIn, procStat, waitFor } from '@fleet/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunHandle } from '../src/identity';
import { killRun, probeRun } from '../src/run/control';
import { type Kind, makeMember, startRun, suiteMember, type TestMember } from './helpers/members';

const startLong = (m: TestMember, prompt: string) => startRun(m, prompt, 'kill');

describe.each<Kind>(['local', 'local-proc', 'ssh'])('killRun over %s', (kind) => {
  const m = suiteMember(kind);
  afterEach(() => {
    // Hygiene if a test failed half-way: no agent of this file outlives its test.
    for (const p of m.state.live()) process.kill(p, 'SIGKILL');
  });

  it('kills the agent, its child, a grandchild that moved to its own process group and one that started its own session', async () => {
    const { handle, done } = await startLong(m, '@spawn-tree 120\n@sleep 120\n');

    await waitFor(
      () =>
        pidIn(m.state.dir, 'grandchild-setpgid.pid') > 0 && pidIn(m.state.dir, 'grandchild-setsid.pid') > 0 && m.state.live().length === 1,
      { what: 'process tree' },
    );
    const pgPid = pidIn(m.state.dir, 'grandchild-setpgid.pid');
    const sidPid = pidIn(m.state.dir, 'grandchild-setsid.pid');
    // The grandchildren have exec'd sleep after changing group / session.
    await waitFor(() => procStat(pgPid)?.comm === 'sleep' && procStat(sidPid)?.comm === 'sleep', { what: 'grandchildren settled' });
    const agent = m.state.live()[0] ?? 0;
    // Preconditions: these really left the group / the session.
    expect(procStat(pgPid)?.pgrp).not.toBe(handle.pid);
    expect(procStat(pgPid)?.sid).toBe(handle.pid);
    expect(procStat(sidPid)?.sid).not.toBe(handle.pid);
    expect([handle.pid, agent, pgPid, sidPid].every((p) => isAlive(p))).toBe(true);

    const report = await killRun(m.transport, handle);
    expect(report.result).toBe('killed');
    expect(report.count).toBeGreaterThanOrEqual(6); // supervisor, agent, sleep child, 2× sh, 2 grandchildren
    for (const p of [handle.pid, agent, pgPid, sidPid]) expect(isAlive(p), `pid ${p}`).toBe(false);
    const outcome = await done;
    expect(['lost', 'exited']).toContain(outcome.kind);
    expect(outcome.kind).toBe('lost'); // killed from outside: no exit code, never an "exit 0"
  });

  it('kills a process whose name holds a newline and a stat line naming another PID, and never that other PID', async () => {
    const victim = spawn('sleep', ['120'], { detached: true, stdio: 'ignore' });
    try {
      const { handle, done } = await startLong(m, `@spoof-name ${victim.pid}\n@sleep 120\n`);
      await waitFor(() => pidIn(m.state.dir, 'spoof.pid') > 0, { what: 'the oddly named child' });
      const spoof = pidIn(m.state.dir, 'spoof.pid');
      await waitFor(() => readFileSync(`/proc/${spoof}/comm`, 'utf8').startsWith('\n'), { what: 'its name set' });
      const report = await killRun(m.transport, handle);
      expect(report.result).toBe('killed');
      expect(isAlive(spoof), 'the oddly named child').toBe(false);
      expect(isAlive(victim.pid ?? 0), 'the process its name points at').toBe(true);
      await done;
    } finally {
      victim.kill('SIGKILL');
    }
  });

  it('never kills a PID whose start time does not match (PID reuse) and reports identity_mismatch', async () => {
    const { handle, done } = await startLong(m, '@sleep 120\n');
    await waitFor(() => m.state.live().length === 1, { what: 'agent' });
    const reused: RunHandle = { ...handle, startTime: String(Number(handle.startTime) - 1) };
    const report = await killRun(m.transport, reused);
    expect(report.result).toBe('identity_mismatch');
    expect(isAlive(handle.pid)).toBe(true);
    expect(m.state.live().length).toBe(1);
    expect((await probeRun(m.transport, reused)).state).toBe('mismatch');
    // A different boot id means the process is gone by definition: nothing is touched.
    const otherBoot = await killRun(m.transport, { ...handle, bootId: 'another-boot' });
    expect(otherBoot.result).toBe('already_gone');
    expect(isAlive(handle.pid)).toBe(true);
    expect((await killRun(m.transport, handle)).result).toBe('killed');
    await done;
  });

  it('killing a run that is already gone is a no-op: already_gone', async () => {
    const { handle, done } = await startLong(m, '@lines 1\n');
    const outcome = await done;
    expect(outcome.kind).toBe('exited');
    await waitFor(() => !isAlive(handle.pid), { what: 'supervisor gone' });
    const report = await killRun(m.transport, handle);
    expect(report.result).toBe('already_gone');
    expect(report.count).toBe(0);
    expect((await probeRun(m.transport, handle)).exitCode).toBe(0);
  });

  it('kills an agent that ignores SIGTERM', async () => {
    const { handle, done } = await startLong(m, '@ignore-term\n@sleep 120\n');
    await waitFor(() => m.state.live().length === 1, { what: 'agent' });
    expect(m.state.live()).toHaveLength(1);
    const agent = m.state.live()[0] ?? 0;
    process.kill(agent, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    expect(isAlive(agent)).toBe(true);
    expect((await killRun(m.transport, handle)).result).toBe('killed');
    expect(isAlive(agent)).toBe(false);
    await done;
  });
});

describe('triage (one process-table pass for many runs)', () => {
  it('tells alive, gone-but-session-in-use, gone, mismatch and rebooted apart', async () => {
    const m = await makeMember('local');
    try {
      const alive = await startLong(m, '@sleep 60\n');
      const leftover = await startLong(m, '@leave-background 60\n');
      const leftoverOut = await leftover.done;
      const finished = await startLong(m, '@lines 1\n');
      await finished.done;
      await waitFor(() => !isAlive(finished.handle.pid) && !isAlive(leftover.handle.pid), { what: 'leaders gone' });
      // `leftover` exited but left a background sleep in its session; runAgent's cleanup killed it,
      // so recreate the situation with a session that still has a member: the alive run's session.
      expect(leftoverOut.kind).toBe('exited');
      // A session whose leader exited while a child lives on (what an agent's leftovers look like).
      const { spawn } = await import('node:child_process');
      const lead = spawn('setsid', ['sh', '-c', 'sleep 60 & sleep 0.3'], { stdio: 'ignore' });
      await waitFor(() => procStat(lead.pid ?? 0)?.comm === 'sh', { what: 'leader' });
      const leadStart = procStat(lead.pid ?? 0)?.startTime ?? '';
      await new Promise((r) => lead.once('exit', r));
      const orphanSession = { ...alive.handle, pid: lead.pid ?? 0, startTime: leadStart };
      const handles = [
        alive.handle,
        finished.handle,
        { ...alive.handle, startTime: '1' },
        { ...alive.handle, bootId: 'other-boot' },
        orphanSession,
      ];
      const { triageRuns, needsKill } = await import('../src/run/control');
      const t = await triageRuns(m.transport, handles);
      expect(t).toEqual([
        { state: 'alive', inUse: true },
        { state: 'gone', inUse: false },
        { state: 'mismatch', inUse: true },
        { state: 'rebooted', inUse: true },
        { state: 'gone', inUse: true },
      ]);
      expect(t.map(needsKill)).toEqual([true, false, false, false, true]);
      expect((await killRun(m.transport, orphanSession)).result).toBe('killed');
      await killRun(m.transport, alive.handle);
      await alive.done;
    } finally {
      await m.close();
    }
  });
});
