import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive, procStat, tempDir, waitFor } from '@fleet/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { getOsCommands } from '../src/os/index';
import { createRunCgroup, readRunCgroup, removeRunCgroup, runCgroupBase, runCgroupPath } from '../src/os/linux-cgroup';
import { parseExitRecord, parseRunRecord } from '../src/os/markers';
import { RunFollower } from '../src/run/follow';
import { LocalTransport } from '../src/transport/local';
import { spawnLocalRun } from '../src/transport/local-run';
import { LocalSpawner, type RunSpec, type SpawnResult } from '../src/transport/local-spawner';
import { prepareRunDir } from './helpers/run-dir';

/**
 * The local spawn helper: a small long-lived shell forks the supervisors, so this process never
 * forks on a run's path. What must hold: the PID it answers is the new session's leader, arguments
 * reach it verbatim, and losing the helper loses no run and stops no start.
 */
describe('LocalSpawner (the shell spawn helper)', () => {
  const dir = tempDir('fleet-spawner-');
  const spawner = new LocalSpawner(getOsCommands('linux'));
  afterAll(() => {
    spawner.close();
    dir.remove();
  });

  it('serves requests through its long-lived helper, not a fork of this process', async () => {
    const r = await spawner.start(['sleep', '0.5'], dir.path);
    if (!('pid' in r)) throw new Error('not started');
    expect(spawner.helperPid).toBeDefined();
    expect(procStat(r.pid)?.ppid).toBe(spawner.helperPid);
  });

  it('answers the PID of a new session leader, with hostile arguments passed verbatim', async () => {
    const canary = join(dir.path, 'canary');
    const hostile = `it's "quoted" $(touch ${canary}) \`touch ${canary}\`; touch ${canary}\nnext line \\ end`;
    const args = [hostile, '', 'é ü 日本', ' lead and trail ', "'"];
    const r = await spawner.start(['sh', '-c', 'printf "%s\\0" "$@" > arg; sleep 0.3', 'fleet-test', ...args], dir.path);
    expect('pid' in r).toBe(true);
    if (!('pid' in r)) return;
    const want = args.map((a) => `${a}\0`).join('');
    const got = () => (existsSync(join(dir.path, 'arg')) ? readFileSync(join(dir.path, 'arg'), 'utf8') : '');
    await waitFor(() => got().split('\0').length > args.length, { timeoutMs: 5_000 });
    // Its own session and group, named after the PID we were given (setsid ran in place, no fork).
    expect(procStat(r.pid)).toMatchObject({ sid: r.pid, pgrp: r.pid });
    expect(got()).toBe(want);
    expect(existsSync(canary)).toBe(false);
  });

  it('a run: the answer is its waiter, outside the run session and our process group; the record names the leader (a session leader) and the waiter, then the exit code', async () => {
    const work = join(dir.path, 'w-run');
    const { runDir, record } = prepareRunDir(work, 'sleep 0.3; exit 3\n');
    const r = await spawner.startRun({ runDir, argv: ['sh'] }, work);
    if (!('pid' in r)) throw new Error('not started');
    await waitFor(() => parseRunRecord(record(), runDir), { what: 'record' });
    const rec = parseRunRecord(record(), runDir);
    expect(rec?.waiter?.pid).toBe(r.pid);
    const leader = rec?.handle.pid ?? 0;
    // (The record comes first: until its exec of setsid, the leader is still in the helper's session.)
    await waitFor(() => procStat(leader)?.sid === leader, { what: 'the leader in its own session' });
    expect(procStat(leader)).toMatchObject({ sid: leader, pgrp: leader, ppid: r.pid });
    // The waiter survives a signal to our process group (and is not in the run's session).
    const waiter = procStat(r.pid);
    const me = procStat(process.pid);
    expect(waiter?.pgrp).not.toBe(me?.pgrp);
    expect(waiter?.sid).not.toBe(me?.sid);
    expect(waiter?.sid).not.toBe(leader);
    await waitFor(() => parseExitRecord(record()) === '3', { what: 'exit code' });
    expect(isAlive(leader)).toBe(false);
  });

  it('a run whose program does not exist is recorded, ends with 127 and says why in its output', async () => {
    const work = join(dir.path, 'w-nope');
    const { runDir, record } = prepareRunDir(work, '');
    const r = await spawner.startRun({ runDir, argv: ['fleet-no-such-program', '-p'] }, work);
    expect('pid' in r).toBe(true);
    await waitFor(() => parseExitRecord(record()) !== undefined, { what: 'exit code' });
    expect(parseExitRecord(record())).toBe('127');
    expect(readFileSync(join(runDir, 'out'), 'utf8')).toMatch(/fleet-no-such-program: No such file or directory/);
  });

  it('a run whose record was claimed (abandoned) never starts its agent, and the claim stays as it was', async () => {
    const work = join(dir.path, 'w-claimed');
    const canary = join(work, 'canary');
    const { runDir } = prepareRunDir(work, `touch '${canary}'\n`);
    writeFileSync(join(runDir, 'pid'), 'abandoned\n');
    const r = await spawner.startRun({ runDir, argv: ['sh'] }, work);
    if (!('pid' in r)) throw new Error('not answered');
    await waitFor(() => !isAlive(r.pid), { what: 'the waiter gone' });
    expect(existsSync(canary)).toBe(false);
    expect(readFileSync(join(runDir, 'pid'), 'utf8')).toBe('abandoned\n');
  });

  it.skipIf(runCgroupBase() === undefined)('a run given a cgroup has its leader in it, and leaves it empty', async () => {
    const work = join(dir.path, 'w-cg');
    const { runDir, record } = prepareRunDir(work, 'sleep 0.3\n');
    const cg = runCgroupPath(runCgroupBase() ?? '', runDir);
    expect(createRunCgroup(cg)).toBe(true);
    try {
      const r = await spawner.startRun({ runDir, argv: ['sh'] }, work, cg);
      if (!('pid' in r)) throw new Error('not started');
      const leader = (await waitFor(() => parseRunRecord(record(), runDir), { what: 'record' })).handle.pid;
      await waitFor(() => readRunCgroup(cg)?.pids.includes(leader), { what: 'the leader in the cgroup' });
      await waitFor(() => parseExitRecord(record()) === '0', { what: 'exit code' });
    } finally {
      await waitFor(() => readRunCgroup(cg)?.pids.length === 0, { what: 'the cgroup empty' });
      removeRunCgroup(cg);
    }
  });

  it('a missing work folder is reported, nothing is started', async () => {
    expect(await spawner.start(['sh', '-c', 'true'], join(dir.path, 'nope'))).toEqual({ error: 'workfolder_missing' });
  });

  it('when the helper dies, running supervisors keep running and the next start brings a new helper', async () => {
    const work = join(dir.path, 'w2');
    mkdirSync(work);
    const r = await spawner.start(['sleep', '30'], work);
    if (!('pid' in r)) throw new Error('not started');
    const helper = spawner.helperPid;
    expect(helper).toBeDefined();
    process.kill(helper as number, 'SIGKILL');
    await waitFor(() => spawner.helperPid === undefined, { timeoutMs: 5_000 });
    expect(isAlive(r.pid)).toBe(true);
    const again = await spawner.start(['sh', '-c', 'true'], work);
    expect('pid' in again).toBe(true);
    expect(spawner.helperPid).not.toBe(helper);
    process.kill(r.pid, 'SIGKILL');
  });

  it.each([
    ['after the supervisor wrote its record', true],
    ['before the supervisor wrote its record (a drop before the PID line)', false],
  ])('a start whose answer is lost %s is recovered from the run directory and followed to its own exit code', async (_what, late) => {
    const work = join(dir.path, `w3-${late}`);
    const { runDir } = prepareRunDir(work, 'echo one; sleep 0.3; echo two; exit 4\n', 'lost-answer-1');
    const run = { runDir, argv: ['sh'] };
    // The run really starts, but the caller is told nothing came back.
    const lossy = {
      startRun: async (r: RunSpec, cwd: string): Promise<SpawnResult> => {
        const started = spawner.startRun(r, cwd);
        if (late) await started;
        return { error: 'spawn_failed' };
      },
    } as unknown as LocalSpawner;
    const transport = new LocalTransport();
    const lines: string[] = [];
    const stream = await spawnLocalRun({ run, cwd: work, runDir, spawner: lossy });
    const out = await new RunFollower({ transport, runDir, hooks: { onLine: (l) => void lines.push(l) } }).follow(stream);
    await transport.close();
    expect(out.kind).toBe('exited');
    if (out.kind === 'exited') expect(out.exitCode).toBe(4);
    expect(lines).toEqual(['one', 'two']);
  });
});
