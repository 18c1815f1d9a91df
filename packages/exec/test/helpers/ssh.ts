import type { PrivateSshd } from '@fleet/testkit';
import { type SshOptions, SshTransport } from '../../src/transport/ssh';

/** A transport to a private sshd, logged in with its key and its host key pinned. */
export function sshTransport(sshd: PrivateSshd, o: Partial<SshOptions> = {}): SshTransport {
  return new SshTransport({
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    privateKey: sshd.privateKey,
    hostKeySha256: sshd.hostKeySha256,
    ...o,
  });
}
