import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type PrivateSshd, startSshd } from '@fleet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotSentError } from '../src/transport/types';
import { sshTransport } from './helpers/ssh';

/**
 * The control shell carries every run start: a new one (its login slow) takes no command before it
 * has answered once, so a command whose signal fires while it waits is never sent.
 */
describe('control shell behind a slow login (real sshd)', () => {
  let sshd: PrivateSshd;
  beforeAll(async () => {
    sshd = await startSshd({ loginDelayS: 2 });
  });
  afterAll(async () => {
    await sshd.stop();
  });

  it('a command aborted while the new shell logs in never runs; the one queued before it does', async () => {
    const t = sshTransport(sshd);
    const never = join(sshd.dir, 'never-ran');
    try {
      const t0 = performance.now();
      const first = t.exec('echo first');
      const ac = new AbortController();
      const second = t.exec(`touch '${never}'`, { signal: ac.signal });
      setTimeout(() => ac.abort(), 300);
      await expect(second).rejects.toBeInstanceOf(NotSentError);
      expect((await first).output).toBe('first\n');
      expect(performance.now() - t0).toBeGreaterThan(1_500); // it did wait for the slow login
      expect((await t.exec('echo after')).output).toBe('after\n');
      expect(existsSync(never)).toBe(false);
    } finally {
      await t.close();
    }
  }, 30_000);
});

/** Each command runs in a subshell of the control shell: what one does to its shell is gone for the next. */
describe('control shell commands (real sshd)', () => {
  let sshd: PrivateSshd;
  beforeAll(async () => {
    sshd = await startSshd({ plainHome: true });
  });
  afterAll(async () => {
    await sshd.stop();
  });

  it("a command's exit, directory, variables and stdin reads do not reach the next one; stderr is in its output", async () => {
    const t = sshTransport(sshd);
    try {
      const home = (await t.exec('pwd')).output;
      expect(await t.exec('cd /; X=set; set -- a b; trap "echo trapped" EXIT; exit 3')).toEqual({ output: 'trapped\n', code: 3 });
      expect((await t.exec('pwd; echo "$X" $#')).output).toBe(`${home} 0\n`);
      // stdin is /dev/null: a command reading it cannot eat the commands that follow.
      expect(await t.exec('cat; read -r l; echo "read $?"')).toEqual({ output: 'read 1\n', code: 0 });
      expect(await t.exec('echo out; echo err >&2')).toEqual({ output: 'out\nerr\n', code: 0 });
      expect((await t.exec('exec echo replaced')).output).toBe('replaced\n');
      expect((await t.exec('echo still')).output).toBe('still\n');
    } finally {
      await t.close();
    }
  }, 30_000);
});
