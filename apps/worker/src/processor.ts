import { randomBytes } from 'node:crypto';
import {
  type KillReport,
  type RunHandle,
  type RunHooks,
  TransportError,
  type RunOutcome,
  type Transport,
  attachRun,
  getOsCommands,
  getProvider,
  killRun,
  killUnconfirmed,
  probeRun,
  runAgent,
} from '@fleet/exec';
import {
  FenceHeldError,
  type Member,
  type PromptJobData,
  type PromptJobResult,
  type Registry,
  type RunRecord,
  fenceToken,
  parseFailure,
} from '@fleet/registry';
import { DelayedError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { WorkerConfig } from './config';
import { RetryableJobError, YieldMember, unrecoverable } from './errors';
import { handleOf } from './run-handle';
import { OutputSink } from './output';
import type { Transports } from './transports';

export type AbortReason = 'cancelled' | 'inactivity' | 'timeout' | 'fence_lost' | 'detach';

/** A run this attempt follows instead of starting one: its record and identity. */
type Adoption = { rec: RunRecord; handle: RunHandle };

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
 * One attempt of one job, to DESIGN.md's run protocol: fence → kill-before-spawn (or adopt our own
 * run after a worker crash) → record first → spawn → PID persisted on its line → follow through
 * drops → outcome. On every failure path the run is killed and confirmed gone *before* the error is
 * thrown, so BullMQ's retry can never overlap a live process.
 */
