import type { RedisClient } from './connect';
import { script } from './commands/index';
import type { Keys } from './keys';

/** How often a worker says it is alive, and how long after its last word it still counts as running. */
export const WORKER_HEARTBEAT_MS = 5_000;
export const WORKER_LIVE_MS = 3 * WORKER_HEARTBEAT_MS;
/** A worker silent this long is dropped from the set. */
const FORGET_MS = 3_600_000;

/**
 * Which workers run, by their heartbeats in one ZSET (times from the Redis server's clock): the API
 * tells "no worker" from "a busy worker" by this, not by how long a request waits.
 */
export class WorkerPresence {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  /** This worker is alive (now, by Redis's clock). */
  async beat(workerId: string): Promise<void> {
    await script(this.redis, 'beatWorker')(this.keys.workers(), workerId, FORGET_MS);
  }

  /** This worker stops: it no longer counts, without waiting for its heartbeat to age. */
  async leave(workerId: string): Promise<void> {
    await this.redis.zrem(this.keys.workers(), workerId);
  }

  /** Workers heard from within WORKER_LIVE_MS. */
  async live(): Promise<number> {
    return Number(await script(this.redis, 'liveWorkers')(this.keys.workers(), WORKER_LIVE_MS));
  }
}
