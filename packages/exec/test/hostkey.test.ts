import { type PrivateSshd, startSshd } from '@fleet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshTransport } from '../src/transport/ssh';
import { TransportError } from '../src/transport/types';

describe('SSH host keys (real sshd)', () => {
  let sshd: PrivateSshd;
  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd.stop();
  });
  const base = () => ({
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    privateKey: sshd.privateKey,
    backoff: { initialMs: 10, maxMs: 50, deadlineMs: 500 },
  });

  it('connects with the pinned key and reuses one connection for many commands', async () => {
    const t = new SshTransport({ ...base(), hostKeySha256: sshd.hostKeySha256 });
    for (let i = 0; i < 20; i++) expect((await t.exec(`echo ${i}`)).output).toBe(`${i}\n`);
    expect(t.connects).toBe(1);
    await t.close();
  });

  it('refuses an unknown key by default, and accepts-and-reports it only when told to', async () => {
    const refuse = new SshTransport(base());
    await expect(refuse.exec('true')).rejects.toMatchObject({ code: 'host_key_unknown' });
    let seen = '';
    const tofu = new SshTransport({ ...base(), unknownHostKey: 'accept', onHostKey: (fp) => (seen = fp) });
    expect((await tofu.exec('echo ok')).output).toBe('ok\n');
    expect(seen).toBe(sshd.hostKeySha256);
    await tofu.close();
  });

  it('refuses a changed host key with a clear error and does not retry it', async () => {
    const pinned = sshd.hostKeySha256;
    const rotated = await sshd.rotateHostKey();
    expect(rotated).not.toBe(pinned);
    const t = new SshTransport({ ...base(), hostKeySha256: pinned });
    const err = await t.exec('true').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).code).toBe('host_key_mismatch');
    expect((err as TransportError).message).toMatch(/changed: pinned SHA256:.* offered SHA256:/);
    expect((err as TransportError).transient).toBe(false);
  });

  it('reports bad credentials as auth, without retrying', async () => {
    const t = new SshTransport({ ...base(), unknownHostKey: 'accept', privateKey: undefined, password: 'wrong' });
    const started = Date.now();
    await expect(t.exec('true')).rejects.toMatchObject({ code: 'auth' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('control commands cannot spoof the end marker, and a broken control shell is reopened', async () => {
    const t = new SshTransport({ ...base(), unknownHostKey: 'accept' });
    const r = await t.exec(`printf '__FLEET_END_deadbeef:0\\nstill output\\n'`);
    expect(r.output).toBe('__FLEET_END_deadbeef:0\nstill output\n');
    sshd.dropConnections();
    await new Promise((res) => setTimeout(res, 100));
    expect((await t.exec('echo back')).output).toBe('back\n');
    expect(t.connects).toBe(2);
    await t.close();
  });
});