export function makeProcessor(deps: ProcessorDeps) {
  const { cfg, registry, transports } = deps;
  /**
   * Where the last attempt found the member (its work folder and OS): the next attempt builds its run
   * directory from them and proposes its run record to beginAttempt, which writes it with the fence
   * if the member is clean and unchanged (one round trip less before the spawn).
   */
  const lastSeen = new Map<string, { workFolder: string; os: Member['os'] }>();

  return async function processJob(
    job: Job<PromptJobData, PromptJobResult>,
    token?: string,
    bullSignal?: AbortSignal,
  ): Promise<PromptJobResult> {
    const started = Date.now();
    const data = job.data;
    const memberId = data.memberId;
    const jobId = job.id ?? '';
    const attempt = job.attemptsMade + 1;
    const fence = fenceToken(jobId, attempt, cfg.workerId);
    const log = deps.log.child({ jobId, memberId, attempt });

    /**
     * Back to the queue as the same attempt (BullMQ's manual delay: no attempt spent, nothing recorded).
     * If the job's lock is no longer ours the move fails: the job is another delivery's then, and the
     * DelayedError still tells BullMQ that this processor has nothing more to say about it.
     */
    const delayAttempt = async (ms: number): Promise<never> => {
      await job.moveToDelayed(Date.now() + ms, token).catch((err: Error) => log.warn({ err: err.message }, 'could not delay the job'));
      throw new DelayedError();
    };

    // Unique per spawn: a run directory is never reused, so a claim on one (see handleOf) can only
    // stop the start it was made for, and a re-run of the same attempt never meets an old record.
    const runId = `${jobId}-${attempt}-${randomBytes(3).toString('hex')}`;
    const seen = lastSeen.get(memberId);
    const proposed = seen && {
      ...seen,
      run: { jobId, attempt, workerId: cfg.workerId, runDir: getOsCommands(seen.os).runDir(seen.workFolder, runId) },
    };
    // One round trip: cancel mark, member, recorded result, recorded failure, then the fence (and,
    // on a clean member that has not changed, the run record: record first, with the fence).
    const begin = await registry.beginAttempt(memberId, jobId, attempt, fence, cfg.fenceTtlMs, proposed);
    switch (begin.kind) {
      case 'cancelled':
        throw unrecoverable('cancelled', 'cancelled before it started');
      case 'no_member':
        throw unrecoverable('member_not_found', `member ${memberId} no longer exists`);
      case 'done':
        log.warn(
          { category: 'already_done' },
          'job already succeeded (its lock was lost before completion); returning the recorded result',
        );
        return decodeResult(begin.result);
      case 'failed': {
        // This attempt already ran and failed, but its failure was lost with the job's lock (e.g. Redis
        // stalled past the lock duration): report it again rather than run the attempt a second time.
        log.warn({ category: 'already_failed' }, 'attempt already failed (its failure was lost with the lock); reporting it again');
        const f = parseFailure(begin.reason) ?? { category: 'internal' as const, message: begin.reason };
        if (begin.retryable) throw new RetryableJobError(f.category, f.message);
        throw unrecoverable(f.category, f.message);
      }
      case 'fenced': {
        const wait = Math.min(Math.max(begin.pttl, 200), 2_000) + Math.floor(Math.random() * 200);
        log.info({ holder: begin.holder, retryInMs: wait, category: 'fenced' }, 'member is fenced by another attempt; delaying');
        return delayAttempt(wait);
      }
    }
    // 1. The fence is ours from here on.
    const member = begin.member;
    lastSeen.set(memberId, { workFolder: member.workFolder, os: member.os });
    if (data.deadlineAt !== undefined && Date.now() >= data.deadlineAt) {
      // (A record written with the fence names no process yet: dropping it is all there is to undo.)
      if (begin.recordWritten) await registry.deleteRun(memberId, fence);
      await registry.releaseFence(memberId, fence);
      throw unrecoverable('timeout', 'total timeout reached before this attempt');
    }
    log.debug('fence acquired');

    const ac = new AbortController();
    const abort = (reason: AbortReason) => {
      if (!ac.signal.aborted) {
        log.warn({ category: reason }, `aborting run: ${reason}`);
        ac.abort(reason);
      }
    };
    deps.active.set(jobId, ac);
    bullSignal?.addEventListener('abort', () => abort('cancelled'), { once: true });
    /**
     * The fence is renewed every third of its TTL. Expired (Redis was away longer than the TTL), it is
     * taken back if our record still names us and nobody took it; our record naming another attempt
     * means that attempt adopted the run (detach: it is theirs now). The fence held by a re-delivery
     * of this very attempt (our job lock was lost meanwhile) means that attempt is about to adopt the
     * run, or to kill it before anything else spawns: detach too (killing it here, just before the
     * adoption, failed healthy runs as `killed`). Another job or attempt holding the fence, or our
     * record gone, means we can no longer vouch for the member (kill). A Redis error anywhere here
     * decides nothing: the check runs again at the next tick (an error must neither kill a healthy
     * run nor, unhandled, the worker). Each renewal also reads the job's cancel mark: a cancel whose
     * message was lost still stops the run within a third of the TTL.
     */
    const checkFence = async () => {
      const renewed = await registry.renewFence(memberId, jobId, fence, cfg.fenceTtlMs);
      if (renewed.held) {
        // The cancel message may have been lost (or came before this attempt registered): the mark was not.
        if (renewed.cancelled) abort('cancelled');
        return;
      }
      const run = await registry.getRun(memberId);
      if (run && run.token !== fence) return abort('detach');
      if (!run) return abort('fence_lost');
      try {
        await registry.acquireFence(memberId, fence, cfg.fenceTtlMs);
        log.warn({ pid: handle?.pid }, 'fence had expired; re-acquired it');
      } catch (err) {
        if (!(err instanceof FenceHeldError)) throw err;
        abort(err.holder.startsWith(`${jobId}:${attempt}:`) ? 'detach' : 'fence_lost');
      }
    };
    const renew = setInterval(
      () => void checkFence().catch((err: Error) => log.warn({ err: err.message }, 'fence check failed (will retry)')),
      Math.max(100, Math.floor(cfg.fenceTtlMs / 3)),
    );
    const timers: NodeJS.Timeout[] = [];
    let transport: Transport | undefined;
    let handle: RunHandle | undefined;
    // True while a run record of this attempt may exist (cleanUp settles it): from here if
    // beginAttempt wrote it with the fence.
    let runCreated = begin.recordWritten;
    let recordWritten: Promise<void> | undefined;

    /** Kill what this attempt may have started, confirm, then drop the record. Never throws. */
    const cleanUp = async (why: string): Promise<KillReport | undefined> => {
      let report: KillReport | undefined;
      try {
        // A record write still in flight (the run may have ended before its spawn) lands first.
        await recordWritten?.catch(() => undefined);
        if (runCreated && !transport) {
          // Only the record beginAttempt wrote: nothing can have started without a transport.
          await registry.deleteRun(memberId, fence);
        } else if (transport && runCreated) {
          const rec = await registry.getRun(memberId);
          const h = handle ?? (rec && rec.token === fence ? await handleOf(transport, rec) : undefined);
          if (h) {
            await registry.setRunState(memberId, fence, 'killing');
            report = await killRun(transport, h, { timeoutMs: cfg.killTimeoutMs });
            await recordKill(registry, report);
            log.info({ pid: h.pid, kill: report.result, killMs: Math.round(report.ms), why }, 'run killed before failing the attempt');
          }
          if (report && killUnconfirmed(report)) {
            // Not confirmed gone: keep the record so the next attempt (or the sweeper) kills it first.
            log.error({ pid: h?.pid, kill: report.result }, 'could not confirm the run is gone; record kept');
          } else {
            await registry.deleteRun(memberId, fence);
          }
        }
      } catch (err) {
        log.error({ err: (err as Error).message }, 'cleanup failed; record kept for the sweeper');
      }
      await registry.releaseFence(memberId, fence).catch(() => false);
      return report;
    };

    /** Nothing of this attempt runs yet: without the fence it must leave the member as it is. */
    const holdFence = async (what: string) => {
      const renewed = await registry.renewFence(memberId, jobId, fence, cfg.fenceTtlMs);
      if (renewed.cancelled) throw unrecoverable('cancelled', 'cancelled before it started');
      if (!renewed.held) throw new YieldMember(`lost the member's fence ${what}`);
    };

    /**
     * The record beginAttempt found on the member. Our own run (same job and attempt) is adopted if it
     * still runs, or if it finished on its own while nobody watched (its exit code and output are in
     * its run directory). Anything else is killed and confirmed gone first; then its record is dropped,
     * except another job's *finished* run, which is parked for that job's attempt to take its result
     * (dropping it made that attempt run the agent again). Only the fence holder kills or drops: an
     * attempt that lost the fence leaves both (the record may be the holder's to adopt).
     */
    const settleLeftover = async (t: Transport, leftover: RunRecord): Promise<Adoption | undefined> => {
      const h = await handleOf(t, leftover);
      const mine = leftover.jobId === jobId && leftover.attempt === attempt;
      const probe = h ? await probeRun(t, h) : undefined;
      const finished = probe?.state === 'gone' && probe.exitCode !== undefined;
      if (mine && h && probe && (probe.state === 'alive' || finished)) {
        if (await registry.adoptRun(memberId, leftover.token, fence, cfg.workerId)) {
          log.info(
            { pid: h.pid, from: leftover.token, offset: leftover.outOffset, runState: probe.state },
            'adopting our own run left by a previous worker',
          );
          return { rec: leftover, handle: h };
        }
      }
      await holdFence('before settling the run left on the member');
      const report = h ? await killRun(t, h, { timeoutMs: cfg.killTimeoutMs }) : undefined;
      log.warn(
        { pid: h?.pid, leftover: leftover.token, kill: report?.result ?? 'never_spawned', killMs: report && Math.round(report.ms) },
        'killed leftover run before spawning',
      );
      if (report && killUnconfirmed(report)) {
        throw new RetryableJobError(
          'unreachable',
          `leftover run ${leftover.token} could not be confirmed gone (${report.result}); not spawning`,
        );
      }
      if (report?.result === 'killed') await registry.incrStat('leftovers_killed');
      const park = finished && leftover.jobId !== jobId;
      const settled = park
        ? await registry.parkRun(memberId, fence, leftover)
        : await registry.dropLeftover(memberId, fence, leftover.token);
      if (settled === 'no_fence') throw new YieldMember("lost the member's fence while settling the run left on it");
      if (park && settled === 'ok') {
        await registry.incrStat('leftovers_parked');
        log.warn(
          { pid: h?.pid, leftover: leftover.token, exitCode: probe?.exitCode },
          "parked another job's finished run for that job (its result is kept)",
        );
      }
      return undefined;
    };

    /** Our own finished run, parked by another job's attempt: its exit code and output are the result. */
    const takeParked = async (t: Transport, parked: RunRecord): Promise<Adoption | undefined> => {
      const h = await handleOf(t, parked);
      const probe = h ? await probeRun(t, h) : undefined;
      if (!h || probe?.state !== 'gone' || probe.exitCode === undefined) {
        // Its run directory no longer tells how it ended: nothing to take (the record expires).
        log.warn({ pid: h?.pid, parked: parked.token, runState: probe?.state }, 'parked run has no recorded end; running the attempt');
        return undefined;
      }
      const r = await registry.adoptParked(memberId, fence, parked, cfg.workerId);
      if (r !== 'ok') throw new YieldMember(`cannot take back the parked run (${r})`);
      log.info(
        { pid: h.pid, from: parked.token, offset: parked.outOffset, runState: probe.state, parked: true },
        'adopting our own run left by a previous worker',
      );
      return { rec: parked, handle: h };
    };

    try {
      transport = await transports.get(member);

      // 2. Kill-before-spawn, or adopt our own run after a crash (the record beginAttempt found), or
      //    take back our own finished run that another job's attempt parked.
      let adopt = begin.leftover ? await settleLeftover(transport, begin.leftover) : undefined;
      if (!adopt && begin.parked) adopt = await takeParked(transport, begin.parked);

      // 3–6. Record first, then spawn (or reattach).
      const runDir = adopt ? adopt.rec.runDir : transport.os.runDir(member.workFolder, runId);
      // Record first: written with the fence (beginAttempt, above), or now while the run directory
      // is prepared, awaited before the spawn (onPrepared). writeRun replaces a record of this
      // token's own, so a proposal whose run directory is not the one used here is corrected.
      const writtenWithFence = begin.recordWritten && proposed?.run.runDir === runDir;
      recordWritten = adopt
        ? undefined
        : writtenWithFence
          ? Promise.resolve()
          : registry.writeRun(memberId, fence, { jobId, attempt, workerId: cfg.workerId, runDir }).then((w) => {
              // Nothing runs yet: without the fence, leave the member as the same attempt.
              if (w === 'no_fence') throw new YieldMember("lost the member's fence before writing the run record");
              if (w !== 'ok') throw new RetryableJobError('fence_lost', `cannot write the run record: ${w}`);
            });
      recordWritten?.catch(() => undefined); // awaited below; this only keeps it from being "unhandled" meanwhile
      // (cleanUp deletes only a record with our token: harmless if the write failed.)
      runCreated = true;
      handle = adopt?.handle;

      const offset = adopt?.rec.outOffset ?? 0;
      const sink = new OutputSink(registry, jobId, job, {
        maxLines: cfg.outputMaxLines,
        startOffset: offset,
        onFlushed: (flushed) => registry.setOutOffset(memberId, fence, flushed),
      });

      // 10. Timeouts: inactivity (no output for N s) and the job's total deadline.
      const inactivityMs = (data.inactivityTimeoutS ?? cfg.defaultInactivityTimeoutS) * 1000;
      // One timer, re-armed only when it fires early: a line just moves the mark (a chatty agent
      // must not cost a clearTimeout + setTimeout per line).
      let lastOutput = Date.now();
      let idle: NodeJS.Timeout | undefined;
      const armIdle = (ms: number) => {
        idle = setTimeout(() => {
          const quiet = Date.now() - lastOutput;
          if (quiet >= inactivityMs) abort('inactivity');
          else armIdle(inactivityMs - quiet);
        }, ms);
      };
      const bumpIdle = () => {
        lastOutput = Date.now();
      };
      armIdle(inactivityMs);
      if (data.deadlineAt !== undefined) timers.push(setTimeout(() => abort('timeout'), Math.max(0, data.deadlineAt - Date.now())));

      let persisted: RunHandle | undefined;
      const hooks: RunHooks = {
        onPid: async (pid, identity) => {
          // One write: the PID, with its identity when both arrived together (local runs).
          await registry.setPid(memberId, fence, pid, identity);
          if (identity) persisted = identity;
          log.info({ pid }, 'agent spawned; pid persisted');
          sink.event('pid', String(pid));
        },
        onStarted: async (h) => {
          handle = h;
          if (persisted !== h) await registry.setIdentity(memberId, fence, h);
          // Progress is for humans (Bull Board): not worth holding the stream back.
          void job.updateProgress({ pid: h.pid, startedAt: Date.now() }).catch(() => undefined);
        },
        onLine: (line) => {
          sink.push(line);
          bumpIdle();
        },
        // The run ended: write its output while its session is checked for leftovers.
        onExit: () => void sink.flush(),
        onDrop: ({ reason, drops }) =>
          log.warn({ pid: handle?.pid, reason, drops }, 'stream dropped; reconnecting (the agent keeps running)'),
      };

      const provider = getProvider(member.provider);
      const resumeId = data.resume ? member.sessionId : undefined;
      const argv = provider.buildArgv(promptOptions(member, data, resumeId));
      if (!adopt) sink.event('state', 'starting');
      const outcome: RunOutcome = adopt
        ? await attachRun({ transport, handle: adopt.handle, offset, hooks, signal: ac.signal, killTimeoutMs: cfg.killTimeoutMs })
        : await runAgent({
            transport,
            runId,
            workFolder: member.workFolder,
            argv,
            env: member.agentEnv,
            prompt: data.prompt,
            onPrepared: () => recordWritten,
            hooks,
            signal: ac.signal,
            killTimeoutMs: cfg.killTimeoutMs,
          });
      if (idle) clearTimeout(idle);
      // The last output is sent now; a success is recorded right behind it on the same connection
      // (Redis runs them in order: the stream is complete before the job is), every other outcome
      // waits for it first.
      const flushed = sink.flush().then(() => {
        if (sink.lastError)
          log.warn({ err: sink.lastError.message }, 'some output could not be written to the live stream (the run dir has all of it)');
      });

      // 8. Outcome. (Only a success goes ahead of its flush, see above.)
      if (outcome.kind !== 'exited') await flushed;
      switch (outcome.kind) {
        case 'exited': {
          const parsed = provider.parse(outcome.exitCode, outcome.tail);
          if (parsed.ok) {
            const usage = parsed.usage ?? { inputTokens: 0, outputTokens: 0 };
            const result: PromptJobResult = {
              result: parsed.result ?? '',
              exitCode: outcome.exitCode,
              attempts: attempt,
              pid: outcome.handle.pid,
              runDir,
              durationMs: Date.now() - started,
            };
            if (parsed.sessionId) result.sessionId = parsed.sessionId;
            if (parsed.usage) result.usage = parsed.usage;
            if (parsed.costUsd !== undefined) result.costUsd = parsed.costUsd;
            const recorded = registry.recordSuccess(memberId, fence, {
              sessionId: parsed.sessionId,
              tokensIn: usage.inputTokens,
              tokensOut: usage.outputTokens,
              jobId,
              durationMs: result.durationMs,
              result: encodeResult(result),
            });
            // (Both awaited at once: a failed success record must not wait unobserved for the flush.)
            await Promise.all([flushed, recorded]);
            runCreated = false;
            log.info({ pid: outcome.handle.pid, exitCode: outcome.exitCode, ms: result.durationMs, drops: outcome.drops }, 'job succeeded');
            return result;
          }
          await flushed;
          const e = parsed.error ?? { category: 'unknown' as const, retryable: false, message: `exit ${outcome.exitCode}` };
          handle = outcome.handle;
          await cleanUp(`agent failed: ${e.category}`);
          runCreated = false;
          log.warn({ pid: outcome.handle.pid, exitCode: outcome.exitCode, category: e.category, retryable: e.retryable }, 'agent failed');
          if (e.category === 'stale_session') {
            if (!resumeId) throw unrecoverable('unknown', `agent reported a missing session without --resume: ${e.message}`);
            await registry.clearSession(memberId, resumeId);
            await job.updateData({ ...data, resume: false });
            throw new RetryableJobError('stale_session', `session ${resumeId} no longer exists; retrying without resume`);
          }
          if (e.retryable) throw new RetryableJobError(e.category, e.message);
          throw unrecoverable(e.category, e.message);
        }
        case 'lost':
          await cleanUp('process vanished');
          runCreated = false;
          throw unrecoverable('killed', `the agent (pid ${outcome.handle.pid}) was killed outside of fleet-exec: ${outcome.reason}`);
        case 'aborted': {
          const reason = (ac.signal.reason as AbortReason | undefined) ?? 'cancelled';
          if (reason === 'detach') {
            // Not ours any more: no kill, no record change, no fence release (another attempt owns both).
            runCreated = false;
            log.warn(
              { pid: outcome.handle?.pid, category: 'detached' },
              'another attempt took over this run (adopted it, or holds the fence to adopt or kill it); stopped following it',
            );
            throw new RetryableJobError('fence_lost', 'another worker took over this run');
          }
          handle = outcome.handle;
          let kill = outcome.kill;
          if (!outcome.handle) {
            // Aborted before the PID came back: the start may still land (over SSH it waits for the
            // login shell). Never just drop the record: settle it like any cleanup — claim the run so
            // it can never start, or find it and kill it (the record stays if that is unconfirmed).
            kill = await cleanUp(`aborted (${reason}) before its pid was known`);
          } else {
            if (kill && !killUnconfirmed(kill)) await registry.deleteRun(memberId, fence);
            else log.error({ pid: handle?.pid, kill: kill?.result }, 'abort could not confirm the kill; record kept');
            await registry.releaseFence(memberId, fence);
            if (kill) await recordKill(registry, kill);
          }
          runCreated = false;
          log.warn({ pid: handle?.pid, kill: kill?.result, killMs: kill && Math.round(kill.ms), category: reason }, 'run aborted');
          if (reason === 'fence_lost') throw new RetryableJobError('fence_lost', 'lost the member fence mid-run; run killed');
          if (reason === 'inactivity')
            throw unrecoverable('timeout', `no output for ${data.inactivityTimeoutS ?? cfg.defaultInactivityTimeoutS} s`);
          if (reason === 'timeout') throw unrecoverable('timeout', 'total timeout reached');
          throw unrecoverable('cancelled', 'cancelled');
        }
        case 'not_started': {
          await cleanUp(`not started: ${outcome.reason}`);
          runCreated = false;
          // The fence was lost before the spawn (nothing ran): the same attempt comes back later.
          const lost = ac.signal.reason as AbortReason | undefined;
          if (lost === 'fence_lost' || lost === 'detach') throw new YieldMember(`lost the member's fence before the spawn (${lost})`);
          if (outcome.reason === 'workfolder_missing')
            throw unrecoverable('not_started', `work folder ${member.workFolder} does not exist on the member`);
          throw new RetryableJobError('not_started', outcome.reason);
        }
        case 'unreachable':
          // The run's state is unknown: keep the record, so nothing spawns before it is killed.
          runCreated = false;
          await registry.releaseFence(memberId, fence);
          log.error({ pid: outcome.handle?.pid, reason: outcome.reason, category: 'unreachable' }, 'member unreachable; run record kept');
          throw new RetryableJobError('unreachable', outcome.reason);
      }
    } catch (thrown) {
      if (thrown instanceof DelayedError) throw thrown;
      if (thrown instanceof YieldMember) {
        // Nothing of this attempt was spawned: release what may be ours (a claim settles a run
        // directory that was prepared), then come back as the same attempt.
        if (runCreated) await cleanUp(thrown.message);
        else await registry.releaseFence(memberId, fence).catch(() => false);
        const wait = 200 + Math.floor(Math.random() * 300);
        log.warn({ category: 'fence_lost', retryInMs: wait }, `${thrown.message}; leaving the member and delaying this attempt`);
        return delayAttempt(wait);
      }
      // The member could not be reached (or a leftover's state not settled yet): a retryable 'unreachable'.
      const err = thrown instanceof TransportError ? new RetryableJobError('unreachable', thrown.message) : thrown;
      if (deps.leavingRuns()) {
        log.warn({ pid: handle?.pid }, 'worker shutting down: run left alive for adoption');
        throw err;
      }
      // Anything unexpected (or thrown above before cleanup): kill and confirm, then rethrow.
      if (runCreated) await cleanUp(`error: ${(err as Error).message}`);
      else await registry.releaseFence(memberId, fence).catch(() => false);
      if (err instanceof RetryableJobError || (err as Error).name === 'UnrecoverableError') {
        // Remember this attempt's outcome, so a re-delivery of the same attempt reports it again
        // (a detach is not this attempt's outcome: the adopting attempt reports the run's).
        if (ac.signal.reason !== 'detach') {
          await registry
            .recordAttemptFailure(jobId, attempt, err instanceof RetryableJobError, (err as Error).message)
            .catch(() => undefined);
        }
        throw err;
      }
      log.error({ err: (err as Error).message, category: 'internal' }, 'attempt failed with an internal error');
      throw new RetryableJobError('internal', (err as Error).message);
    } finally {
      clearInterval(renew);
      for (const t of timers) clearTimeout(t);
      // Only our own entry: a re-delivery of the same job in this process may have replaced it.
      if (deps.active.get(jobId) === ac) deps.active.delete(jobId);
    }
  };
}

