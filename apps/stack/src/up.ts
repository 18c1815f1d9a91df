import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { buildApi, loadApiConfig } from '@fleet/api';
import { createLogger } from '@fleet/log';
import { connectRedis } from '@fleet/registry';
import { FleetWorker, loadConfig } from '@fleet/worker';
import { Redis } from 'ioredis';

/**
 * `npm start` / `fleet up`: everything on one machine in one command. Uses REDIS_URL if set and
 * reachable, else a private redis-server (AOF) under ./.fleet/redis; the API token comes from
 * FLEET_API_TOKEN or ./.fleet/api-token (generated once, mode 0600); a `local` member works in
 * ./.fleet/work. Ctrl-C stops what it started; Redis flushes its AOF on the way out.
 */
export async function up(
  opts: { home?: string; port?: number; quiet?: boolean } = {},
): Promise<{ url: string; token: string; stop(): Promise<void> }> {
  const home = resolve(opts.home ?? process.env.FLEET_HOME ?? '.fleet');
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const say = (s: string) => (opts.quiet ? undefined : process.stdout.write(`${s}\n`));
  const log = createLogger(process.env.FLEET_LOG_LEVEL ?? 'warn', { service: 'fleet' });

  let redisUrl = process.env.REDIS_URL;
  let redisChild: ChildProcess | undefined;
  if (!redisUrl || !(await reachable(redisUrl))) {
    if (redisUrl) say(`REDIS_URL ${redisUrl} is not reachable; starting a private redis-server instead`);
    const bin = process.env.FLEET_REDIS_SERVER ?? 'redis-server';
    if (spawnSync(bin, ['--version']).error) {
      throw new Error(
        `redis-server was not found on PATH. Install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) or set REDIS_URL to a reachable Redis.`,
      );
    }
    const dir = resolve(home, 'redis');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const port = await freePort();
    redisChild = spawn(
      bin,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'everysec',
        '--save',
        '',
        '--daemonize',
        'no',
      ],
      {
        stdio: 'ignore',
      },
    );
    redisUrl = `redis://127.0.0.1:${port}`;
    const deadline = Date.now() + 10_000;
    while (!(await reachable(redisUrl))) {
      if (Date.now() > deadline || redisChild.exitCode !== null) throw new Error(`private redis-server did not start (data dir ${dir})`);
      await new Promise((r) => setTimeout(r, 50));
    }
    say(`redis: private redis-server on ${redisUrl} (AOF in ${dir})`);
  } else {
    say(`redis: ${redisUrl}`);
  }

  const tokenFile = resolve(home, 'api-token');
  let token = process.env.FLEET_API_TOKEN;
  if (!token) {
    if (!existsSync(tokenFile)) writeFileSync(tokenFile, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
    token = readFileSync(tokenFile, 'utf8').trim();
  }
  const env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: redisUrl, FLEET_API_TOKEN: token };
  if (opts.port !== undefined) env.PORT = String(opts.port);
  const apiCfg = loadApiConfig(env);
  const workerCfg = loadConfig(env);

  const worker = new FleetWorker(workerCfg, log.child({ service: 'fleet-worker' }));
  await worker.start();
  const redis = connectRedis(redisUrl, { maxRetriesPerRequest: null });
  redis.on('error', () => {});
  const api = await buildApi(apiCfg, redis, log.child({ service: 'fleet-api' }));
  const address = await api.app.listen({ host: apiCfg.host, port: apiCfg.port });

  const work = resolve(home, 'work');
  mkdirSync(work, { recursive: true });
  const existing = (await api.registry.listMembers()).find((m) => m.name === 'local' && m.transport === 'local');
  const local =
    existing ??
    (await api.registry.addMember({
      name: 'local',
      transport: 'local',
      workFolder: work,
      provider: process.env.FLEET_LOCAL_PROVIDER ?? 'shell',
    }));

  say(`API:        ${address}   (OpenAPI: ${address}/docs)`);
  say(`Bull Board: ${address}/ui   (user: any, password: the API token)`);
  say(`MCP:        ${address}/mcp`);
  say(`API token:  ${process.env.FLEET_API_TOKEN ? '(from FLEET_API_TOKEN)' : `${token}   (stored in ${tokenFile})`}`);
  say(`member:     local (${local.id}, provider ${local.provider}, work folder ${work})`);
  say(`try:        FLEET_URL=${address} npx fleet run local 'echo hello from the fleet'`);

  let stopped = false;
  return {
    url: address,
    token,
    async stop() {
      if (stopped) return;
      stopped = true;
      await api.close();
      await worker.stop();
      redis.disconnect();
      if (redisChild && redisChild.exitCode === null) {
        const c = redisChild;
        await new Promise<void>((r) => {
          c.once('exit', () => r());
          c.kill('SIGTERM');
        });
      }
    },
  };
}

async function reachable(url: string): Promise<boolean> {
  if (url.startsWith('redis+cluster://')) return true; // a cluster is the operator's: never replaced by a private server
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1_000 });
  r.on('error', () => {});
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? res(a.port) : rej(new Error('no port'))));
    });
  });
}
