import { randomUUID } from 'node:crypto';
import type { MemberCheckReport } from '@fleet/core';
import type { RedisClient } from './connect';
import { z } from 'zod';
import type { Keys } from './keys';
import { WorkerPresence } from './workers';

/** How long a report is kept for its requester, and how long a claim holds. */
const REPORT_TTL_S = 300;
const CLAIM_TTL_S = 120;
/** How often an unclaimed request is published again (a subscriber that was reconnecting missed it). */
const REPUBLISH_MS = 3_000;

export const CheckRequest = z.object({ id: z.string().uuid(), memberId: z.string().regex(/^m[0-9a-f]{12}$/) }).strict();
export type CheckRequest = z.infer<typeof CheckRequest>;

/**
 * Member checks run in a worker (it holds the keys and the links); the API asks on pub/sub and reads
 * the report from Redis. Any worker may answer; the first to claim a request runs it.
 */
export class MemberChecks {
  private readonly workers: WorkerPresence;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {
    this.workers = new WorkerPresence(redis, keys);
  }

  /**
   * Asks the workers to check a member and waits for the report: `no_worker` while no worker's
   * heartbeat is recent and none has claimed the request. A busy worker is not an absent one: how long
   * the claim takes decides nothing. (Not PUBLISH's count of listeners: on a Redis Cluster that counts
   * one node's.)
   */
  async request(memberId: string, timeoutMs: number): Promise<MemberCheckReport | 'no_worker' | 'timeout'> {
    if ((await this.workers.live()) === 0) return 'no_worker';
    const req: CheckRequest = { id: randomUUID(), memberId };
    const message = JSON.stringify(req);
    await this.redis.publish(this.keys.checkChannel(), message);
    const t0 = Date.now();
    let published = t0;
    while (Date.now() - t0 < timeoutMs) {
      const [raw, claimed] = await this.redis.mget(this.keys.check(req.id), this.keys.checkClaim(req.id));
      if (raw) return JSON.parse(raw) as MemberCheckReport;
      if (!claimed) {
        if ((await this.workers.live()) === 0) return 'no_worker';
        if (Date.now() - published >= REPUBLISH_MS) {
          await this.redis.publish(this.keys.checkChannel(), message);
          published = Date.now();
        }
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    return 'timeout';
  }

  /** A worker takes a request: true for exactly one of them. */
  async claim(id: string): Promise<boolean> {
    return (await this.redis.set(this.keys.checkClaim(id), '1', 'EX', CLAIM_TTL_S, 'NX')) === 'OK';
  }

  /** The claiming worker's report, for the requester to read. */
  async saveReport(id: string, report: MemberCheckReport): Promise<void> {
    await this.redis.set(this.keys.check(id), JSON.stringify(report), 'EX', REPORT_TTL_S);
  }
}
