import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildApi } from '@fleet/api';
import { FleetJobs, Registry } from '@fleet/registry';
import { deleteKeys, type PrivateSshd, type SshdOptions, startSshd, tempDir, sshMemberFields } from '@fleet/testkit';
import { createLogger } from '@fleet/log';
import { FleetWorker, loadConfig } from '@fleet/worker';
import { Redis } from 'ioredis';

/**
 * An in-process worker (+ optional API) on the machine's Redis under a unique prefix. `workRoot`:
 * where the members' work folders go (a temp dir by default). `keepWork`: leave them there at close
 * (the caller removes the root later: see bench/orchestration.ts). `sshd`: how the private sshd
 * behind sshMember is started.
 */
export async function benchStack(
  opts: { api?: boolean; env?: Record<string, string>; workRoot?: string; keepWork?: boolean; sshd?: SshdOptions } = {},
) {
  const prefix = `fleet-bench-${randomBytes(3).toString('hex')}`;
  const redisUrl = process.env.FLEET_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const env = {
    ...process.env,
    REDIS_URL: redisUrl,
    FLEET_PREFIX: prefix,
    FLEET_API_TOKEN: 'bench-token-0123456789',
    PORT: '0',
    FLEET_LOG_LEVEL: 'silent',
    ...opts.env,
  };
  // FLEET_BENCH_LOG=<file>: the worker's and API's logs (info and up) go there, to see where a stuck bench is.
  const logFile = process.env.FLEET_BENCH_LOG;
  const log = logFile ? createLogger('info', {}, createWriteStream(logFile, { flags: 'a' })) : createLogger('silent');
  const worker = new FleetWorker(loadConfig(env), log);
  await worker.start();
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const registry = new Registry(redis, prefix);
  const jobs = new FleetJobs(redis, { connection: redis, bullPrefix: `${prefix}:q` }, prefix);
  const api = opts.api ? await buildApi({ ...loadApiConfigLike(env) }, redis, log) : undefined;
  const url = api ? await api.app.listen({ host: '127.0.0.1', port: 0 }) : '';
  const tmp = tempDir('fleet-bench-', opts.workRoot);
  let sshd: PrivateSshd | undefined;
  return {
    prefix,
    redisUrl,
    redis,
    registry,
    jobs,
    worker,
    url,
    token: env.FLEET_API_TOKEN,
    async localMember(name: string) {
      const work = join(tmp.path, name);
      mkdirSync(work, { recursive: true });
      return registry.addMember({ name, transport: 'local', workFolder: work, provider: 'shell' });
    },
    async sshMember(name: string) {
      sshd ??= await startSshd(opts.sshd);
      const work = join(tmp.path, name);
      mkdirSync(work, { recursive: true });
      return registry.addMember({
        name,
        ...sshMemberFields(sshd),
        workFolder: work,
        provider: 'shell',
      });
    },
    /** The private sshd behind sshMember (started by the first sshMember call). */
    get sshd(): PrivateSshd | undefined {
      return sshd;
    },
    async close() {
      await api?.close();
      await worker.stop();
      await jobs.close();
      await sshd?.stop();
      await deleteKeys(redis, prefix);
      redis.disconnect();
      if (!opts.keepWork) tmp.remove();
    },
  };
}

function loadApiConfigLike(env: NodeJS.ProcessEnv) {
  return {
    host: '127.0.0.1',
    port: 0,
    redisUrl: env.REDIS_URL ?? '',
    prefix: env.FLEET_PREFIX ?? 'fleet',
    bullPrefix: `${env.FLEET_PREFIX}:q`,
    apiToken: env.FLEET_API_TOKEN ?? '',
    maxPromptBytes: 4 << 20,
    boardWrite: false,
    logLevel: 'silent',
  };
}

/**
 * Polls `fn` until it holds. On timeout the error says what was awaited and, with `explain`, the
 * state it found (a job's state, a run record): a benchmark stuck on a loaded CI machine must say
 * where, not only "timed out".
 */
export const waitUntil = async (
  fn: () => Promise<boolean> | boolean,
  timeoutMs = 120_000,
  intervalMs = 5,
  explain?: () => Promise<string> | string,
) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) {
      const why = explain ? await Promise.resolve(explain()).catch((e: unknown) => `(explain failed: ${String(e)})`) : '';
      throw new Error(`bench: timed out after ${timeoutMs} ms${why ? `: ${why}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
};
