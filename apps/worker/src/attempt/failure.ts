import { type TransportError, isTransportError } from '@fleet/exec';
import { DelayedError } from 'bullmq';
import { RetryableJobError, YieldMember, unrecoverable } from '../errors';
import type { Attempt } from './attempt';

/**
 * What was thrown, settled and turned into what BullMQ is told. A yield leaves the member and comes
 * back as the same attempt; a shutdown that leaves runs for adoption touches nothing; anything else
 * releases the member (the run killed and confirmed gone) and records this attempt's failure, so a
 * re-delivery of the same attempt reports it again instead of running it twice.
 */
export async function settleThrown(a: Attempt, thrown: unknown, leavingRuns: boolean): Promise<never> {
  if (thrown instanceof DelayedError) throw thrown;
  if (thrown instanceof YieldMember) {
    await a.release(thrown.message);
    const wait = 200 + Math.floor(Math.random() * 300);
    a.log.warn({ category: 'fence_lost', retryInMs: wait }, `${thrown.message}; leaving the member and delaying this attempt`);
    return a.delay(wait);
  }
  // The member could not be reached (or a leftover's state not settled yet): retryable. A host that
  // refuses us (auth, host key, no SFTP) fails at once: retrying cannot fix its configuration.
  const err = (isTransportError(thrown) ? transportFailure(thrown) : thrown) as Error;
  if (leavingRuns) {
    a.log.warn({ pid: a.handle?.pid }, 'worker shutting down: run left alive for adoption');
    throw err;
  }
  await a.release(`error: ${err.message}`);
  if (err instanceof RetryableJobError || err.name === 'UnrecoverableError') {
    // A detach is not this attempt's outcome: the adopting attempt reports the run's.
    if (a.signal.reason !== 'detach') {
      await a.recordEnd('failed', err.message, err instanceof RetryableJobError);
    }
    throw err;
  }
  a.log.error({ err: err.message, category: 'internal' }, 'attempt failed with an internal error');
  throw new RetryableJobError('internal', err.message);
}

function transportFailure(e: TransportError): Error {
  return e.transient ? new RetryableJobError('unreachable', e.message) : unrecoverable('member_config', e.message);
}
