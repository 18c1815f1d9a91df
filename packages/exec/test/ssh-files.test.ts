import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type PrivateSshd, startSshd, tempDir } from '@fleet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getOsCommands } from '../src/os/index';
import { sshTransport } from './helpers/ssh';

/** Files on a member over SSH: SFTP where the server has it, else through the control shell. */
describe('SSH file writes (real sshd with and without an SFTP subsystem)', () => {
  let plain: PrivateSshd;
  let noSftp: PrivateSshd;
  const dir = tempDir('fleet-ssh-files-');
  const folder = join(dir.path, `it's $(touch pwned) "w"`);
  beforeAll(async () => {
    [plain, noSftp] = await Promise.all([startSshd(), startSshd({ sftp: false })]);
    mkdirSync(folder, { recursive: true });
  });
  afterAll(async () => {
    await Promise.all([plain.stop(), noSftp.stop()]);
    dir.remove();
  });
  const transport = (sshd: PrivateSshd, os = getOsCommands('linux')) =>
    sshTransport(sshd, { backoff: { initialMs: 10, maxMs: 50, deadlineMs: 500 }, os });
  // Every byte value, a prompt's quotes, newlines and `$()`, and more than one pipe buffer.
  const content = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.from(`'"$(whoami)\`\n\\`.repeat(30_000))]);

  for (const [name, sshd] of [
    ['with SFTP', () => plain],
    ['without SFTP (through the control shell)', () => noSftp],
  ] as const) {
    it(`${name}: the exact bytes, the mode, nothing left behind, an existing file replaced whole`, async () => {
      const t = transport(sshd());
      const path = join(folder, `prompt-${name.length}`);
      writeFileSync(path, 'old content');
      await t.writeFile(path, content, 0o600);
      expect(readFileSync(path).equals(content)).toBe(true);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      await t.writeFile(path, 'second', 0o640);
      expect(readFileSync(path, 'utf8')).toBe('second');
      expect(statSync(path).mode & 0o777).toBe(0o640);
      expect(readdirSync(folder).filter((f) => f.includes('.tmp-'))).toEqual([]);
      expect(readdirSync(dir.path)).not.toContain('pwned');
      expect(t.connects).toBe(1);
      await t.close();
    });
  }

  it('without SFTP and without a shell fallback for the OS: a permanent error at once, with the fix', async () => {
    const t = transport(noSftp, getOsCommands('windows'));
    await expect(t.writeFile('C:\\w\\prompt', 'x', 0o600)).rejects.toMatchObject({
      code: 'no_sftp',
      transient: false,
      message: expect.stringMatching(/has no SFTP subsystem.*enable "Subsystem sftp"/),
    });
    expect(t.connects).toBe(1); // refused as it is, not retried
    await t.close();
  });

  it('a write into a folder that does not exist fails with the path in the message, over the shell too', async () => {
    const t = transport(noSftp);
    await expect(t.writeFile(join(folder, 'missing', 'prompt'), 'x', 0o600)).rejects.toThrow(/cannot write .*missing\/prompt/);
    await t.close();
  });
});
