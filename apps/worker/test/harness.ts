import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  FleetJobs,
  type Member,
  type PromptJobData,
  type PromptJobResult,
  type RedisClient,
  Registry,
  connectRedis,
} from '@fleet/registry';
import { AgentState, deleteKeys, FAKE_AGENT, type PrivateSshd, stopChild, tempDir, waitFor, sshMemberFields } from '@fleet/testkit';
import type { Job } from 'bullmq';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const MAIN = join(ROOT, 'apps/worker/src/main.ts');

export interface WorkerProc {
  child: ChildProcess;
  logs: Array<Record<string, unknown>>;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
  kill(signal: NodeJS.Signals): void;
  stop(): Promise<void>;
}

export interface Fleet {
  prefix: string;
  redisUrl: string;
  redis: RedisClient;
  registry: Registry;
  jobs: FleetJobs;
  dir: string;
  startWorker(env?: Record<string, string>): Promise<WorkerProc>;
  /** Stops every worker started so far: one a failed test left must not take the next test's jobs. */
  stopWorkers(): Promise<void>;
  /** `spec` overrides the member's fields (provider, agentBinary, agentEnv…). */
  addLocalMember(name?: string, spec?: Record<string, unknown>): Promise<{ member: Member; state: AgentState }>;
  addSshMember(sshd: PrivateSshd, name?: string): Promise<{ member: Member; state: AgentState }>;
  waitJob(jobId: string, timeoutMs?: number): Promise<Job<PromptJobData, PromptJobResult>>;
  close(): Promise<void>;
}

/** Fast timings so fault scenarios finish in seconds. */
export const FAST_ENV = {
  FLEET_FENCE_TTL_MS: '3000',
  FLEET_LOCK_DURATION_MS: '3000',
  FLEET_STALLED_INTERVAL_MS: '1000',
  FLEET_SWEEP_INTERVAL_MS: '2000',
  FLEET_MEMBER_REFRESH_MS: '1000',
  FLEET_SHUTDOWN_GRACE_MS: '1000',
  FLEET_LOG_LEVEL: 'info',
};

export async function startFleet(opts: { redisUrl?: string } = {}): Promise<Fleet> {
  const redisUrl = opts.redisUrl ?? process.env.FLEET_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  // On a Redis Cluster every key of ours must share one slot: the prefix is a hash tag there.
  const tag = `fleet-t${randomBytes(4).toString('hex')}`;
  const prefix = redisUrl.startsWith('redis+cluster://') ? `{${tag}}` : tag;
  const redis = connectRedis(redisUrl, { maxRetriesPerRequest: null });
  redis.on('error', () => {});
  const registry = new Registry(redis, prefix);
  const jobs = new FleetJobs(redis, { connection: redis, bullPrefix: `${prefix}:q` }, prefix);
  const tmp = tempDir('fleet-worker-test-');
  const procs: WorkerProc[] = [];
  let n = 0;

  const member = async (spec: Record<string, unknown>) => {
    const dir = join(tmp.path, `m${++n}`);
    mkdirSync(join(dir, 'work'), { recursive: true });
    const state = new AgentState(join(dir, 'agent'));
    const m = await registry.addMember({
      provider: 'claude',
      workFolder: join(dir, 'work'),
      agentBinary: FAKE_AGENT,
      agentEnv: { FAKE_AGENT_STATE: state.dir },
      ...spec,
    });
    return { member: m, state };
  };

  return {
    prefix,
    redisUrl,
    redis,
    registry,
    jobs,
    dir: tmp.path,
    async startWorker(env = {}) {
      const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
        cwd: ROOT,
        env: { ...process.env, ...FAST_ENV, REDIS_URL: redisUrl, FLEET_PREFIX: prefix, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const logs: Array<Record<string, unknown>> = [];
      let buf = '';
      child.stdout?.on('data', (d: Buffer) => {
        buf += d.toString();
        let i = buf.indexOf('\n');
        while (i !== -1) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          try {
            logs.push(JSON.parse(line) as Record<string, unknown>);
          } catch {
            logs.push({ raw: line });
          }
          i = buf.indexOf('\n');
        }
      });
      let err = '';
      child.stderr?.on('data', (d: Buffer) => {
        err += d.toString();
      });
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      const p: WorkerProc = {
        child,
        logs,
        exited,
        kill: (s) => child.kill(s),
        stop: () => stopChild(child, 5_000),
      };
      procs.push(p);
      await waitFor(() => logs.some((l) => l.msg === 'worker started') || child.exitCode !== null, {
        timeoutMs: 20_000,
        what: 'worker start',
      });
      if (child.exitCode !== null) throw new Error(`worker exited at start: ${err}`);
      return p;
    },
    async stopWorkers() {
      await Promise.all(procs.map((p) => p.stop()));
    },
    addLocalMember: (name = 'local', spec = {}) => member({ name, transport: 'local', ...spec }),
    addSshMember: (sshd, name = 'ssh') =>
      member({
        name,
        ...sshMemberFields(sshd),
      }),
    async waitJob(jobId, timeoutMs = 60_000) {
      return waitFor(
        async () => {
          const job = await jobs.getJob(jobId);
          if (!job) return undefined;
          const s = await job.getState();
          // Re-read: the object fetched above may predate the final state.
          return s === 'completed' || s === 'failed' ? await jobs.getJob(jobId) : undefined;
        },
        { timeoutMs, intervalMs: 50, what: `job ${jobId} to finish` },
      );
    },
    async close() {
      await Promise.all(procs.map((p) => p.stop()));
      await jobs.close();
      await deleteKeys(redis, prefix);
      redis.disconnect();
      tmp.remove();
    },
  };
}
