import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports';
import { stopChild } from './procs';
import { tempDir } from './tmp';

const run = promisify(execFile);

/** What a test does to a running cluster, from any process: it needs only the nodes' ports. */
export interface ClusterOps {
  /** The port of the live master that serves `key`'s slot. */
  masterOf(key: string): Promise<number>;
  /** SIGKILLs one node (a master dies); the cluster promotes its replica by itself. */
  kill(port: number): Promise<void>;
  /** Until every live node reports `cluster_state:ok` and `key`'s slot has a live master. */
  waitHealthy(key?: string, timeoutMs?: number): Promise<void>;
}

export interface PrivateCluster extends ClusterOps {
  /** `redis+cluster://127.0.0.1:<port>,…` for connectRedis. */
  url: string;
  ports: number[];
  stop(): Promise<void>;
}

const cli = (port: number, ...args: string[]) => run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 30_000 });

export function attachCluster(ports: readonly number[]): ClusterOps {
  const dead = new Set<number>();
  const live = () => ports.filter((p) => !dead.has(p));
  const ops: ClusterOps = {
    async masterOf(key) {
      const at = live()[0] ?? 0;
      const slot = Number((await cli(at, 'CLUSTER', 'KEYSLOT', key)).stdout.trim());
      // CLUSTER NODES: `<id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <link> <slot ranges…>`
      for (const line of (await cli(at, 'CLUSTER', 'NODES')).stdout.split('\n')) {
        const f = line.split(' ');
        if (!f[2]?.includes('master') || f[2].includes('fail')) continue;
        for (const range of f.slice(8)) {
          const [a, b = a] = range.split('-').map(Number);
          if (a !== undefined && b !== undefined && slot >= a && slot <= b) return Number(f[1]?.split(':')[1]?.split('@')[0]);
        }
      }
      throw new Error(`no live master for slot ${slot}`);
    },
    async kill(port) {
      const pid = Number(/process_id:(\d+)/.exec((await cli(port, 'INFO', 'server')).stdout)?.[1]);
      if (!pid) throw new Error(`no redis-server on ${port}`);
      dead.add(port);
      process.kill(pid, 'SIGKILL');
      await waitFor(async () => (await cli(port, 'PING').catch(() => ({ stdout: '' }))).stdout.trim() !== 'PONG');
    },
    async waitHealthy(key = 'x', timeoutMs = 30_000) {
      await waitFor(async () => {
        for (const p of live()) if (!(await cli(p, 'CLUSTER', 'INFO')).stdout.includes('cluster_state:ok')) return false;
        return live().includes(await ops.masterOf(key).catch(() => -1));
      }, timeoutMs);
    },
  };
  return ops;
}

/**
 * A real Redis Cluster on loopback: `masters` masters with one replica each, started with
 * `--cluster-enabled yes` and joined by `redis-cli --cluster create`.
 */
export async function startCluster(masters = 3): Promise<PrivateCluster> {
  const dir = tempDir('fleet-cluster-');
  const ports: number[] = [];
  for (let i = 0; i < masters * 2; i++) ports.push(await freePort());
  const nodes: ChildProcess[] = ports.map((port) =>
    spawn(
      'redis-server',
      [
        ...['--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'no'],
        ...['--cluster-enabled', 'yes', '--cluster-config-file', join(dir.path, `nodes-${port}.conf`), '--cluster-node-timeout', '2000'],
        ...['--dir', dir.path, '--dbfilename', `dump-${port}.rdb`, '--save', '', '--appendonly', 'no'],
        // A replica's first sync at once (the default waits 5 s for more replicas to share it).
        ...['--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0'],
      ],
      { stdio: 'ignore' },
    ),
  );
  try {
    for (const port of ports) await waitFor(async () => (await cli(port, 'PING').catch(() => ({ stdout: '' }))).stdout.trim() === 'PONG');
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], {
      timeout: 60_000,
    });
    const ops = attachCluster(ports);
    await ops.waitHealthy();
    // Until every replica holds its master's data: only a synced replica can take over.
    await waitFor(async () => {
      for (const p of ports) {
        const r = (await cli(p, 'INFO', 'replication')).stdout;
        if (r.includes('role:slave') && !r.includes('master_link_status:up')) return false;
      }
      return true;
    });
    return {
      ...ops,
      url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`,
      ports,
      async stop() {
        await Promise.all(nodes.map((n) => stopChild(n)));
        dir.remove();
      },
    };
  } catch (err) {
    await Promise.all(nodes.map((n) => stopChild(n)));
    dir.remove();
    throw err;
  }
}

async function waitFor(ok: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await ok().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error('redis cluster did not become ready');
    await new Promise((r) => setTimeout(r, 100));
  }
}
