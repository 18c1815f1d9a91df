import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { freePort } from './ports';
import { stopChild } from './procs';
import { tempDir } from './tmp';

export interface PrivateRedis {
  port: number;
  url: string;
  dir: string;
  /** Stop (SIGTERM, lets AOF flush) and start again on the same port and data dir. */
  restart(opts?: { downMs?: number }): Promise<void>;
  /** Hard kill (no flush). */
  crash(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A private redis-server on a free loopback port, optionally with AOF (appendfsync always). */
export async function startRedis(opts: { appendonly?: boolean } = {}): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = tempDir('fleet-redis-');
  let child: ChildProcess | undefined;
  const halt = async () => {
    if (child) await stopChild(child);
    child = undefined;
  };
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir.path,
    '--save',
    '',
    '--daemonize',
    'no',
    '--protected-mode',
    'no',
  ];
  if (opts.appendonly) args.push('--appendonly', 'yes', '--appendfsync', 'always');
  const r: PrivateRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir: dir.path,
    async start() {
      child = spawn('redis-server', args, { stdio: 'ignore' });
      await waitPing(port);
    },
    async stop() {
      await halt();
      dir.remove();
    },
    async crash() {
      if (child) {
        const c = child;
        await new Promise<void>((res) => {
          c.once('exit', () => res());
          c.kill('SIGKILL');
        });
      }
      child = undefined;
    },
    async restart(o = {}) {
      await halt();
      if (o.downMs) await new Promise((res) => setTimeout(res, o.downMs));
      await r.start();
    },
  };
  await r.start();
  return r;
}

async function waitPing(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.on('connect', () => s.write('PING\r\n'));
      s.on('data', (d) => {
        s.destroy();
        resolve(d.toString().startsWith('+PONG'));
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`redis on ${port} did not start`);
    await new Promise((res) => setTimeout(res, 30));
  }
}

interface KeyStore {
  keys(p: string): Promise<string[]>;
  del(...k: string[]): Promise<number>;
}

/** Deletes every key under a prefix (test and bench cleanup), in batches; on a cluster, on each master. */
export async function deleteKeys(redis: KeyStore & { nodes?: (role: 'master') => KeyStore[] }, prefix: string): Promise<void> {
  if (typeof redis.nodes === 'function') {
    // One key per DEL: on a cluster node, one DEL may not span slots.
    for (const node of redis.nodes('master')) await Promise.all((await node.keys(`${prefix}*`)).map((k) => node.del(k)));
    return;
  }
  const keys = await redis.keys(`${prefix}*`);
  for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
}
