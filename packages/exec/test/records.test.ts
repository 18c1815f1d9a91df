import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunHandle } from '../src/identity';
import { linuxBootId, linuxStartTime } from '../src/os/linux-proc';
import { probeRun, readRunPidFile } from '../src/run/control';
import { attachRun } from '../src/run/run-agent';
import { type Kind, type TestMember, makeMember } from './helpers/members';

/**
 * The supervisor writes `pid` and `exit` with one write(2) each, without a temp file and rename. A
 * reader must take a record only as a complete line: an empty or unterminated file is "not yet"
 * while the supervisor lives, and "no exit code" once it is gone.
 */
describe.each<Kind>(['local', 'ssh'])('run records without rename (%s)', (kind) => {
  let m: TestMember;
  let seq = 0;
  beforeAll(async () => {
    m = await makeMember(kind);
  });
  afterAll(async () => {
    await m.close();
  });

  /** A run directory whose leader was a real process, now dead, with the given record files. */
  async function deadRun(files: Record<string, string>): Promise<RunHandle> {
    const runDir = join(m.workFolder, '.fleet', 'runs', `rec${process.pid}-${++seq}`);
    mkdirSync(runDir, { recursive: true, mode: 0o700 });
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    const pid = child.pid ?? 0;
    const startTime = linuxStartTime(pid) ?? '';
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(runDir, name), text);
    return { pid, bootId: linuxBootId(), startTime, runDir };
  }

  it('an empty exit file left by a killed supervisor reads as no exit code: the run is lost, not exit 0', async () => {
    const h = await deadRun({ out: 'partial\n', exit: '' });
    expect((await probeRun(m.transport, h)).exitCode).toBeUndefined();
    const out = await attachRun({ transport: m.transport, handle: h, offset: 0 });
    expect(out.kind).toBe('lost');
  });

  it('an unterminated exit file is not taken (it could be cut short)', async () => {
    const h = await deadRun({ out: '', exit: '13' });
    expect((await probeRun(m.transport, h)).exitCode).toBeUndefined();
    expect((await attachRun({ transport: m.transport, handle: h, offset: 0 })).kind).toBe('lost');
  });

  it('a complete exit line is the exit code', async () => {
    const h = await deadRun({ out: 'a\nb\n', exit: '137\n' });
    expect((await probeRun(m.transport, h)).exitCode).toBe(137);
    const out = await attachRun({ transport: m.transport, handle: h, offset: 0 });
    expect(out.kind).toBe('exited');
    if (out.kind === 'exited') expect([out.exitCode, out.tail]).toEqual([137, ['a', 'b']]);
  });

  it('an exit file that exists but is still empty while the supervisor lives is waited for, not read as "none"', async () => {
    const runDir = join(m.workFolder, '.fleet', 'runs', `rec${process.pid}-${++seq}`);
    mkdirSync(runDir, { recursive: true, mode: 0o700 });
    writeFileSync(join(runDir, 'out'), 'x\n');
    writeFileSync(join(runDir, 'exit'), '');
    // Stands in for a supervisor between the open of its exit file and the write.
    const child = spawn('sh', ['-c', 'sleep 0.4; echo 7 > exit'], { cwd: runDir, stdio: 'ignore', detached: true });
    const pid = child.pid ?? 0;
    const h: RunHandle = { pid, bootId: linuxBootId(), startTime: linuxStartTime(pid) ?? '', runDir };
    const out = await attachRun({ transport: m.transport, handle: h, offset: 0 });
    expect(out.kind).toBe('exited');
    if (out.kind === 'exited') expect(out.exitCode).toBe(7);
  });

  it('a half-written pid record is not an identity', async () => {
    const h = await deadRun({ pid: '4242:boot:12' });
    expect(await readRunPidFile(m.transport, h.runDir)).toBeUndefined();
    writeFileSync(join(h.runDir, 'pid'), `${h.pid}:${h.bootId}:${h.startTime}\n`);
    expect(await readRunPidFile(m.transport, h.runDir)).toEqual(h);
  });
});
