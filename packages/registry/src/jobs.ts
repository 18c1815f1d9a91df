import { createHash, randomUUID } from 'node:crypto';
import { type ConnectionOptions, type Job, type JobsOptions, Queue, QueueKeys } from 'bullmq';
import type { RedisClient } from './connect';
import { z } from 'zod';
import { type JobState, MODEL_NAME, PERMISSION_MODES, type PermissionMode, type PromptJobResult, TOOL_RULE } from '@fleet/core';
import { Keys, queueName } from './keys';

export const PromptRequest = z
  .object({
    prompt: z.string().min(1, 'prompt must not be empty'),
    resume: z.boolean().default(false),
    model: z.string().regex(MODEL_NAME, 'invalid model name').optional(),
    maxTurns: z.number().int().min(1).max(10_000).optional(),
    inactivityTimeoutS: z
      .number()
      .int()
      .min(1)
      .max(7 * 86_400)
      .optional(),
    totalTimeoutS: z
      .number()
      .int()
      .min(1)
      .max(30 * 86_400)
      .optional(),
    attempts: z.number().int().min(1).max(20).default(3),
    permissionMode: z.enum(PERMISSION_MODES).optional().describe("This job's permission mode instead of the member's"),
    maxBudgetUsd: z.number().positive().max(10_000).optional().describe('Stop the run once its API cost reaches this (claude)'),
    fallbackModel: z
      .string()
      .regex(MODEL_NAME, 'invalid model name')
      .optional()
      .describe('Model to use when the chosen one is overloaded (claude)'),
    allowedTools: z
      .array(z.string().regex(TOOL_RULE, 'invalid tool rule (e.g. Edit, Bash(git *); no comma)'))
      .min(1)
      .max(100)
      .optional()
      .describe('Tool rules the agent may use without asking (claude)'),
  })
  .strict();
export type PromptRequest = z.input<typeof PromptRequest>;

export interface PromptJobData {
  memberId: string;
  prompt: string;
  resume: boolean;
  model?: string;
  maxTurns?: number;
  inactivityTimeoutS?: number;
  permissionMode?: PermissionMode;
  maxBudgetUsd?: number;
  fallbackModel?: string;
  allowedTools?: string[];
  /** Shared by all attempts: epoch ms after which no attempt may run. */
  deadlineAt?: number;
  enqueuedAt: number;
  /** With an idempotency key: the request that made the job (tells which of two requests sent at once made it). */
  requestId?: string;
}

/** Job ids name their member: `<memberId>.<uuid>` (also a valid run-directory name). */
function newJobId(memberId: string): string {
  return `${memberId}.${randomUUID()}`;
}

/** A client's idempotency key: 1–200 printable ASCII characters (it travels in an HTTP header). */
export const IdempotencyKey = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\x21-\x7e]+$/, 'idempotency key must be 1-200 printable ASCII characters without spaces');

/**
 * The job id an idempotency key names on a member: the same key always names the same job, so a
 * retried request (its answer lost to a timeout or an API restart) finds the job it already made
 * instead of running the prompt twice. UUID-shaped (version 8, from SHA-256 of member and key).
 */
