import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive, pidIn, procStat, waitFor } from '@fleet/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { processCgroup, readRunCgroup, removeStaleRunCgroups, runCgroupBase, runCgroupPath } from '../src/os/linux-cgroup';
import { linuxKillRun } from '../src/os/linux-proc';
import { killRun } from '../src/run/control';
import type { LocalTransport } from '../src/transport/local';
import { type TestMember, makeMember, startRun, suiteMember } from './helpers/members';

/**
 * A cgroup per local run (where this process can make one): the end-of-run check reads it instead of
 * passing over /proc, and kills reach what left the session. What must hold: the run really is in
 * its cgroup, an empty cgroup is only trusted if the run joined it, nothing the run started survives
 * its end, and without cgroups (`local-proc`) every guarantee still holds.
 */
const base = runCgroupBase();
const cgroupsHere = base !== undefined;

const start = (m: TestMember, prompt: string) => startRun(m, prompt, 'cg');

describe.skipIf(!cgroupsHere)('a cgroup per local run', () => {
  const m = suiteMember('local');
  const stray: number[] = [];
  afterEach(() => {
    for (const p of [...m.state.live(), ...stray.splice(0)]) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {}
    }
  });

  it('the supervisor and the agent run in the run’s cgroup; at the end it is read, found empty and removed', async () => {
    const { handle, done } = await start(m, '@lines 1\n@sleep 0.5\n');
    const path = (m.transport as LocalTransport).runCgroup(handle.runDir) ?? '';
    expect(path).toBe(runCgroupPath(base ?? '', handle.runDir));
    await waitFor(() => m.state.live().length === 1, { what: 'agent' });
    const agent = m.state.live()[0] ?? 0;
    const rel = path.slice(path.indexOf('/fleet-exec/'));
    expect(processCgroup(handle.pid)?.endsWith(rel)).toBe(true);
    expect(processCgroup(agent)?.endsWith(rel)).toBe(true);
    expect(readRunCgroup(path)?.pids.sort()).toEqual(expect.arrayContaining([handle.pid, agent]));
    const out = await done;
    expect(out.kind).toBe('exited');
    if (out.kind !== 'exited') return;
    expect(out.cleanup.result).toBe('already_gone');
    expect(existsSync(path)).toBe(false);
  });

  it('a daemon the agent detached (double fork, own session, parent gone) does not outlive the run', async () => {
    const { handle, done } = await start(m, '@daemon 60\n');
    const out = await done;
    const daemon = pidIn(m.state.dir, 'daemon.pid');
    stray.push(daemon);
    expect(daemon).toBeGreaterThan(1);
    // Out of reach of the session pass: another session, and not a descendant of the run's leader.
    expect(out.kind).toBe('exited');
    if (out.kind !== 'exited') return;
    expect(out.cleanup.result).toBe('killed');
    expect(isAlive(daemon)).toBe(false);
    expect(existsSync((m.transport as LocalTransport).runCgroup(handle.runDir) ?? '')).toBe(false);
  });

  it('a cancel kills the whole cgroup, a detached daemon included', async () => {
    const { handle, done } = await start(m, '@daemon 60\n@spawn-tree 60\n@sleep 60\n');
    await waitFor(() => pidIn(m.state.dir, 'daemon.pid') > 0 && pidIn(m.state.dir, 'grandchild-setsid.pid') > 0, { what: 'tree' });
    const daemon = pidIn(m.state.dir, 'daemon.pid');
    stray.push(daemon);
    await waitFor(() => procStat(daemon)?.comm === 'sleep', { what: 'daemon settled' });
    expect(procStat(daemon)?.sid).not.toBe(handle.pid);
    const report = await killRun(m.transport, handle);
    expect(report.result).toBe('killed');
    expect(isAlive(daemon)).toBe(false);
    expect(isAlive(handle.pid)).toBe(false);
    await done;
  });

  it('an empty cgroup the run never joined is not trusted: the /proc pass still finds and kills the leftovers', async () => {
    // A run without a cgroup, still running a tree; then an empty cgroup where its cgroup would be.
    const mm = await makeMember('local-proc');
    try {
      const { handle, done } = await start(mm, '@spawn-tree 60\n@sleep 60\n');
      await waitFor(() => mm.state.live().length === 1 && pidIn(mm.state.dir, 'grandchild-setpgid.pid') > 0, { what: 'tree' });
      const agent = mm.state.live()[0] ?? 0;
      const fake = runCgroupPath(base ?? '', handle.runDir);
      mkdirSync(fake);
      try {
        expect(readRunCgroup(fake)).toBeUndefined();
        const r = await linuxKillRun(handle, 5_000, fake);
        expect(r.result).toBe('killed');
        expect(isAlive(agent)).toBe(false);
        expect(isAlive(handle.pid)).toBe(false);
      } finally {
        if (existsSync(fake)) rmdirSync(fake);
      }
      await done;
    } finally {
      await mm.close();
    }
  });

  it('a leftover cgroup is removed at startup only if empty and joined (or old): a fresh one may be a run starting', async () => {
    const b = join(base ?? '', `test-${process.pid}`);
    mkdirSync(b);
    const finished = join(b, 'run-finished');
    const fresh = join(b, 'run-fresh');
    const busy = join(b, 'run-busy');
    for (const d of [finished, fresh, busy]) mkdirSync(d);
    const once = spawn('sh', ['-c', `echo 0 > ${finished}/cgroup.procs; exec true`]);
    await new Promise((r) => once.on('exit', r));
    const live = spawn('sh', ['-c', `echo 0 > ${busy}/cgroup.procs; exec sleep 60`], { stdio: 'ignore' });
    stray.push(live.pid ?? 0);
    await waitFor(() => (readRunCgroup(busy)?.pids.length ?? 0) === 1, { what: 'busy joined' });
    try {
      removeStaleRunCgroups(b);
      expect(existsSync(finished)).toBe(false);
      expect(existsSync(fresh)).toBe(true);
      expect(existsSync(busy)).toBe(true);
    } finally {
      live.kill('SIGKILL');
      await waitFor(() => !existsSync(join(busy, 'cgroup.procs')) || readFileSync(join(busy, 'cgroup.procs'), 'utf8') === '', {
        what: 'busy empty',
      });
      for (const d of [finished, fresh, busy, b]) if (existsSync(d)) rmdirSync(d);
    }
  });
});

describe('without cgroups (FLEET_CGROUP=off or none to be had)', () => {
  const m = suiteMember('local-proc');
  it('no cgroup is made, and what the agent left in its session is still killed at the end', async () => {
    const { handle, done } = await start(m, '@leave-background 60\n');
    expect((m.transport as LocalTransport).runCgroup(handle.runDir)).toBeUndefined();
    if (base) expect(existsSync(runCgroupPath(base, handle.runDir))).toBe(false);
    const out = await done;
    const bg = pidIn(m.state.dir, 'background.pid');
    expect(out.kind).toBe('exited');
    if (out.kind !== 'exited') return;
    expect(out.cleanup.result).toBe('killed');
    expect(isAlive(bg)).toBe(false);
  });
});
