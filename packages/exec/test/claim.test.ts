import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive, waitFor } from '@fleet/testkit';
import { describe, expect, it } from 'vitest';
import type { RunHandle } from '../src/identity';
import { claimRun } from '../src/run/control';
import { runAgent } from '../src/run/run-agent';
import { type Kind, suiteMember } from './helpers/members';

/**
 * A run whose PID never reached Redis (its worker died, or its link was cut, just after sending the
 * start) may still start *later*: over SSH the start waits for the login shell, which can take half a
 * second. Finding no record on the member is no proof; the next attempt claims the record's place
 * instead, and a claimed run can never start. (A chaos run found two agents on one member this way.)
 */
describe.each<Kind>(['local', 'ssh'])('claiming a run that may not have started (%s)', (kind) => {
  const m = suiteMember(kind);
  let seq = 0;
  const runId = () => `claim${process.pid}-${++seq}`;

  it('a run claimed before its start never starts its agent, whatever arrives later', async () => {
    const id = runId();
    const runDir = m.transport.os.runDir(m.workFolder, id);
    expect(await claimRun(m.transport, runDir)).toEqual({ kind: 'claimed' });
    // The late start: the same run, its directory prepared and its supervisor started after the claim.
    const canary = join(m.workFolder, `canary-${id}`);
    const out = await runAgent({
      transport: m.transport,
      runId: id,
      workFolder: m.workFolder,
      argv: ['sh'],
      prompt: `touch '${canary}'\n`,
    });
    expect(out).toMatchObject({ kind: 'not_started', reason: 'rundir_used' });
    expect(existsSync(canary)).toBe(false);
    expect(readFileSync(join(runDir, 'pid'), 'utf8')).toBe('abandoned\n');
    // Claiming again says the same: it never started.
    expect(await claimRun(m.transport, runDir)).toEqual({ kind: 'claimed' });
  });

  it('a claim that lands between the prepare and the start still stops it (the supervisor creates its record with noclobber)', async () => {
    const id = runId();
    const runDir = m.transport.os.runDir(m.workFolder, id);
    const canary = join(m.workFolder, `canary-${id}`);
    mkdirSync(runDir, { recursive: true, mode: 0o700 });
    writeFileSync(join(runDir, 'prompt'), `touch '${canary}'\n`);
    expect(await claimRun(m.transport, runDir)).toEqual({ kind: 'claimed' });
    const { output: text } = await m.transport.exec(m.transport.os.startRunScript({ runDir, workFolder: m.workFolder, argv: ['sh'] }));
    expect(text).toContain('FLEET_ERR:abandoned');
    expect(text).not.toContain('FLEET_PID');
    // The start gives up on seeing the claim; its supervisor was started all the same: give it time.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(existsSync(canary)).toBe(false);
    expect(readFileSync(join(runDir, 'pid'), 'utf8')).toBe('abandoned\n');
  });

  it('a run that did start is found, not claimed, and keeps running to its own end', async () => {
    const id = runId();
    let started: RunHandle | undefined;
    const run = runAgent({
      transport: m.transport,
      runId: id,
      workFolder: m.workFolder,
      argv: ['sh'],
      prompt: 'sleep 1; echo done\n',
      hooks: {
        onStarted: (h) => {
          started = h;
        },
      },
    });
    const h = await waitFor(() => started, { what: 'run started' });
    // Started = its supervisor wrote its record (locally the PID is known a moment before that; a
    // claim in that moment stops the start, which is what a claim is for).
    const pidFile = join(h.runDir, 'pid');
    await waitFor(() => existsSync(pidFile) && /^\d+:/.test(readFileSync(pidFile, 'utf8')), { what: 'record written' });
    const c = await claimRun(m.transport, h.runDir);
    expect(c).toEqual({ kind: 'record', handle: { pid: h.pid, bootId: h.bootId, startTime: h.startTime, runDir: h.runDir } });
    expect(isAlive(h.pid)).toBe(true);
    const out = await run;
    expect(out.kind === 'exited' && out.exitCode).toBe(0);
  });

  it('a half-written record is waited for; still empty, the answer is "pending" (spawn nothing)', async () => {
    const runDir = m.transport.os.runDir(m.workFolder, runId());
    mkdirSync(runDir, { recursive: true, mode: 0o700 });
    writeFileSync(join(runDir, 'pid'), '');
    expect(await claimRun(m.transport, runDir)).toEqual({ kind: 'pending' });
    expect(readFileSync(join(runDir, 'pid'), 'utf8')).toBe('');
  });

  it('without its work folder nothing can start there: claimed, and nothing is created', async () => {
    const gone = join(m.workFolder, 'no-such-folder');
    const runDir = m.transport.os.runDir(gone, runId());
    expect(await claimRun(m.transport, runDir)).toEqual({ kind: 'claimed' });
    expect(existsSync(gone)).toBe(false);
  });
});