/** Kill latency for /metrics (confirmed kills only). */
async function recordKill(registry: Registry, report: KillReport): Promise<void> {
  if (report.result !== 'killed') return;
  await registry.incrStat('kill_ms_sum', Math.round(report.ms)).catch(() => undefined);
  await registry.incrStat('kill_count').catch(() => undefined);
}

/** The job result as readable hash fields (and back). */
function encodeResult(r: PromptJobResult): Record<string, string | number | undefined> {
  return {
    result: r.result,
    sessionId: r.sessionId,
    exitCode: r.exitCode,
    attempts: r.attempts,
    pid: r.pid,
    runDir: r.runDir,
    durationMs: r.durationMs,
    tokensIn: r.usage?.inputTokens,
    tokensOut: r.usage?.outputTokens,
    costUsd: r.costUsd,
  };
}

function decodeResult(h: Record<string, string>): PromptJobResult {
  const r: PromptJobResult = {
    result: h.result ?? '',
    exitCode: Number(h.exitCode ?? 0),
    attempts: Number(h.attempts ?? 1),
    runDir: h.runDir ?? '',
    durationMs: Number(h.durationMs ?? 0),
  };
  if (h.sessionId) r.sessionId = h.sessionId;
  if (h.pid) r.pid = Number(h.pid);
  if (h.tokensIn !== undefined) r.usage = { inputTokens: Number(h.tokensIn), outputTokens: Number(h.tokensOut ?? 0) };
  if (h.costUsd !== undefined) r.costUsd = Number(h.costUsd);
  return r;
}

function promptOptions(member: Member, data: PromptJobData, resumeId: string | undefined) {
  const o: Parameters<ReturnType<typeof getProvider>['buildArgv']>[0] = {
    skipPermissions: member.skipPermissions,
    trustWorkspace: member.trustWorkspace,
  };
  if (member.agentBinary) o.binary = member.agentBinary;
  const model = data.model ?? member.model;
  if (model) o.model = model;
  const maxTurns = data.maxTurns ?? member.maxTurns;
  if (maxTurns !== undefined) o.maxTurns = maxTurns;
  if (resumeId) o.resumeSessionId = resumeId;
  return o;
}
