import { type PrivateSshd, startSshd } from '@fleet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fleet, startFleet } from './harness';

/** What a member's SSH server allows decides how a job reaches it, or why it fails at once. */
describe('SSH hosts: no SFTP, and hosts that refuse us', () => {
  let fleet: Fleet;
  let noSftp: PrivateSshd;
  beforeAll(async () => {
    fleet = await startFleet();
    noSftp = await startSshd({ sftp: false });
  });
  afterAll(async () => {
    await fleet.close();
    await noSftp.stop();
  });

  it('a server without an SFTP subsystem: the prompt goes through the control shell, the job runs once', async () => {
    const { member, state } = await fleet.addSshMember(noSftp, 'no-sftp');
    const w = await fleet.startWorker();
    const prompt = `@echo\nit's "quoted" $(whoami) \`id\`\n`;
    const job = await fleet.jobs.enqueue(member.id, { prompt });
    const done = await fleet.waitJob(job.id ?? '');
    expect(await done.getState()).toBe('completed');
    // The agent echoes what it read: the prompt arrived byte for byte through the shell.
    expect(done.returnvalue?.result).toBe(prompt);
    expect(done.returnvalue?.attempts).toBe(1);
    expect(state.started()).toBe(1);
    await w.stop();
  });

  it('a changed host key or a rejected login fails the job at once as member_config, with the fix, no attempt retried', async () => {
    const { member } = await fleet.addSshMember(noSftp, 'moved');
    await fleet.registry.updateMember(member.id, { hostKeySha256: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
    const wrongUser = await fleet.addSshMember(noSftp, 'wrong-user');
    await fleet.registry.updateMember(wrongUser.member.id, { username: 'nobody-here' });
    const w = await fleet.startWorker();
    const a = await fleet.jobs.enqueue(member.id, { prompt: '@lines 1', attempts: 3 });
    const b = await fleet.jobs.enqueue(wrongUser.member.id, { prompt: '@lines 1', attempts: 3 });
    const [ja, jb] = await Promise.all([fleet.waitJob(a.id ?? ''), fleet.waitJob(b.id ?? '')]);
    expect(await ja.getState()).toBe('failed');
    expect(ja.attemptsMade).toBe(1);
    expect(ja.failedReason).toMatch(/^\[member_config\] host key of .* changed.*fix: .*hostKeySha256/);
    expect(await jb.getState()).toBe('failed');
    expect(jb.attemptsMade).toBe(1);
    expect(jb.failedReason).toMatch(/^\[member_config\] authentication to nobody-here@.* failed — fix: /);
    await w.stop();
  });
});
