import { type AgentResult, type RunOutcome, getProvider } from '@fleet/exec';
import type { Member, PromptJobResult } from '@fleet/registry';
import { RetryableJobError, YieldMember, unrecoverable } from '../errors';
import type { Attempt, AbortReason } from './attempt';
import { encodeResult } from '@fleet/core';
import type { Started } from './spawn';

/**
 * Step 8, the outcome: a success is recorded (the record and fence go with it, recordSuccess.lua);
 * every other outcome releases the member — the run killed and confirmed gone — before the error
 * that BullMQ retries (or not) is thrown, so a retry never overlaps a live process.
 */
export async function settleOutcome(a: Attempt, s: Started, provider: Member['provider'], startedAt: number): Promise<PromptJobResult> {
  const { outcome, sink } = s;
  // The last output is sent now; a success is recorded right behind it on the same connection (Redis
  // runs them in order: the stream is complete before the job is); every other outcome waits for it.
  const flushed = sink.flush().then(() => {
    if (sink.lastError)
      a.log.warn({ err: sink.lastError.message }, 'some output could not be written to the live stream (the run dir has all of it)');
  });
  if (s.resumeId) a.seen.sessionRequested = s.resumeId;
  if (outcome.kind === 'exited') {
    const parsed = getProvider(provider).parse(outcome.exitCode, outcome.tail);
    Object.assign(a.seen, { exitCode: outcome.exitCode, sessionUsed: parsed.sessionId, costUsd: parsed.costUsd });
    if (parsed.ok) return succeeded(a, s, outcome, parsed, Date.now() - startedAt, flushed);
    await flushed;
    return agentFailed(
      a,
      outcome,
      parsed.error ?? { category: 'unknown', retryable: false, message: `exit ${outcome.exitCode}` },
      s.resumeId,
    );
  }
  await flushed;
  return notExited(a, outcome, s.workFolder);
}

type Exited = Extract<RunOutcome, { kind: 'exited' }>;

/** Recorded right behind the last output (recordSuccess.lua); the member is handed over with it. */
async function succeeded(a: Attempt, s: Started, outcome: Exited, parsed: AgentResult, durationMs: number, flushed: Promise<void>) {
  const result: PromptJobResult = {
    result: parsed.result ?? '',
    exitCode: outcome.exitCode,
    attempts: a.attempt,
    pid: outcome.handle.pid,
    runDir: s.runDir,
    durationMs,
  };
  if (parsed.sessionId) result.sessionId = parsed.sessionId;
  if (parsed.usage) result.usage = parsed.usage;
  if (parsed.costUsd !== undefined) result.costUsd = parsed.costUsd;
  const usage = parsed.usage ?? { inputTokens: 0, outputTokens: 0 };
  const recorded = a.registry.recordSuccess(a.memberId, a.fence, {
    sessionId: parsed.sessionId,
    tokensIn: usage.inputTokens,
    tokensOut: usage.outputTokens,
    jobId: a.jobId,
    durationMs,
    result: encodeResult(result),
  });
  // Both awaited at once: a failed success record must not wait unobserved for the flush.
  await Promise.all([flushed, recorded]);
  a.handOver();
  await a.recordEnd('succeeded');
  a.log.info({ pid: outcome.handle.pid, exitCode: outcome.exitCode, ms: durationMs, drops: outcome.drops }, 'job succeeded');
  return result;
}

type AgentError = { category: Parameters<typeof unrecoverable>[0]; retryable: boolean; message: string; resetAt?: number };

async function agentFailed(a: Attempt, outcome: Exited, e: AgentError, resumeId: string | undefined): Promise<never> {
  a.handle = outcome.handle;
  await a.release(`agent failed: ${e.category}`);
  a.log.warn({ pid: outcome.handle.pid, exitCode: outcome.exitCode, category: e.category, retryable: e.retryable }, 'agent failed');
  if (e.category === 'usage_limit') return usageLimited(a, e);
  if (e.category === 'stale_session') {
    if (!resumeId) throw unrecoverable('unknown', `agent reported a missing session without --resume: ${e.message}`);
    await a.registry.clearSession(a.memberId, resumeId);
    await a.job.updateData({ ...a.job.data, resume: false });
    throw new RetryableJobError('stale_session', `session ${resumeId} no longer exists; retrying without resume`);
  }
  if (e.retryable) throw new RetryableJobError(e.category, e.message);
  throw unrecoverable(e.category, e.message);
}

