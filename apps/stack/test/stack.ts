import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AgentState, deleteKeys, FAKE_AGENT, tempDir } from '@fleet/testkit';
import { createLogger } from '@fleet/log';
import { FleetWorker, loadConfig } from '@fleet/worker';
import { Redis } from 'ioredis';
import { Writable } from 'node:stream';
import { type Api, buildApi, loadApiConfig } from '@fleet/api';

export interface Stack {
  url: string;
  token: string;
  prefix: string;
  redis: Redis;
  api: Api;
  worker: FleetWorker;
  dir: string;
  http(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; json: Record<string, unknown>; text: string }>;
  fakeMember(name: string, extra?: Record<string, unknown>): Promise<{ id: string; state: AgentState; workFolder: string }>;
  waitJob(jobId: string): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

/** The real API on a loopback port and a worker, on the machine's Redis under a unique prefix. */
export async function startStack(env: Record<string, string> = {}): Promise<Stack> {
  const prefix = `fleet-api-${randomBytes(4).toString('hex')}`;
  const token = randomBytes(24).toString('hex');
  const redisUrl = process.env.FLEET_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const e = {
    ...process.env,
    REDIS_URL: redisUrl,
    FLEET_PREFIX: prefix,
    FLEET_API_TOKEN: token,
    PORT: '0',
    FLEET_FENCE_TTL_MS: '3000',
    FLEET_LOCK_DURATION_MS: '3000',
    FLEET_STALLED_INTERVAL_MS: '1000',
    FLEET_MEMBER_REFRESH_MS: '500',
    FLEET_LOG_LEVEL: 'silent',
    ...env,
  };
  // The worker's and API's log, kept in memory: a job that does not finish shows what they said about it.
  const logLines: string[] = [];
  const log = createLogger(
    'info',
    {},
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        logLines.push(...chunk.toString().split('\n').filter(Boolean));
        if (logLines.length > 20_000) logLines.splice(0, logLines.length - 10_000);
        cb();
      },
    }),
  );
  const worker = new FleetWorker(loadConfig(e), log);
  await worker.start();
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const api = await buildApi(loadApiConfig(e), redis, log);
  const url = await api.app.listen({ host: '127.0.0.1', port: 0 });
  const tmp = tempDir('fleet-api-test-');
  let n = 0;
  const http: Stack['http'] = async (method, path, body, headers = { authorization: `Bearer ${token}` }) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {}
    return { status: res.status, json, text };
  };
  return {
    url,
    token,
    prefix,
    redis,
    api,
    worker,
    dir: tmp.path,
    http,
    async fakeMember(name, extra = {}) {
      const dir = join(tmp.path, `m${++n}`);
      const workFolder = join(dir, 'work');
      mkdirSync(workFolder, { recursive: true });
      const state = new AgentState(join(dir, 'agent'));
      const r = await http('POST', '/v1/members', {
        name,
        transport: 'local',
        workFolder,
        provider: 'claude',
        agentBinary: FAKE_AGENT,
        agentEnv: { FAKE_AGENT_STATE: state.dir },
        ...extra,
      });
      if (r.status !== 201) throw new Error(`member: ${r.status} ${r.text}`);
      return { id: String(r.json.id), state, workFolder };
    },
    async waitJob(jobId) {
      const deadline = Date.now() + 40_000;
      for (;;) {
        const r = await http('GET', `/v1/jobs/${jobId}`);
        if (r.json.state === 'completed' || r.json.state === 'failed') return r.json;
        if (Date.now() > deadline) {
          const memberId = String(r.json.memberId ?? '');
          const counts = memberId ? await api.jobs.queue(memberId).getJobCounts() : {};
          const run = memberId ? await redis.hgetall(`${prefix}:member:${memberId}:run`) : {};
          throw new Error(
            `job ${jobId} did not finish: ${r.text}; queue ${JSON.stringify(counts)}; run ${JSON.stringify(run)}; workers open ${worker.servingCount}; log:\n${logLines
              .filter((l) => l.includes(jobId))
              .slice(-30)
              .join('\n')}`,
          );
        }
        await new Promise((res) => setTimeout(res, 50));
      }
    },
    async close() {
      await api.close();
      await worker.stop();
      await deleteKeys(redis, prefix);
      redis.disconnect();
      tmp.remove();
    },
  };
}
