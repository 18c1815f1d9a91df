import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';

/** Worker configuration, from the environment (documented in the README's configuration table). */
export interface WorkerConfig {
  redisUrl: string;
  prefix: string;
  bullPrefix: string;
  workerId: string;
  fenceTtlMs: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  sweepIntervalMs: number;
  /** Finished run directories are deleted once nothing changed in them for this long (the prompt file is sensitive). */
  runRetentionMs: number;
  /** How often run directories are pruned. */
  runPruneIntervalMs: number;
  memberRefreshMs: number;
  /** How often queues are scanned for work (besides the enqueue nudge on pub/sub). */
  workScanMs: number;
  /** A member's BullMQ Worker is closed after its queue has been empty this long. */
  workerIdleMs: number;
  shutdownGraceMs: number;
  killTimeoutMs: number;
  /** A job whose agent hit its usage limit waits for the reset if it is at most this far away. */
  usageLimitMaxWaitMs: number;
  defaultInactivityTimeoutS: number;
  /** What to do with an SSH member whose host key is not pinned: pin the first one seen, or refuse. */
  unknownHostKey: 'pin' | 'reject';
  logLevel: string;
  /** Output lines kept per job (stream and job.log). */
  outputMaxLines: number;
}

function num(env: NodeJS.ProcessEnv, name: string, dflt: number): number {
  const v = env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got ${JSON.stringify(v)}`);
  return n;
}

export function loadConfig(env = process.env): WorkerConfig {
  const prefix = env.FLEET_PREFIX ?? 'fleet';
  const uhk = env.FLEET_UNKNOWN_HOST_KEY ?? 'pin';
  if (uhk !== 'pin' && uhk !== 'reject') throw new Error('FLEET_UNKNOWN_HOST_KEY must be pin or reject');
  return {
    redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    prefix,
    bullPrefix: env.FLEET_BULL_PREFIX ?? `${prefix}:q`,
    workerId: env.FLEET_WORKER_ID ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
    fenceTtlMs: num(env, 'FLEET_FENCE_TTL_MS', 30_000),
    lockDurationMs: num(env, 'FLEET_LOCK_DURATION_MS', 30_000),
    stalledIntervalMs: num(env, 'FLEET_STALLED_INTERVAL_MS', 15_000),
    sweepIntervalMs: num(env, 'FLEET_SWEEP_INTERVAL_MS', 30_000),
    runRetentionMs: num(env, 'FLEET_RUN_RETENTION_MS', 7 * 86_400_000),
    runPruneIntervalMs: num(env, 'FLEET_RUN_PRUNE_INTERVAL_MS', 600_000),
    memberRefreshMs: num(env, 'FLEET_MEMBER_REFRESH_MS', 10_000),
    workScanMs: num(env, 'FLEET_WORK_SCAN_MS', 2_000),
    workerIdleMs: num(env, 'FLEET_WORKER_IDLE_MS', 30_000),
    shutdownGraceMs: num(env, 'FLEET_SHUTDOWN_GRACE_MS', 10_000),
    killTimeoutMs: num(env, 'FLEET_KILL_TIMEOUT_MS', 5_000),
    usageLimitMaxWaitMs: num(env, 'FLEET_USAGE_LIMIT_MAX_WAIT_MS', 86_400_000),
    defaultInactivityTimeoutS: num(env, 'FLEET_INACTIVITY_TIMEOUT_S', 1_800),
    unknownHostKey: uhk,
    logLevel: env.FLEET_LOG_LEVEL ?? 'info',
    outputMaxLines: num(env, 'FLEET_OUTPUT_MAX_LINES', 10_000),
  };
}
