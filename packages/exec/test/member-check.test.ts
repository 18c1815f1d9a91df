import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckLine } from '@fleet/core';
import { FAKE_AGENT, type PrivateSshd, startSshd, tempDir } from '@fleet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MemberCheckInput, checkMember } from '../src/member-check';
import { ROOT_BYPASS_FIX } from '../src/providers/classify';
import { LocalTransport } from '../src/transport/local';
import { type SshOptions, SshTransport } from '../src/transport/ssh';

/** `fleet members check` against a real sshd (with and without SFTP) and this machine. */
describe('member check', () => {
  let sshd: PrivateSshd;
  let noSftp: PrivateSshd;
  const dir = tempDir('fleet-check-');
  // A work folder whose name a shell would run if it were not quoted.
  const work = join(dir.path, `it's $(touch pwned) "w"`);
  const transports: SshTransport[] = [];
  beforeAll(async () => {
    [sshd, noSftp] = await Promise.all([startSshd(), startSshd({ sftp: false })]);
    mkdirSync(work, { recursive: true });
  });
  afterAll(async () => {
    await Promise.all(transports.map((t) => t.close()));
    await Promise.all([sshd.stop(), noSftp.stop()]);
    dir.remove();
  });
  const ssh = (s: PrivateSshd, o: Partial<SshOptions> = {}, pinned = true) => {
    const t = new SshTransport({
      host: s.host,
      port: s.port,
      username: s.username,
      privateKey: s.privateKey,
      ...(pinned ? { hostKeySha256: s.hostKeySha256 } : {}),
      backoff: { initialMs: 10, maxMs: 50, deadlineMs: 300 },
      ...o,
    });
    transports.push(t);
    return t;
  };
  const input = (t: MemberCheckInput['transport'], o: Partial<MemberCheckInput> = {}): MemberCheckInput => ({
    transport: t,
    where: 'test member',
    workFolder: work,
    provider: 'claude',
    agentBinary: FAKE_AGENT,
    permissionMode: 'acceptEdits',
    ...o,
  });
  const byName = (lines: CheckLine[]) => Object.fromEntries(lines.map((l) => [l.check, l]));
  const statuses = (lines: CheckLine[]) => Object.fromEntries(lines.map((l) => [l.check, l.status]));

  it('a member that has everything: every line ok, the agent version read, the probe file removed', async () => {
    const lines = await checkMember(
      input(ssh(sshd), {
        hostKey: { before: sshd.hostKeySha256, after: async () => sshd.hostKeySha256 },
        agentEnv: { ANTHROPIC_API_KEY: 'sk-secret-value' },
      }),
    );
    expect(statuses(lines)).toEqual({
      connect: 'ok',
      'host key': 'ok',
      files: 'ok',
      'work folder': 'ok',
      agent: 'ok',
      login: 'ok',
      permissions: 'ok',
    });
    const l = byName(lines);
    expect(l.files?.detail).toContain('SFTP');
    expect(l.agent?.detail).toMatch(/\d+\.\d+\.\d+ .*fake-agent\.cjs/);
    expect(l.login?.detail).toContain('$ANTHROPIC_API_KEY (agentEnv)');
    expect(JSON.stringify(lines)).not.toContain('sk-secret-value');
    expect(l.permissions?.detail).toContain('uid 0');
    expect(readdirSync(work)).toEqual([]);
    expect(existsSync(join(dir.path, 'pwned'))).toBe(false);
  });

  it('without SFTP: files go through the control shell, and the check says so', async () => {
    const l = byName(await checkMember(input(ssh(noSftp))));
    expect(l.files).toMatchObject({ status: 'ok', detail: expect.stringContaining('control shell') });
    expect(readdirSync(work)).toEqual([]);
  });

  it('claude with bypassPermissions as root: a fail with the fix; IS_SANDBOX=1 makes it ok', async () => {
    const t = ssh(sshd);
    const l = byName(await checkMember(input(t, { permissionMode: 'bypassPermissions' })));
    expect(l.permissions).toMatchObject({ status: 'fail', fix: ROOT_BYPASS_FIX });
    const sandbox = byName(await checkMember(input(t, { permissionMode: 'bypassPermissions', agentEnv: { IS_SANDBOX: '1' } })));
    expect(sandbox.permissions?.status).toBe('ok');
  });

  it('a missing work folder, a missing agent and no login: each its own line with its fix', async () => {
    const missing = join(dir.path, 'nope');
    const l = byName(await checkMember(input(ssh(sshd), { workFolder: missing, provider: 'gemini', agentBinary: 'fleet-no-such-agent' })));
    expect(l['work folder']).toMatchObject({ status: 'fail', fix: expect.stringContaining(`mkdir -p ${missing}`) });
    expect(l.files?.status).toBe('fail');
    expect(l.agent).toMatchObject({ status: 'fail', fix: expect.stringContaining('npm install -g @google/gemini-cli') });
    expect(l.login).toMatchObject({ status: 'warn', fix: expect.stringContaining('GEMINI_API_KEY') });
    expect(l.login?.detail).toContain('~/.gemini/oauth_creds.json');
  });

  it('host key: changed → connect and host key fail; not pinned → pinned on first use, a warn', async () => {
    const other = 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    const changed = byName(
      await checkMember(input(ssh(sshd, { hostKeySha256: other }), { hostKey: { before: other, after: async () => other } })),
    );
    expect(changed.connect?.status).toBe('fail');
    expect(changed['host key']).toMatchObject({ status: 'fail', detail: expect.stringContaining(sshd.hostKeySha256) });
    expect(changed.agent).toBeUndefined();

    let pinned: string | undefined;
    const t = ssh(sshd, { unknownHostKey: 'accept', onHostKey: (fp) => (pinned = fp) }, false);
    const fresh = byName(await checkMember(input(t, { hostKey: { before: undefined, after: async () => pinned } })));
    expect(fresh['host key']).toMatchObject({ status: 'warn', detail: `was not pinned; pinned on first use: ${sshd.hostKeySha256}` });
    expect(fresh.agent?.status).toBe('ok');
  });

  it('a rejected login and a closed port: connect fails at once, with what to fix', async () => {
    // The other server's client key: not in this one's authorized_keys.
    const auth = byName(await checkMember(input(ssh(sshd, { privateKey: noSftp.privateKey }))));
    expect(auth.connect).toMatchObject({ status: 'fail', detail: expect.stringMatching(/authentication .* failed — fix:/) });
    const closed = byName(await checkMember(input(ssh(sshd, { port: 1 }))));
    expect(closed.connect).toMatchObject({ status: 'fail', fix: expect.stringContaining('sshd runs') });
  });

  it('a local member: a login file under $HOME is found', async () => {
    const home = join(dir.path, 'home');
    mkdirSync(join(home, '.codex'), { recursive: true });
    writeFileSync(join(home, '.codex/auth.json'), '{}');
    const saved = process.env.HOME;
    process.env.HOME = home;
    const t = new LocalTransport();
    try {
      const l = byName(await checkMember(input(t, { provider: 'codex' })));
      expect(l.login).toMatchObject({ status: 'ok', detail: 'found ~/.codex/auth.json' });
      expect(l.files?.detail).toContain('local file system');
      expect(l['host key']).toBeUndefined();
    } finally {
      process.env.HOME = saved;
      await t.close();
    }
  });
});
