import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type PrivateSshd, startSshd, tempDir } from '@fleet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unix } from '../src/os/unix';
import type { SshTransport } from '../src/transport/ssh';
import { sshTransport } from './helpers/ssh';

/** prepare-run-dir.sh over a real sshd: a private run directory and the prompt written whole, byte for byte. */
describe('prepare-run-dir.sh (real sshd)', () => {
  let sshd: PrivateSshd;
  let t: SshTransport;
  const dir = tempDir('fleet-prepare-');
  // A work folder whose name a shell would misread: every path reaches the script quoted.
  const work = join(dir.path, `it's $(touch x) "w"`);
  const prompt = Buffer.concat([Buffer.from(`a 'hostile' "prompt" $(touch pwned) \`id\`\n\n`), Buffer.from([0, 255, 10])]);
  const prepare = async (runDir: string, p: Buffer = prompt) => (await t.exec(unix.prepareRunDirScript(work, runDir, p))).output.trim();

  beforeAll(async () => {
    sshd = await startSshd({ plainHome: true });
    t = sshTransport(sshd);
    mkdirSync(work);
  });
  afterAll(async () => {
    await t.close();
    await sshd.stop();
    dir.remove();
  });

  it('creates the run directory 0700 and the prompt 0600, its bytes exact', async () => {
    const runDir = unix.runDir(work, 'j1-1-aaaaaa');
    expect(await prepare(runDir)).toBe('FLEET_OK');
    expect(statSync(runDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(work, '.fleet')).mode & 0o777).toBe(0o700);
    expect(statSync(join(runDir, 'prompt')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(runDir, 'prompt')).equals(prompt)).toBe(true);
  });

  it('a run directory that is there already is made private; a step sent again writes the prompt whole', async () => {
    const runDir = unix.runDir(work, 'j2-1-bbbbbb');
    mkdirSync(runDir, { recursive: true });
    chmodSync(runDir, 0o755);
    // A half-written temporary file left by the same step before its link dropped.
    writeFileSync(join(runDir, 'prompt.tmp'), 'half', { mode: 0o600 });
    expect(await prepare(runDir)).toBe('FLEET_OK');
    expect(statSync(runDir).mode & 0o777).toBe(0o700);
    expect(readFileSync(join(runDir, 'prompt')).equals(prompt)).toBe(true);
    expect(await prepare(runDir, Buffer.from('second'))).toBe('FLEET_OK');
    expect(readFileSync(join(runDir, 'prompt'), 'utf8')).toBe('second');
    expect(statSync(join(runDir, 'prompt')).mode & 0o777).toBe(0o600);
  });

  it('refuses a run directory that holds a record, and a work folder that is not there', async () => {
    const runDir = unix.runDir(work, 'j3-1-cccccc');
    expect(await prepare(runDir)).toBe('FLEET_OK');
    writeFileSync(join(runDir, 'pid'), 'abandoned\n');
    expect(await prepare(runDir, Buffer.from('other'))).toBe('FLEET_ERR:rundir_used');
    expect(readFileSync(join(runDir, 'prompt')).equals(prompt)).toBe(true);
    const gone = join(dir.path, 'missing');
    expect((await t.exec(unix.prepareRunDirScript(gone, unix.runDir(gone, 'j4-1-dddddd'), prompt))).output.trim()).toBe(
      'FLEET_ERR:workfolder_missing',
    );
  });
});
