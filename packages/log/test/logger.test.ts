import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/index';

describe('log redaction', () => {
  it('never prints keys, passphrases, passwords, tokens or auth headers, at any depth', () => {
    let out = '';
    const sink = new Writable({
      write(chunk, _enc, cb) {
        out += chunk.toString();
        cb();
      },
    });
    const log = createLogger('info', {}, sink);
    log.info(
      {
        privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----abc',
        member: { password: 'hunter2', passphrase: 'pp-secret', secret: { x: 1 } },
        apiToken: 'tok-123',
      },
      'connecting',
    );
    log.child({ memberId: 'm1' }).warn({ req: { headers: { authorization: 'Bearer tok-456', cookie: 'fleet_token=tok-789' } } }, 'request');
    expect(out).toContain('connecting');
    expect(out).toContain('"memberId":"m1"');
    for (const secret of ['BEGIN OPENSSH', 'hunter2', 'pp-secret', 'tok-123', 'tok-456', 'tok-789']) expect(out).not.toContain(secret);
    expect(out.match(/\[redacted\]/g)?.length).toBeGreaterThanOrEqual(6);
  });
});
