import { randomBytes } from 'node:crypto';
import { fenceToken, type PromptJobData, type PromptJobResult, type Registry } from '@fleet/registry';
import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { WorkerConfig } from '../config';
import type { Transports } from '../transports';
import { Attempt } from './attempt';
import { type LastSeen, begin, checkDeadline } from './begin';
import { settleThrown } from './failure';
import { keepFence } from './fence-keeper';
import { settleLeftover, takeParked } from './leftover';
import { settleOutcome } from './outcome';
import { spawnOrAttach } from './spawn';
import { startTimeouts } from './timeouts';

export type { AbortReason } from './attempt';

export interface ProcessorDeps {
  cfg: WorkerConfig;
  registry: Registry;
  transports: Transports;
  log: Logger;
  /** Abort controllers of the jobs this process runs, by job id (cancel messages land here). */
  active: Map<string, AbortController>;
  /** True once a shutdown decided to leave running agents for adoption: touch nothing then. */
  leavingRuns: () => boolean;
}

/**
 * One attempt of one job, in DESIGN.md's order: fence → kill-before-spawn (or adopt our own run
 * after a worker crash) → record first → spawn → PID persisted on its line → follow through drops →
 * outcome. Every path out goes through the attempt's one release, which kills the run and confirms
 * it gone before BullMQ hears of the failure.
 */
export function makeProcessor(deps: ProcessorDeps) {
  const { cfg, registry, transports } = deps;
  const lastSeen: LastSeen = new Map();

  return async function processJob(job: Job<PromptJobData, PromptJobResult>, token?: string, bullSignal?: AbortSignal) {
    const startedAt = Date.now();
    const jobId = job.id ?? '';
    const attempt = job.attemptsMade + 1;
    const memberId = job.data.memberId;
    const fence = fenceToken(jobId, attempt, cfg.workerId);
    const a = new Attempt(job, token, cfg, registry, { jobId, attempt, memberId, fence }, deps.log);
    // Unique per spawn: a run directory is never reused, so a claim on one can only stop the start
    // it was made for, and a re-run of the same attempt never meets an old record.
    const runId = `${jobId}-${attempt}-${randomBytes(3).toString('hex')}`;

    // 1. Fence (and, on a clean member, the run record with it).
    const begun = await begin(a, runId, lastSeen);
    if (!('member' in begun)) return begun;
    await checkDeadline(a);
    a.log.debug('fence acquired');
    deps.active.set(jobId, a.ac);
    bullSignal?.addEventListener('abort', () => a.abort('cancelled'), { once: true });
    const stopFence = keepFence(a);
    let timeouts: ReturnType<typeof startTimeouts> | undefined;
    try {
      const t = await transports.get(begun.member);
      a.transport = t;
      // 2. Kill-before-spawn, or adopt our own run (left by a crash, or parked by another job).
      let adopt = begun.leftover ? await settleLeftover(a, t, begun.leftover) : undefined;
      if (!adopt && begun.parked) adopt = await takeParked(a, t, begun.parked);
      // 3–7. Record first, spawn (or reattach), PID persisted, follow to the end, within the timeouts.
      timeouts = startTimeouts(a, (job.data.inactivityTimeoutS ?? cfg.defaultInactivityTimeoutS) * 1000, job.data.deadlineAt);
      const started = await spawnOrAttach(a, t, begun, adopt, runId, timeouts.bump);
      timeouts.stop();
      // 8. Outcome.
      return await settleOutcome(a, started, begun.member.provider, startedAt);
    } catch (thrown) {
      return await settleThrown(a, thrown, deps.leavingRuns());
    } finally {
      stopFence();
      timeouts?.stop();
      // Only our own entry: a re-delivery of the same job in this process may have replaced it.
      if (deps.active.get(jobId) === a.ac) deps.active.delete(jobId);
    }
  };
}
