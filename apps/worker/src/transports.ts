import { LocalTransport, SshPool, type Transport, getOsCommands } from '@fleet/exec';
import type { Member, Registry } from '@fleet/registry';
import type { Logger } from 'pino';
import { readFile } from 'node:fs/promises';

/** Member → transport: one local transport, one pooled SSH connection per member. */
export class Transports {
  private readonly local = new LocalTransport();
  private readonly pool = new SshPool();

  constructor(
    private readonly registry: Registry,
    private readonly unknownHostKey: 'pin' | 'reject',
    private readonly log: Logger,
  ) {}

  async get(member: Member): Promise<Transport> {
    if (member.transport === 'local') return this.local;
    const secret = await this.registry.getSecret(member.id);
    const privateKey = secret.privateKey ?? (member.privateKeyPath ? await readFile(member.privateKeyPath, 'utf8') : undefined);
    return this.pool.get(member.id, {
      host: member.host ?? '',
      port: member.port,
      username: member.username ?? '',
      ...(privateKey !== undefined ? { privateKey } : {}),
      ...(secret.passphrase !== undefined ? { passphrase: secret.passphrase } : {}),
      ...(secret.password !== undefined ? { password: secret.password } : {}),
      ...(member.hostKeySha256 ? { hostKeySha256: member.hostKeySha256 } : {}),
      unknownHostKey: this.unknownHostKey === 'pin' ? 'accept' : 'reject',
      onHostKey: (fp) => {
        void this.registry.pinHostKey(member.id, fp).then(
          (pinned) => {
            if (pinned) this.log.warn({ memberId: member.id, hostKeySha256: fp }, 'pinned host key on first use');
          },
          (err: Error) =>
            this.log.warn({ memberId: member.id, err: err.message }, 'cannot pin the host key (will retry at the next connection)'),
        );
      },
      os: getOsCommands(member.os),
    });
  }

  async release(memberId: string): Promise<void> {
    await this.pool.release(memberId);
  }

  async close(): Promise<void> {
    await this.pool.closeAll();
  }
}
