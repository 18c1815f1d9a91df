import { getOsCommands } from '@fleet/exec';
import { type AttemptStart, type Member, type PromptJobResult, type RunRecord, parseFailure } from '@fleet/registry';
import { RetryableJobError, unrecoverable } from '../errors';
import type { Attempt } from './attempt';
import { decodeResult } from '@fleet/core';

/** Where an attempt last found a member: the next attempt proposes its run record from it. */
export type LastSeen = Map<string, { workFolder: string; os: Member['os'] }>;

/** The member is ours (fenced): what beginAttempt found on it. */
export type Begun = {
  member: Member;
  leftover: RunRecord | undefined;
  parked: RunRecord | undefined;
  /** The run directory of a record written with the fence, if one was. */
  recordedRunDir: string | undefined;
};

/**
 * Step 1, the fence, in one round trip (beginAttempt.lua): cancel mark, member, recorded result,
 * recorded failure, then the fence — and, on a clean member unchanged since the last attempt here,
 * the run record with it (record first, one round trip less before the spawn). Returns the recorded
 * result when the job already succeeded; throws (or delays the job) for every other answer.
 */
export async function begin(a: Attempt, runId: string, lastSeen: LastSeen): Promise<Begun | PromptJobResult> {
  // A resuming job's record names the member's session, known only once the fence is ours: writeRun.
  const seen = a.job.data.resume ? undefined : lastSeen.get(a.memberId);
  const proposed = seen && {
    ...seen,
    run: { jobId: a.jobId, attempt: a.attempt, workerId: a.cfg.workerId, runDir: getOsCommands(seen.os).runDir(seen.workFolder, runId) },
  };
  const b = await a.registry.beginAttempt(a.memberId, a.jobId, a.attempt, a.fence, a.cfg.fenceTtlMs, proposed);
  if (b.kind !== 'ready') return notReady(a, b);
  lastSeen.set(a.memberId, { workFolder: b.member.workFolder, os: b.member.os });
  if (b.recordWritten) a.recorded();
  return { member: b.member, leftover: b.leftover, parked: b.parked, recordedRunDir: b.recordWritten ? proposed?.run.runDir : undefined };
}

/** The job's total deadline passed while it waited: nothing started, so the release undoes all. */
export async function checkDeadline(a: Attempt): Promise<void> {
  const at = a.job.data.deadlineAt;
  if (at === undefined || Date.now() < at) return;
  await a.release('deadline passed');
  throw unrecoverable('timeout', 'total timeout reached before this attempt');
}

async function notReady(a: Attempt, b: Exclude<AttemptStart, { kind: 'ready' }>): Promise<PromptJobResult> {
  switch (b.kind) {
    case 'cancelled':
      throw unrecoverable('cancelled', 'cancelled before it started');
    case 'no_member':
      throw unrecoverable('member_not_found', `member ${a.memberId} no longer exists`);
    case 'done':
      a.log.warn(
        { category: 'already_done' },
        'job already succeeded (its lock was lost before completion); returning the recorded result',
      );
      return decodeResult(b.result);
    case 'failed': {
      // This attempt already ran and failed, but its failure was lost with the job's lock (Redis
      // stalled past the lock duration, say): report it again rather than run the attempt twice.
      a.log.warn({ category: 'already_failed' }, 'attempt already failed (its failure was lost with the lock); reporting it again');
      const f = parseFailure(b.reason) ?? { category: 'internal' as const, message: b.reason };
      if (b.retryable) throw new RetryableJobError(f.category, f.message);
      throw unrecoverable(f.category, f.message);
    }
    case 'fenced': {
      const wait = Math.min(Math.max(b.pttl, 200), 2_000) + Math.floor(Math.random() * 200);
      a.log.info({ holder: b.holder, retryInMs: wait, category: 'fenced' }, 'member is fenced by another attempt; delaying');
      return a.delay(wait);
    }
  }
}