/**
 * The account's limit: the job waits for the reset as the same attempt (no attempt spent), unless
 * the reset is unknown, further than FLEET_USAGE_LIMIT_MAX_WAIT_MS, or after the job's deadline.
 */
async function usageLimited(a: Attempt, e: AgentError): Promise<never> {
  if (e.resetAt === undefined) throw unrecoverable('usage_limit', `${e.message} (the limit names no reset time)`);
  const resetsAt = new Date(e.resetAt).toISOString();
  const wait = e.resetAt - Date.now();
  const deadline = a.job.data.deadlineAt;
  if (wait > a.cfg.usageLimitMaxWaitMs || (deadline !== undefined && e.resetAt >= deadline)) {
    throw unrecoverable('usage_limit', `${e.message} (the limit resets at ${resetsAt}, too far to wait)`);
  }
  await a.recordEnd('delayed', `[usage_limit] ${e.message}`, true, e.resetAt);
  a.log.warn({ category: 'usage_limit', resetsAt, retryInMs: wait }, 'usage limit reached; the job waits for the reset');
  return a.delay(Math.max(0, wait) + 1_000);
}

async function notExited(a: Attempt, outcome: Exclude<RunOutcome, { kind: 'exited' }>, workFolder: string): Promise<never> {
  const reason = a.signal.reason as AbortReason | undefined;
  switch (outcome.kind) {
    case 'lost':
      await a.release('process vanished');
      throw unrecoverable('killed', `the agent (pid ${outcome.handle.pid}) was killed outside of fleet-exec: ${outcome.reason}`);
    case 'aborted':
      return aborted(a, outcome, reason);
    case 'not_started': {
      await a.release(`not started: ${outcome.reason}`);
      // The fence was lost before the spawn (nothing ran): the same attempt comes back later.
      if (reason === 'fence_lost' || reason === 'detach') throw new YieldMember(`lost the member's fence before the spawn (${reason})`);
      // A cancel or a limit of the job's that came before the spawn ends the job as it would after.
      const stopped = stoppedBy(a, reason);
      if (stopped) throw stopped;
      if (outcome.reason === 'workfolder_missing')
        throw unrecoverable('not_started', `work folder ${workFolder} does not exist on the member`);
      throw new RetryableJobError('not_started', outcome.reason);
    }
    case 'unreachable':
      await a.keepRecord();
      a.log.error({ pid: outcome.handle?.pid, reason: outcome.reason, category: 'unreachable' }, 'member unreachable; run record kept');
      throw new RetryableJobError('unreachable', outcome.reason);
  }
}

async function aborted(a: Attempt, outcome: Extract<RunOutcome, { kind: 'aborted' }>, reason: AbortReason | undefined): Promise<never> {
  if (reason === 'detach') {
    // Not ours any more: no kill, no record change, no fence release (another attempt owns both).
    a.handOver();
    a.log.warn(
      { pid: outcome.handle?.pid, category: 'detached' },
      'another attempt took over this run (adopted it, or holds the fence to adopt or kill it); stopped following it',
    );
    throw new RetryableJobError('fence_lost', 'another worker took over this run');
  }
  // Aborted before the PID came back, the start may still land (over SSH it waits for the login
  // shell): the release claims the run so it can never start, or finds it and kills it.
  if (outcome.handle) a.handle = outcome.handle;
  const kill = await a.release(`aborted (${reason ?? 'cancelled'})`, outcome.handle ? outcome.kill : undefined);
  a.log.warn({ pid: a.handle?.pid, kill: kill?.result, killMs: kill && Math.round(kill.ms), category: reason }, 'run aborted');
  if (reason === 'fence_lost') throw new RetryableJobError('fence_lost', 'lost the member fence mid-run; run killed');
  throw stoppedBy(a, reason) ?? unrecoverable('cancelled', 'cancelled');
}

/** The final error of an attempt a cancel or one of the job's limits stopped; undefined for other reasons. */
function stoppedBy(a: Attempt, reason: AbortReason | undefined): Error | undefined {
  if (reason === 'inactivity')
    return unrecoverable('timeout', `no output for ${a.job.data.inactivityTimeoutS ?? a.cfg.defaultInactivityTimeoutS} s`);
  if (reason === 'timeout') return unrecoverable('timeout', 'total timeout reached');
  if (reason === 'cancelled') return unrecoverable('cancelled', 'cancelled');
  return undefined;
}
