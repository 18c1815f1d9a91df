import { type JobCategory, formatFailure } from '@fleet/core';
import { UnrecoverableError } from 'bullmq';

/**
 * A failed attempt carries its category in the message (`[category] text`) so it survives in
 * BullMQ's failedReason and Bull Board shows it. Retryable ones are plain Errors (BullMQ retries with
 * our backoff); everything else is an UnrecoverableError.
 */
export class RetryableJobError extends Error {
  override name = 'RetryableJobError';
  constructor(
    readonly category: JobCategory,
    message: string,
  ) {
    super(formatFailure(category, message));
  }
}

export function unrecoverable(category: JobCategory, message: string): UnrecoverableError {
  return new UnrecoverableError(formatFailure(category, message));
}

/** BullMQ backoff for our jobs: stale_session retries at once, the rest exponentially (1 s, 2 s, 4 s … 60 s). */
export function fleetBackoff(attemptsMade: number, _type?: string, err?: Error): number {
  if (err instanceof RetryableJobError && err.category === 'stale_session') return 0;
  if (err?.message.startsWith('[stale_session]')) return 0;
  return Math.min(60_000, 1_000 * 2 ** Math.max(0, attemptsMade - 1));
}

/**
 * This attempt lost the member's fence before it started anything: it must leave the member to the
 * holder (no kill, no record change) and come back later as the *same* attempt. The processor turns
 * it into a delay of the job, which spends no attempt (a failure would, whenever the lock is still
 * ours) and records no failure.
 */
export class YieldMember extends Error {
  override name = 'YieldMember';
}
