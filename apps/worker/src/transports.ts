import { type BackoffOptions, LocalTransport, SshPool, type SshOptions, SshTransport, type Transport, getOsCommands } from '@fleet/exec';
import type { Member, Registry } from '@fleet/registry';
import type { Logger } from 'pino';
import { readFile } from 'node:fs/promises';

const CHECK_BACKOFF: BackoffOptions = { initialMs: 200, maxMs: 1_000, deadlineMs: 3_000 };

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
    return this.pool.get(member.id, await this.sshOptions(member));
  }

  /**
   * A new link of its own, for a member check: it tests the member's settings as they are now, and
   * gives up on an unreachable host within seconds instead of a run's minute of backoff. Close it after.
   */
  async fresh(member: Member): Promise<Transport> {
    if (member.transport === 'local') return new LocalTransport();
    return new SshTransport({ ...(await this.sshOptions(member)), backoff: CHECK_BACKOFF });
  }

  private async sshOptions(member: Member): Promise<SshOptions> {
    const secret = await this.registry.getSecret(member.id);
    const privateKey = secret.privateKey ?? (member.privateKeyPath ? await readFile(member.privateKeyPath, 'utf8') : undefined);
    return {
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
    };
  }

  async release(memberId: string): Promise<void> {
    await this.pool.release(memberId);
  }

  async close(): Promise<void> {
    await this.pool.closeAll();
  }
}
