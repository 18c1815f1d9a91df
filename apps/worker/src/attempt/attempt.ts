import { type KillReport, type RunHandle, type Transport, killRun, killUnconfirmed } from '@fleet/exec';
import { type AttemptRecord, parseFailure } from '@fleet/core';
import type { PromptJobData, PromptJobResult, Registry } from '@fleet/registry';
import type { Job } from 'bullmq';
import { DelayedError } from 'bullmq';
import type { Logger } from 'pino';
import type { WorkerConfig } from '../config';
import { handleOf } from '../run-handle';

export type AbortReason = 'cancelled' | 'inactivity' | 'timeout' | 'fence_lost' | 'detach';

/**
 * What an attempt holds on its member, and so what its release must undo:
 * `fenced` the fence only; `recorded` a run record of ours too (the run may be starting);
 * `spawned` a run whose identity we know; `settled` nothing any more (released or handed on).
 */
export type Phase = 'fenced' | 'recorded' | 'spawned' | 'settled';

/** One attempt of one job on its member: ids, state, abort, and the one path that releases the member. */
export class Attempt {
  phase: Phase = 'fenced';
  transport: Transport | undefined;
  handle: RunHandle | undefined;
  readonly ac = new AbortController();
  readonly jobId: string;
  readonly attempt: number;
  readonly memberId: string;
  readonly fence: string;
  readonly log: Logger;
  readonly startedAt = Date.now();
  /** What the attempt's history tells (`recordEnd`): filled in as the attempt learns it. */
  readonly seen: Pick<AttemptRecord, 'exitCode' | 'kill' | 'sessionRequested' | 'sessionUsed' | 'costUsd'> = {};
  /** The run record write in flight: the release waits for it, so no record lands after it. */
  private recordWrite: Promise<void> | undefined;

  constructor(
    readonly job: Job<PromptJobData, PromptJobResult>,
    private readonly token: string | undefined,
    readonly cfg: WorkerConfig,
    readonly registry: Registry,
    ids: { jobId: string; attempt: number; memberId: string; fence: string },
    log: Logger,
  ) {
    this.jobId = ids.jobId;
    this.attempt = ids.attempt;
    this.memberId = ids.memberId;
    this.fence = ids.fence;
    this.log = log.child({ jobId: ids.jobId, memberId: ids.memberId, attempt: ids.attempt });
  }

  get signal(): AbortSignal {
    return this.ac.signal;
  }

  abort(reason: AbortReason): void {
    if (this.ac.signal.aborted) return;
    this.log.warn({ category: reason }, `aborting run: ${reason}`);
    this.ac.abort(reason);
  }

  /** A run record of ours exists, or is being written by `write`. */
  recorded(write?: Promise<void>): void {
    write?.catch(() => undefined); // awaited by the spawn and the release; this only keeps it from being "unhandled"
    this.recordWrite = write;
    this.phase = 'recorded';
  }

  /** The record write to wait for before the spawn (none when it was written with the fence). */
  recordWritten(): Promise<void> | undefined {
    return this.recordWrite;
  }

  spawned(handle: RunHandle): void {
    this.handle = handle;
    this.phase = 'spawned';
  }

  /**
   * The one release path: a record of ours means the run may exist, so it is found (or claimed so it
   * can never start), killed and confirmed gone (unless `given` already did), and only then is the
   * record dropped; an unconfirmed kill keeps the record for the next attempt or the sweeper. The
   * fence is released last. Never throws.
   */
  async release(why: string, given?: KillReport): Promise<KillReport | undefined> {
    if (this.phase === 'settled') return given;
    const held = this.phase;
    this.phase = 'settled';
    const { registry, memberId, fence } = this;
    let report = given;
    try {
      await this.recordWrite?.catch(() => undefined);
      if (held !== 'fenced') {
        const t = this.transport;
        // Without a transport nothing can have started: the record is all there is to undo.
        const h = t && (this.handle ?? (await this.ownRunHandle(t)));
        if (t && h && !report) {
          await registry.setRunState(memberId, fence, 'killing');
          report = await killRun(t, h, { timeoutMs: this.cfg.killTimeoutMs });
          this.log.info({ pid: h.pid, kill: report.result, killMs: Math.round(report.ms), why }, 'run killed before failing the attempt');
        }
        if (report) {
          this.seen.kill = report.result;
          await recordKill(registry, report);
        }
        if (report && killUnconfirmed(report)) {
          this.log.error({ pid: h?.pid, kill: report.result }, 'could not confirm the run is gone; record kept');
        } else {
          await registry.deleteRun(memberId, fence);
        }
      }
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'cleanup failed; record kept for the sweeper');
    }
    await registry.releaseFence(memberId, fence).catch(() => false);
    return report;
  }

  /**
   * The attempt's end in its job's history; a failure (`reason`, as BullMQ is told it) is also kept
   * as the attempt's recorded failure. Best effort: the job's outcome does not wait on it failing.
   */
  async recordEnd(outcome: AttemptRecord['outcome'], reason?: string, retryable?: boolean, retryAt?: number): Promise<void> {
    const r: AttemptRecord = { attempt: this.attempt, startedAt: this.startedAt, endedAt: Date.now(), outcome, ...this.seen };
    if (this.handle) r.pid = this.handle.pid;
    const f = reason === undefined ? undefined : parseFailure(reason);
    if (f) Object.assign(r, { category: f.category, message: f.message, retryable: retryable ?? false });
    if (retryAt !== undefined) r.retryAt = retryAt;
    await this.registry
      .recordAttempt(this.memberId, this.jobId, r, reason)
      .catch((err: Error) => this.log.warn({ err: err.message }, 'could not record the attempt in its history'));
  }

  /** The run's state is unknown: its record stays, so nothing spawns before it is killed; the fence goes. */
  async keepRecord(): Promise<void> {
    this.phase = 'settled';
    await this.registry.releaseFence(this.memberId, this.fence).catch(() => false);
  }

  /** Record and fence were handed on (the success transition took them, or another attempt owns them). */
  handOver(): void {
    this.phase = 'settled';
  }

  /**
   * Back to the queue as the same attempt (BullMQ's manual delay: no attempt spent, nothing recorded).
   * If the job's lock is no longer ours the move fails: the job is another delivery's then, and the
   * DelayedError still tells BullMQ that this processor has nothing more to say about it.
   */
  async delay(ms: number): Promise<never> {
    await this.job
      .moveToDelayed(Date.now() + ms, this.token)
      .catch((err: Error) => this.log.warn({ err: err.message }, 'could not delay the job'));
    throw new DelayedError();
  }

  private async ownRunHandle(t: Transport): Promise<RunHandle | undefined> {
    const rec = await this.registry.getRun(this.memberId);
    return rec && rec.token === this.fence ? handleOf(t, rec) : undefined;
  }
}

/** Kill latency for /metrics (confirmed kills only). */
async function recordKill(registry: Registry, report: KillReport): Promise<void> {
  if (report.result !== 'killed') return;
  await registry.incrStat('kill_ms_sum', Math.round(report.ms)).catch(() => undefined);
  await registry.incrStat('kill_count').catch(() => undefined);
}
