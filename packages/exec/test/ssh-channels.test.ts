import { type PrivateSshd, startSshd } from '@fleet/testkit';
import type { Client } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sshTransport } from './helpers/ssh';

/** A pooled connection that is up but refuses every channel is replaced, not reused forever. */
describe('SSH connection that refuses channels (real sshd, its session limit held)', () => {
  let sshd: PrivateSshd;
  beforeAll(async () => {
    sshd = await startSshd({ maxSessions: 3 });
  });
  afterAll(async () => {
    await sshd.stop();
  });

  it('two refusals in a row keep the connection; the third replaces it, and the next channel opens on a new one', async () => {
    const t = sshTransport(sshd, { commandTimeoutMs: 5_000 });
    try {
      expect((await t.exec('echo up')).output).toBe('up\n'); // the control shell: one session
      // Sessions the server keeps open (as channels it never closed would): the limit is reached.
      const client = (t as unknown as { client: Client }).client;
      for (let i = 0; i < 2; i++) await new Promise<void>((ok, no) => client.exec('sleep 600', (err) => (err ? no(err) : ok())));

      for (let i = 1; i <= 2; i++) {
        await expect(t.stream('echo never')).rejects.toMatchObject({ code: 'dropped', message: expect.stringMatching(/open failure/i) });
        expect(t.connects).toBe(1);
      }
      expect((await t.exec('echo still')).output).toBe('still\n'); // the same connection still serves its shell
      await expect(t.stream('echo never')).rejects.toMatchObject({ code: 'dropped' });
      expect(t.replaced).toBe(1);

      const ch = await t.stream('echo fresh');
      const out: Buffer[] = [];
      for await (const b of ch.output) out.push(b);
      expect(Buffer.concat(out).toString()).toBe('fresh\n');
      expect(await ch.ended).toMatchObject({ kind: 'exit', code: 0 });
      expect(t.connects).toBe(2);
    } finally {
      await t.close();
    }
  });
});
