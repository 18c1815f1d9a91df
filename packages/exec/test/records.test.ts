import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunHandle } from '../src/identity';
import { linuxBootId, linuxStartTime } from '../src/os/linux-proc';
import { parseExitRecord } from '../src/os/markers';
import { probeRun, readRunPidFile } from '../src/run/control';
import { attachRun } from '../src/run/run-agent';
import { type Kind, suiteMember } from './helpers/members';

/**
 * The run's record is one file, `pid`: `pid:boot:start` when the supervisor starts, the exit code
 * appended as line 2 when the agent ends, each line one write(2), no temp file and rename. A reader
 * must take a line only when complete: unterminated is "not yet" while the supervisor lives, and
 * "no exit code" once it is gone.
 */
describe.each<Kind>(['local', 'ssh'])('run records without rename (%s)', (kind) => {
  const m = suiteMember(kind);
  let seq = 0;

  const runDirOf = () => {
    const d = join(m.workFolder, '.fleet', 'runs', `rec${process.pid}-${++seq}`);
    mkdirSync(d, { recursive: true, mode: 0o700 });
    return d;
  };

  /** A run whose leader was a real process, now dead; `files` gets `{{id}}` replaced by its pid record. */
  async function deadRun(files: Record<string, string>): Promise<RunHandle> {
    const runDir = runDirOf();
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    const pid = child.pid ?? 0;
    const startTime = linuxStartTime(pid) ?? '';
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const h = { pid, bootId: linuxBootId(), startTime, runDir };
    for (const [name, text] of Object.entries(files))
      writeFileSync(join(runDir, name), text.replace('{{id}}', `${pid}:${h.bootId}:${startTime}`));
    return h;
  }

  it('the exit line appended to the record is the exit code', async () => {
    const h = await deadRun({ out: 'a\nb\n', pid: '{{id}}\n137\n' });
    expect((await probeRun(m.transport, h)).exitCode).toBe(137);
    const out = await attachRun({ transport: m.transport, handle: h, offset: 0 });
    expect(out.kind).toBe('exited');
    if (out.kind === 'exited') expect([out.exitCode, out.tail]).toEqual([137, ['a', 'b']]);
  });

  it('no exit line (a supervisor killed before it wrote one) is no exit code: the run is lost, not exit 0', async () => {
    const h = await deadRun({ out: 'partial\n', pid: '{{id}}\n' });
    expect((await probeRun(m.transport, h)).exitCode).toBeUndefined();
    expect((await attachRun({ transport: m.transport, handle: h, offset: 0 })).kind).toBe('lost');
  });

  it('an unterminated exit line is not taken (it could be cut short)', async () => {
    const h = await deadRun({ out: '', pid: '{{id}}\n13' });
    expect((await probeRun(m.transport, h)).exitCode).toBeUndefined();
    expect((await attachRun({ transport: m.transport, handle: h, offset: 0 })).kind).toBe('lost');
  });

  it('a record without a complete exit line is none, and no other file is read for the code', async () => {
    const empty = await deadRun({ out: '', pid: '{{id}}\n' });
    expect((await attachRun({ transport: m.transport, handle: empty, offset: 0 })).kind).toBe('lost');
    const cut = await deadRun({ out: '', pid: '{{id}}\n13' });
    expect((await probeRun(m.transport, cut)).exitCode).toBeUndefined();
    const stray = await deadRun({ out: 'x\n', pid: '{{id}}\n', exit: '3\n' });
    expect((await probeRun(m.transport, stray)).exitCode).toBeUndefined();
    expect((await attachRun({ transport: m.transport, handle: stray, offset: 0 })).kind).toBe('lost');
  });

  it('while the supervisor lives, a record without its exit line is waited for, not read as "none"', async () => {
    const runDir = runDirOf();
    writeFileSync(join(runDir, 'out'), 'x\n');
    // Stands in for a supervisor: its record first, the exit line later, then it ends.
    const child = spawn('sh', ['-c', 'sleep 0.4; echo 7 >> pid'], { cwd: runDir, stdio: 'ignore', detached: true });
    const pid = child.pid ?? 0;
    const h: RunHandle = { pid, bootId: linuxBootId(), startTime: linuxStartTime(pid) ?? '', runDir };
    writeFileSync(join(runDir, 'pid'), `${pid}:${h.bootId}:${h.startTime}\n`);
    const out = await attachRun({ transport: m.transport, handle: h, offset: 0 });
    expect(out.kind).toBe('exited');
    if (out.kind === 'exited') expect(out.exitCode).toBe(7);
  });

  it('a half-written pid line is not an identity; a complete one is, with or without the exit line', async () => {
    const h = await deadRun({ pid: '4242:boot:12' });
    expect(await readRunPidFile(m.transport, h.runDir)).toBeUndefined();
    writeFileSync(join(h.runDir, 'pid'), `${h.pid}:${h.bootId}:${h.startTime}\n`);
    expect(await readRunPidFile(m.transport, h.runDir)).toEqual(h);
    writeFileSync(join(h.runDir, 'pid'), `${h.pid}:${h.bootId}:${h.startTime}\n0\n`);
    expect(await readRunPidFile(m.transport, h.runDir)).toEqual(h);
  });
});

describe('parseExitRecord', () => {
  it('takes line 2 of the record, only when complete', () => {
    expect(parseExitRecord('1:b:2\n0\n')).toBe('0');
    expect(parseExitRecord('1:b:2\n12')).toBeUndefined();
    expect(parseExitRecord('1:b:2\n')).toBeUndefined();
    expect(parseExitRecord('')).toBeUndefined();
  });
});
