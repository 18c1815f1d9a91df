import {
  FleetJobs,
  MemberChecks,
  type PromptJobData,
  WORKER_HEARTBEAT_MS,
  WorkerPresence,
  type PromptJobResult,
  type RedisClient,
  Registry,
  connectRedis,
  parseFailure,
  queueName,
} from '@fleet/registry';
import { Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { WorkerConfig } from './config';
import { fleetBackoff } from './errors';
import { makeProcessor } from './attempt/index';
import { answerCheck } from './checks';
import { Housekeeping } from './housekeeping';
import { Transports } from './transports';

/**
 * A worker process: one BullMQ Worker (concurrency 1) per member queue *that has work*, on one shared
 * Redis connection. A BullMQ Worker holds a blocking connection of its own, so Workers are created on
 * demand (an enqueue nudges us on pub/sub; a pipelined scan of every queue catches the rest) and closed
 * after FLEET_WORKER_IDLE_MS without work: connections follow busy members, not registered ones.
 * Several worker processes may serve the same Redis: the per-member fence, not process-local state,
 * keeps one run per member.
 */
export class FleetWorker {
  readonly redis: RedisClient;
  private readonly sub: RedisClient;
  readonly registry: Registry;
  readonly jobs: FleetJobs;
  private readonly transports: Transports;
  private readonly workers = new Map<string, Worker<PromptJobData, PromptJobResult>>();
  /** When each served member last had work (for closing idle Workers). */
  private readonly lastWork = new Map<string, number>();
  private memberIds = new Set<string>();
  private refreshing: Promise<void> = Promise.resolve();
  private readonly active = new Map<string, AbortController>();
  private readonly timers: NodeJS.Timeout[] = [];
  private stopping = false;
  private leaving = false;
  private readonly housekeeping: Housekeeping;
  private readonly presence: WorkerPresence;

  constructor(
    readonly cfg: WorkerConfig,
    private readonly log: Logger,
  ) {
    this.redis = connectRedis(cfg.redisUrl, { maxRetriesPerRequest: null });
    this.redis.on('error', (err) => this.log.warn({ err: err.message }, 'redis connection error'));
    this.sub = this.redis.duplicate();
    this.sub.on('error', () => {});
    this.registry = new Registry(this.redis, cfg.prefix);
    this.jobs = new FleetJobs(this.redis, { connection: this.redis, bullPrefix: cfg.bullPrefix }, cfg.prefix);
    this.transports = new Transports(this.registry, cfg.unknownHostKey, log);
    this.housekeeping = new Housekeeping({ registry: this.registry, jobs: this.jobs, transports: this.transports, log, cfg });
    this.presence = new WorkerPresence(this.redis, this.registry.keys);
  }

  async start(): Promise<void> {
    const t0 = Date.now();
    await this.housekeeping.sweep('startup');
    // Subscribed before the first look at the queues: an enqueue between that look and the
    // subscription would otherwise wait for the next periodic scan.
    this.sub.on('message', (channel, message) => {
      if (channel === this.registry.keys.cancelChannel()) {
        const ac = this.active.get(message);
        if (ac) {
          this.log.info({ jobId: message, category: 'cancelled' }, 'cancel requested');
          ac.abort('cancelled');
        }
      } else if (channel === this.registry.keys.checkChannel()) {
        void answerCheck(this.checkDeps, message).catch((err: Error) => this.log.warn({ err: err.message }, 'member check failed'));
      } else if (channel === this.registry.keys.jobsChannel()) {
        if (this.memberIds.has(message)) void this.addWorker(message);
        else void this.refreshMembers();
      } else {
        void this.refreshMembers();
      }
    });
    await this.sub.subscribe(
      this.registry.keys.membersChannel(),
      this.registry.keys.cancelChannel(),
      this.registry.keys.jobsChannel(),
      this.registry.keys.checkChannel(),
    );
    // Heard from once it hears requests: the API tells a busy worker from none by this.
    await this.beat();
    this.timers.push(setInterval(() => void this.beat(), WORKER_HEARTBEAT_MS));
    await this.refreshMembers();
    this.timers.push(setInterval(() => void this.refreshMembers(), this.cfg.memberRefreshMs));
    this.timers.push(setInterval(() => void this.scanWork(), this.cfg.workScanMs));
    this.timers.push(setInterval(() => void this.housekeeping.sweep('periodic'), this.cfg.sweepIntervalMs));
    // Not awaited: a fleet's run directories must not hold back the start.
    void this.housekeeping.prune('startup');
    this.timers.push(setInterval(() => void this.housekeeping.prune('periodic'), this.cfg.runPruneIntervalMs));
    this.log.info(
      { workerId: this.cfg.workerId, members: this.memberIds.size, serving: this.workers.size, startMs: Date.now() - t0 },
      'worker started',
    );
  }

  private beat(): Promise<void> {
    return this.presence.beat(this.cfg.workerId).catch((err: Error) => this.log.warn({ err: err.message }, 'heartbeat failed'));
  }

  private get checkDeps() {
    const { registry, transports, log } = this;
    return { registry, transports, log, checks: new MemberChecks(this.redis, registry.keys), workerId: this.cfg.workerId };
  }

  /** Re-reads the member list, then serves the queues that have work. */
  private refreshMembers(): Promise<void> {
    this.refreshing = this.refreshing.then(async () => {
      if (this.stopping) return;
      try {
        this.memberIds = new Set(await this.registry.listMemberIds());
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'cannot list members');
        return;
      }
      try {
        for (const [id, w] of this.workers) {
          if (!this.memberIds.has(id)) {
            this.workers.delete(id);
            await w.close();
            await this.transports.release(id);
            this.log.info({ memberId: id }, 'member removed; its worker stopped');
          }
        }
        await this.scanWork();
      } catch (err) {
        // A rejected link would stop every later refresh (and end the process, unhandled).
        this.log.warn({ err: (err as Error).message }, 'member refresh failed (will retry)');
      }
    });
    return this.refreshing;
  }

  /** One pipelined look at every member queue: start Workers where there is work, close idle ones. */
  private async scanWork(): Promise<void> {
    if (this.stopping) return;
    let busy: Set<string>;
    try {
      busy = await this.jobs.membersWithWork([...this.memberIds]);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cannot scan queues');
      return;
    }
    const now = Date.now();
    for (const id of busy) {
      this.lastWork.set(id, now);
      if (!this.workers.has(id)) await this.addWorker(id);
    }
    for (const [id, w] of this.workers) {
      if (busy.has(id) || this.activeOn(id)) continue;
      if (now - (this.lastWork.get(id) ?? 0) < this.cfg.workerIdleMs) continue;
      this.workers.delete(id);
      await w.close();
      this.log.debug({ memberId: id }, 'queue idle; worker closed');
    }
  }

  private activeOn(memberId: string): boolean {
    for (const jobId of this.active.keys()) if (jobId.startsWith(`${memberId}.`)) return true;
    return false;
  }

  private readonly adding = new Map<string, Promise<void>>();

  /** Starts serving a member's queue (at most one Worker per member per process). */
  private addWorker(memberId: string): Promise<void> {
    if (this.stopping || this.workers.has(memberId)) return Promise.resolve();
    let p = this.adding.get(memberId);
    if (!p) {
      // Never rejects: a Redis error reply here (LOADING after a restart, say) must not end the
      // process; the next scan of the queues tries again.
      p = this.createWorker(memberId)
        .catch((err: Error) => this.log.warn({ memberId, err: err.message }, 'cannot serve the member queue yet (will retry)'))
        .finally(() => this.adding.delete(memberId));
      this.adding.set(memberId, p);
    }
    return p;
  }

  private async createWorker(memberId: string): Promise<void> {
    this.lastWork.set(memberId, Date.now());
    await this.jobs.ensureQueue(memberId);
    const processor = makeProcessor({
      cfg: this.cfg,
      registry: this.registry,
      transports: this.transports,
      log: this.log,
      active: this.active,
      leavingRuns: () => this.leaving,
    });
    const w = new Worker<PromptJobData, PromptJobResult>(queueName(memberId), processor, {
      connection: this.redis,
      prefix: this.cfg.bullPrefix,
      concurrency: 1,
      lockDuration: this.cfg.lockDurationMs,
      stalledInterval: this.cfg.stalledIntervalMs,
      maxStalledCount: 10,
      settings: { backoffStrategy: fleetBackoff },
    });
    w.on('error', (err) => this.log.warn({ memberId, err: err.message }, 'bullmq worker error'));
    w.on('failed', (job, err) => {
      this.log.info({ memberId, jobId: job?.id, attempt: job?.attemptsMade, reason: err.message }, 'attempt failed');
      const final = job && (err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1));
      if (final) void this.registry.incrStat(`jobs_failed:${parseFailure(err.message)?.category ?? 'internal'}`).catch(() => undefined);
    });
    // Completions are counted by the success transition itself (recordSuccess.lua), once per job.
    this.workers.set(memberId, w);
    this.log.info({ memberId }, 'serving member queue');
  }

  /** BullMQ Workers open now (each holds one blocking Redis connection). */
  get servingCount(): number {
    return this.workers.size;
  }

  /**
   * Graceful stop: take no new jobs, wait (bounded) for running ones, then close connections. Runs
   * still going after the grace period are left running with their records: the next worker adopts
   * them (their jobs stall and come back).
   */
  async stop(graceMs = this.cfg.shutdownGraceMs): Promise<{ leftRunning: number }> {
    this.stopping = true;
    this.housekeeping.stop();
    for (const t of this.timers) clearInterval(t);
    await this.presence.leave(this.cfg.workerId).catch(() => undefined);
    const workers = [...this.workers.values()];
    // Take no new jobs (without waiting for the running ones: that is bounded below).
    await Promise.all(workers.map((w) => w.pause(true).catch(() => undefined)));
    const deadline = Date.now() + graceMs;
    while (this.active.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const leftRunning = this.active.size;
    if (leftRunning > 0) {
      this.leaving = true;
      // Not killed, not failed: their records stay, their jobs stall and the next worker adopts them.
      this.log.warn({ leftRunning, jobs: [...this.active.keys()] }, 'shutdown grace over; leaving running agents to be adopted');
    } else {
      await Promise.all(workers.map((w) => w.close().catch(() => undefined)));
    }
    await this.jobs.close().catch(() => undefined);
    await this.transports.close();
    this.sub.disconnect();
    this.redis.disconnect();
    this.log.info({ leftRunning }, 'worker stopped');
    return { leftRunning };
  }
}
