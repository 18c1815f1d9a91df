import { SshTransport, type SshOptions } from './ssh';

/** One SshTransport (one TCP connection) per member, reused by every run and control command. */
export class SshPool {
  private readonly byMember = new Map<string, { key: string; transport: SshTransport }>();

  get(memberId: string, opts: SshOptions): SshTransport {
    const key = JSON.stringify([opts.host, opts.port, opts.username, opts.hostKeySha256 ?? '']);
    const cur = this.byMember.get(memberId);
    if (cur && cur.key === key) return cur.transport;
    void cur?.transport.close();
    const transport = new SshTransport(opts);
    this.byMember.set(memberId, { key, transport });
    return transport;
  }

  async release(memberId: string): Promise<void> {
    const cur = this.byMember.get(memberId);
    this.byMember.delete(memberId);
    await cur?.transport.close();
  }

  async closeAll(): Promise<void> {
    const all = [...this.byMember.values()];
    this.byMember.clear();
    await Promise.all(all.map((e) => e.transport.close()));
  }

  get size(): number {
    return this.byMember.size;
  }
}
