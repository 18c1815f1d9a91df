import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry, fenceToken } from '@fleet/registry';
import { deleteKeys, tempDir } from '@fleet/testkit';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { pruneRunDirs } from '../src/prune-run-dirs';
import { Transports } from '../src/transports';

const REDIS_URL = process.env.FLEET_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A finished run directory whose files last changed `ageS` ago. */
function finishedRun(work: string, name: string, ageS: number): string {
  const d = join(work, '.fleet', 'runs', name);
  mkdirSync(d, { recursive: true, mode: 0o700 });
  writeFileSync(join(d, 'prompt'), 'secret prompt');
  writeFileSync(join(d, 'pid'), '100:boot:5\n0\n');
  const t = Date.now() / 1000 - ageS;
  for (const f of readdirSync(d)) utimesSync(join(d, f), t, t);
  utimesSync(d, t, t);
  return d;
}

describe('sweeper: run directories past their retention', () => {
  const prefix = `fleet-test-prune-${randomBytes(4).toString('hex')}`;
  const redis = new Redis(REDIS_URL);
  const registry = new Registry(redis, prefix);
  const log = pino({ level: 'silent' });
  const transports = new Transports(registry, 'reject', log);
  const dir = tempDir('fleet-prune-worker-');
  afterAll(async () => {
    await transports.close();
    await deleteKeys(redis, prefix);
    redis.disconnect();
    dir.remove();
  });

  it('deletes old finished runs of every member, but never one that a run record or a parked record names', async () => {
    const work = join(dir.path, 'work');
    mkdirSync(work);
    const member = await registry.addMember({ name: 'local-prune', transport: 'local', workFolder: work, provider: 'shell' });
    const old = 8 * 86_400;
    const stale = finishedRun(work, 'j1-1-aaaaaa', old);
    const recorded = finishedRun(work, 'j2-1-bbbbbb', old);
    const parked = finishedRun(work, 'j3-1-cccccc', old);
    // j3's attempt ran on the member and finished...
    const j3 = fenceToken('j3', 1, 'w2');
    await registry.acquireFence(member.id, j3, 30_000);
    expect(await registry.writeRun(member.id, j3, { jobId: 'j3', attempt: 1, workerId: 'w2', runDir: parked })).toBe('ok');
    await registry.releaseFence(member.id, j3);
    // ...then j2's attempt parked that run (its job takes the result from the directory) and has a
    // run record of its own (a finished run it has not settled yet) naming the other.
    const token = fenceToken('j2', 1, 'w1');
    await registry.acquireFence(member.id, token, 30_000);
    const leftover = await registry.getRun(member.id);
    if (!leftover) throw new Error('no run record');
    expect(await registry.parkRun(member.id, token, leftover)).toBe('ok');
    expect(await registry.writeRun(member.id, token, { jobId: 'j2', attempt: 1, workerId: 'w1', runDir: recorded })).toBe('ok');

    const r = await pruneRunDirs({ registry, transports, log, retentionMs: 7 * 86_400_000 });
    expect(r).toEqual({ members: 1, removed: 1 });
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(join(recorded, 'prompt'))).toBe(true);
    expect(existsSync(join(parked, 'prompt'))).toBe(true);
  });
});
