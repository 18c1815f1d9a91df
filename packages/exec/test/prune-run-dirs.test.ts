import { existsSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '@fleet/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { pruneRunDirs } from '../src/run/control';
import { LocalTransport } from '../src/transport/local';

const DAY_S = 86_400;

/** A run directory with the given record (undefined: none), every file in it last changed `ageS` ago. */
function runDir(work: string, name: string, record: string | undefined, ageS: number): string {
  const d = join(work, '.fleet', 'runs', name);
  mkdirSync(d, { recursive: true, mode: 0o700 });
  writeFileSync(join(d, 'prompt'), 'secret prompt');
  writeFileSync(join(d, 'out'), 'output\n');
  if (record !== undefined) writeFileSync(join(d, 'pid'), record);
  const t = Date.now() / 1000 - ageS;
  for (const f of readdirSync(d)) utimesSync(join(d, f), t, t);
  utimesSync(d, t, t);
  return d;
}

describe('pruneRunDirs (the sweeper deletes finished run directories after their retention)', () => {
  const dir = tempDir('fleet-prune-');
  const t = new LocalTransport();
  afterAll(async () => {
    await t.close();
    dir.remove();
  });

  it('deletes finished, claimed and record-less runs older than the retention; keeps running, recent and named ones', async () => {
    // A work folder whose name a shell would misread: every path reaches the script quoted.
    const work = join(dir.path, `it's $(touch x) "w"`);
    mkdirSync(work);
    const old = 8 * DAY_S;
    const finished = runDir(work, 'j1-1-aaaaaa', '100:boot:5\n0\n', old);
    const failed = runDir(work, 'j2-1-bbbbbb', '101:boot:6\n3\n', old);
    const claimed = runDir(work, 'j3-1-cccccc', 'abandoned\n', old);
    const noRecord = runDir(work, 'j4-1-dddddd', undefined, old);
    const running = runDir(work, 'j5-1-eeeeee', '102:boot:7\n', old);
    const recent = runDir(work, 'j6-1-ffffff', '103:boot:8\n0\n', 60);
    const named = runDir(work, 'j7-1-000000', '104:boot:9\n0\n', old);
    // Finished long ago, but its output changed recently (an agent's daemon kept writing): not old.
    const touched = runDir(work, 'j8-1-111111', '105:boot:10\n0\n', old);
    writeFileSync(join(touched, 'out'), 'late line\n');

    const n = await pruneRunDirs(t, work, 7 * DAY_S * 1000, [named]);
    expect(n).toBe(4);
    for (const d of [finished, failed, claimed, noRecord]) expect(existsSync(d)).toBe(false);
    for (const d of [running, recent, named, touched]) expect(existsSync(join(d, 'prompt'))).toBe(true);
    expect(existsSync(join(dir.path, 'x'))).toBe(false);
    expect(existsSync(join(work, 'x'))).toBe(false);
    expect(statSync(work).isDirectory()).toBe(true);
  });

  it('a work folder without runs is no error, and a second pass deletes nothing more', async () => {
    const work = join(dir.path, 'empty');
    mkdirSync(work);
    expect(await pruneRunDirs(t, work, 0, [])).toBe(0);
    runDir(work, 'j1-1-aaaaaa', '100:boot:5\n0\n', 10);
    expect(await pruneRunDirs(t, work, 0, [])).toBe(1);
    expect(await pruneRunDirs(t, work, 0, [])).toBe(0);
  });
});
