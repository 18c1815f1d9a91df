import { Cluster, Redis, type RedisOptions } from 'ioredis';

/** One Redis server or a Redis Cluster: everything here works on both. */
export type RedisClient = Redis | Cluster;

const CLUSTER_SCHEME = 'redis+cluster://';

/**
 * `redis://…` for one server; `redis+cluster://host:port,host:port` for a Redis Cluster (any of its
 * nodes: the rest are discovered). Options apply to every node's connection.
 */
export function connectRedis(url: string, opts: RedisOptions = {}): RedisClient {
  if (!url.startsWith(CLUSTER_SCHEME)) return new Redis(url, opts);
  const seeds = url
    .slice(CLUSTER_SCHEME.length)
    .replace(/\/.*$/, '')
    .split(',')
    .filter(Boolean)
    .map((hp) => {
      const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hp);
      if (!m) throw new Error(`invalid Redis Cluster node ${JSON.stringify(hp)} in ${url}`);
      return { host: (m[1] ?? '').replace(/^\[|\]$/g, ''), port: Number(m[2] ?? 6379) };
    });
  if (seeds.length === 0) throw new Error(`no Redis Cluster node in ${url}`);
  return new Cluster(seeds, { redisOptions: opts });
}

/**
 * On a cluster, every key one script or MULTI touches must be in one slot: the key prefix must
 * carry a hash tag (`{fleet}`), which puts every key of ours and of our BullMQ queues in its slot.
 */
export function assertPrefixFits(redis: RedisClient, prefix: string): void {
  if (redis.isCluster && !/\{[^{}]+\}/.test(prefix))
    throw new Error(`on a Redis Cluster the key prefix needs a hash tag: FLEET_PREFIX={${prefix}} (not ${prefix})`);
}
