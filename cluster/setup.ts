import { type PrivateCluster, startCluster } from '@fleet/testkit';

/**
 * The Redis Cluster suite's one cluster (3 masters, 3 replicas on loopback), for every file in it:
 * the worker harness connects to FLEET_TEST_REDIS_URL and, on a cluster, prefixes its keys with a hash tag.
 */
let cluster: PrivateCluster | undefined;

export async function setup(): Promise<void> {
  cluster = await startCluster(3);
  process.env.FLEET_TEST_REDIS_URL = cluster.url;
  process.env.FLEET_TEST_CLUSTER_PORTS = cluster.ports.join(',');
}

export async function teardown(): Promise<void> {
  await cluster?.stop();
}