export function idempotentJobId(memberId: string, key: string): string {
  const h = createHash('sha256').update(`fleet-exec job\0${memberId}\0${key}`).digest('hex');
  const v = `8${h.slice(13, 16)}`;
  const variant = ((Number.parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16);
  return `${memberId}.${h.slice(0, 8)}-${h.slice(8, 12)}-${v}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The same idempotency key sent again with a different request. */
export class IdempotencyConflict extends Error {
  override name = 'IdempotencyConflict';
}

export function memberOfJob(jobId: string): string | undefined {
  const m = /^(m[0-9a-f]{12})\.[0-9a-f-]{36}$/.exec(jobId);
  return m?.[1];
}

export interface QueueSettings {
  /** BullMQ key prefix. */
  bullPrefix: string;
  connection: ConnectionOptions;
  /**
   * How long a queue's global concurrency, once seen at 1, is trusted without reading it again
   * (default 30 s): enqueues in a burst cost one round trip less each, and a queue whose meta key
   * was lost (a Redis restarted without persistence) is set again within this time.
   */
  concurrencyRecheckMs?: number;
}

export interface ListedJob {
  job: Job<PromptJobData, PromptJobResult>;
  state: JobState;
}

/**
 * Enqueue, read and cancel prompt jobs. One BullMQ queue per member (`member-<id>`), global
 * concurrency 1: BullMQ serialises a member's jobs; the fence guarantees it under faults.
 */
export class FleetJobs {
  private readonly queues = new Map<string, Queue<PromptJobData, PromptJobResult>>();
  /** When each queue's global concurrency was last seen at 1 (see concurrencyRecheckMs). */
  private readonly serialisedAt = new Map<string, number>();
  readonly keys: Keys;

  constructor(
    private readonly redis: RedisClient,
    private readonly settings: QueueSettings,
    prefix = 'fleet',
  ) {
    this.keys = new Keys(prefix);
  }

  queue(memberId: string): Queue<PromptJobData, PromptJobResult> {
    let q = this.queues.get(memberId);
    if (!q) {
      q = new Queue(queueName(memberId), { connection: this.settings.connection, prefix: this.settings.bullPrefix });
      q.on('error', () => {});
      this.queues.set(memberId, q);
    }
    return q;
  }

  async ensureQueue(memberId: string): Promise<Queue<PromptJobData, PromptJobResult>> {
    const q = this.queue(memberId);
    const seen = this.serialisedAt.get(memberId);
    if (seen !== undefined && Date.now() - seen < (this.settings.concurrencyRecheckMs ?? 30_000)) return q;
    if ((await q.getGlobalConcurrency()) !== 1) await q.setGlobalConcurrency(1);
    this.serialisedAt.set(memberId, Date.now());
    return q;
  }

  /**
   * Adds a prompt job. With an idempotency key the job id is derived from it: a request sent again
   * with the same key returns the job the first one made (`created: false`) while that job is kept
   * (7 days, or the member's last 1000), and throws IdempotencyConflict if the request differs.
   */
  async enqueue(
    memberId: string,
    input: unknown,
    opts: { now?: number; idempotencyKey?: string } = {},
  ): Promise<Job<PromptJobData, PromptJobResult> & { created: boolean }> {
    const now = opts.now ?? Date.now();
    const req = PromptRequest.parse(input);
    const key = opts.idempotencyKey === undefined ? undefined : IdempotencyKey.parse(opts.idempotencyKey);
    const data = jobData(memberId, req, now);
    // A resumed prompt may need one immediate retry without the stale session.
    const attempts = req.resume ? Math.max(2, req.attempts) : req.attempts;
    const jobId = key === undefined ? newJobId(memberId) : idempotentJobId(memberId, key);
    const q = await this.ensureQueue(memberId);
    const jobOpts: JobsOptions = {
      jobId,
      attempts,
      backoff: { type: 'fleet', delay: 1_000 },
      removeOnComplete: { age: 7 * 86_400, count: 1_000 },
      removeOnFail: { age: 7 * 86_400, count: 1_000 },
      keepLogs: 1_000,
    };
    if (key !== undefined) data.requestId = randomUUID();
    const job = await q.add('execute_prompt', data, jobOpts);
    if (key !== undefined) {
      // BullMQ ignores an add whose job id exists (a request sent again, or two at once): what Redis
      // holds is the answer, and a job made by another request must be the same request.
      const stored = await q.getJob(jobId);
      if (stored && stored.data.requestId !== data.requestId) return Object.assign(sameRequest(stored, data, attempts), { created: false });
    }
    await this.redis.publish(this.keys.jobsChannel(), memberId);
    return Object.assign(job, { created: true });
  }

  async getJob(jobId: string): Promise<Job<PromptJobData, PromptJobResult> | undefined> {
    const memberId = memberOfJob(jobId);
    // Never instantiate a queue for a member that does not exist: BullMQ would write its meta key.
    if (!memberId || (!this.queues.has(memberId) && (await this.redis.sismember(this.keys.members(), memberId)) !== 1)) return undefined;
    return (await this.queue(memberId).getJob(jobId)) ?? undefined;
  }

  /**
   * The newest jobs of these members in these states, newest first: each member's queue read once
   * per state, at most `limit` jobs from each.
   */
  async list(memberIds: readonly string[], states: readonly JobState[], limit: number): Promise<ListedJob[]> {
    const reads = memberIds.flatMap((id) =>
      states.map(async (state) => {
        const jobs = await this.queue(id).getJobs([state === 'waiting' ? 'wait' : state], 0, limit - 1, false);
        return jobs.filter(Boolean).map((job) => ({ job, state }));
      }),
    );
    const all = (await Promise.all(reads)).flat();
    return all.sort((a, b) => b.job.timestamp - a.job.timestamp).slice(0, limit);
  }

  /**
   * Cancel: a waiting/delayed job is removed; an active one is signalled to the worker that runs it
   * (its processor kills the run and fails the job as `cancelled`). The cancelled mark also stops an
   * attempt that starts later.
   */
  async cancel(jobId: string): Promise<'removed' | 'signalled' | 'finished' | 'not_found'> {
    const job = await this.getJob(jobId);
    if (!job) return 'not_found';
    await this.redis.set(this.keys.cancelled(jobId), String(Date.now()), 'EX', 86_400);
    const state = await job.getState();
    if (state === 'completed' || state === 'failed') return 'finished';
    if (state === 'waiting' || state === 'delayed' || state === 'prioritized' || state === 'waiting-children') {
      try {
        await job.remove();
        return 'removed';
      } catch {
        // it became active meanwhile: signal below
      }
    }
    await this.redis.publish(this.keys.cancelChannel(), jobId);
    return 'signalled';
  }

  /**
   * Members whose queue has work (waiting, active, delayed or prioritized jobs): one pipelined round
   * trip for the whole fleet. Workers exist only for these, so Redis connections follow the number
   * of busy members, not of registered ones.
   */
  async membersWithWork(memberIds: readonly string[]): Promise<Set<string>> {
    const p = this.redis.pipeline();
    const keys = new QueueKeys(this.settings.bullPrefix);
    const key = (id: string, type: string) => keys.toKey(queueName(id), type);
    for (const id of memberIds)
      p.llen(key(id, 'wait')).llen(key(id, 'active')).zcard(key(id, 'delayed')).zcard(key(id, 'prioritized')).llen(key(id, 'paused'));
    const res = (await p.exec()) ?? [];
    const busy = new Set<string>();
    memberIds.forEach((id, i) => {
      let n = 0;
      for (let k = 0; k < 5; k++) n += Number(res[5 * i + k]?.[1] ?? 0);
      if (n > 0) busy.add(id);
    });
    return busy;
  }

  /** Deletes a (removed) member's queue and everything in it, and forgets it here. */
  async removeQueue(memberId: string): Promise<void> {
    const q = this.queue(memberId);
    this.queues.delete(memberId);
    this.serialisedAt.delete(memberId);
    await q.obliterate({ force: true }).catch(() => undefined);
    await q.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
    this.serialisedAt.clear();
  }
}

/** The job's data: the request's fields as the worker reads them, the deadline made absolute. */
function jobData(memberId: string, req: z.output<typeof PromptRequest>, now: number): PromptJobData {
  const data: PromptJobData = { memberId, prompt: req.prompt, resume: req.resume, enqueuedAt: now };
  for (const k of ['model', 'maxTurns', 'inactivityTimeoutS', 'permissionMode', 'maxBudgetUsd', 'fallbackModel', 'allowedTools'] as const) {
    if (req[k] !== undefined) Object.assign(data, { [k]: req[k] });
  }
  if (req.totalTimeoutS !== undefined) data.deadlineAt = now + req.totalTimeoutS * 1000;
  return data;
}

/** An existing job found by idempotency key, if it was made from the same request (the deadline aside). */
function sameRequest(job: Job<PromptJobData, PromptJobResult>, data: PromptJobData, attempts: number): Job<PromptJobData, PromptJobResult> {
  const a = job.data;
  const same =
    a.prompt === data.prompt &&
    a.model === data.model &&
    a.maxTurns === data.maxTurns &&
    a.inactivityTimeoutS === data.inactivityTimeoutS &&
    a.permissionMode === data.permissionMode &&
    a.maxBudgetUsd === data.maxBudgetUsd &&
    a.fallbackModel === data.fallbackModel &&
    a.allowedTools?.join(',') === data.allowedTools?.join(',') &&
    (a.deadlineAt === undefined) === (data.deadlineAt === undefined) &&
    (job.opts.attempts ?? 1) === attempts;
  // `resume` may have been turned off by a stale-session retry of that very job: not a difference.
  if (!same) throw new IdempotencyConflict(`idempotency key already used for a different request (job ${job.id})`);
  return job;
}
