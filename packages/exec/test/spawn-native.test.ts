import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { procStat, tempDir, waitFor } from '@fleet/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { getOsCommands } from '../src/os/index';
import { buildSpawnHelper, nativeRunRequest } from '../src/os/linux-spawn-native';
import { parseExitRecord, parseRunRecord } from '../src/os/markers';
import { LocalSpawner } from '../src/transport/local-spawner';
import { prepareRunDir } from './helpers/run-dir';

/**
 * The compiled spawn helper (os/linux-spawn-helper.c): built once per source, only where it can be
 * trusted, the shell helper otherwise; requests are NUL-separated fields that no shell ever reads;
 * what it starts gets default signal handling. (The behaviour it shares with the shell helper is in
 * spawner.test.ts, run against both.)
 */
describe('native spawn helper', () => {
  const dir = tempDir('fleet-native-');
  afterAll(() => dir.remove());

  it('builds once per source into its folder; without a compiler, or in a folder others can write, there is none', async () => {
    const build = join(dir.path, 'build');
    const exe = await buildSpawnHelper({ dir: build, cc: 'cc' });
    expect(exe).toMatch(/fleet-spawn-[0-9a-f]{16}$/);
    const mtime = statSync(exe as string).mtimeMs;
    // Built already: not rebuilt (a missing compiler no longer matters).
    expect(await buildSpawnHelper({ dir: build, cc: join(dir.path, 'no-such-cc') })).toBe(exe);
    expect(statSync(exe as string).mtimeMs).toBe(mtime);
    await expect(buildSpawnHelper({ dir: join(dir.path, 'b2'), cc: join(dir.path, 'no-such-cc') })).rejects.toThrow();
    const open = join(dir.path, 'b3');
    mkdirSync(open);
    chmodSync(open, 0o777);
    expect(await buildSpawnHelper({ dir: open, cc: 'cc' })).toBeUndefined();
  });

  it('a malformed request stops the helper before it starts anything', async () => {
    const exe = await buildSpawnHelper({ dir: join(dir.path, 'build'), cc: 'cc' });
    const canary = join(dir.path, 'canary');
    const h = spawn(exe as string, [], { stdio: ['pipe', 'pipe', 'ignore'] });
    let out = '';
    h.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    const code = new Promise<number | null>((r) => h.on('exit', r));
    // A bad id, then a well-formed request that must never run.
    h.stdin.on('error', () => {}); // it may be gone before all of it is written
    h.stdin.end(`start\0x1\0${dir.path}\0-\x001\0touch\0start\x002\0${dir.path}\0-\x002\0touch\0${canary}\0`);
    expect(await code).toBe(1);
    expect(out).toBe('FLEET_HELPER:ready\n');
    expect(existsSync(canary)).toBe(false);
    expect(() => nativeRunRequest(1, dir.path, dir.path, ['sh', 'a\0b'])).toThrow(/NUL/);
  });

  it('a compiled helper that cannot start gives way to the script, and no start is lost meanwhile', async () => {
    const os = getOsCommands('linux');
    const native = os.nativeSpawnHelper;
    if (!native) throw new Error('linux has a native helper');
    const spawner = new LocalSpawner({ ...os, nativeSpawnHelper: { ...native, executable: async () => '/bin/false' } });
    try {
      expect('pid' in (await spawner.start(['true'], dir.path))).toBe(true); // started directly
      expect('pid' in (await spawner.start(['true'], dir.path))).toBe(true);
      expect(spawner.helperKind).toBe('script');
    } finally {
      spawner.close();
    }
  });

  it('a run gets default signal handling and its exact argv, from hostile paths', async () => {
    const spawner = new LocalSpawner(getOsCommands('linux'));
    try {
      const work = join(dir.path, `w 'q' "d" $(x) \n nl`);
      const { runDir, record } = prepareRunDir(work, 'ignored');
      const args = ["it's", '', '$(touch x)', 'a\nb'];
      const r = await spawner.startRun(
        { runDir, argv: ['sh', '-c', 'grep -E "^Sig(Ign|Blk)" /proc/$$/status; printf "[%s]" "$@"; exit 5', 'sh', ...args] },
        work,
      );
      expect(spawner.helperKind).toBe('native');
      if (!('pid' in r)) throw new Error('not started');
      await waitFor(() => parseExitRecord(record()) !== undefined, { what: 'exit code' });
      expect(parseExitRecord(record())).toBe('5');
      expect(parseRunRecord(record(), runDir)?.waiter?.pid).toBe(r.pid);
      expect(readFileSync(join(runDir, 'out'), 'utf8')).toBe(
        `SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n${args.map((a) => `[${a}]`).join('')}`,
      );
      expect(existsSync(join(work, 'x'))).toBe(false);
      await waitFor(() => procStat(r.pid) === undefined, { what: 'the waiter gone' });
    } finally {
      spawner.close();
    }
  });
});
