import { FenceHeldError } from '@fleet/registry';
import { YieldMember, unrecoverable } from '../errors';
import type { Attempt } from './attempt';

/**
 * Keeps the member's fence while the attempt runs: renewed every third of its TTL. Expired (Redis was
 * away longer than the TTL), it is taken back if our record still names us and nobody took it. Our
 * record naming another attempt means that attempt adopted the run (detach: it is theirs now); the
 * fence held by a re-delivery of this very attempt means that one is about to adopt the run or kill
 * it first (detach too: killing it just before the adoption would fail a healthy run). Another job
 * or attempt holding it, or our record gone, means we can no longer vouch for the member (kill). A
 * Redis error decides nothing: the check runs again at the next tick. Each renewal also reads the
 * job's cancel mark, so a cancel whose message was lost still stops the run. Returns the stop.
 */
export function keepFence(a: Attempt): () => void {
  const check = async () => {
    const renewed = await a.registry.renewFence(a.memberId, a.jobId, a.fence, a.cfg.fenceTtlMs);
    if (!renewed.held) return reclaim(a);
    if (renewed.cancelled) a.abort('cancelled');
  };
  const timer = setInterval(
    () => void check().catch((err: Error) => a.log.warn({ err: err.message }, 'fence check failed (will retry)')),
    Math.max(100, Math.floor(a.cfg.fenceTtlMs / 3)),
  );
  return () => clearInterval(timer);
}

/** The fence expired: take it back, or abort (detach when another attempt owns the run now). */
async function reclaim(a: Attempt): Promise<void> {
  const run = await a.registry.getRun(a.memberId);
  if (run && run.token !== a.fence) return a.abort('detach');
  if (!run) return a.abort('fence_lost');
  try {
    await a.registry.acquireFence(a.memberId, a.fence, a.cfg.fenceTtlMs);
    a.log.warn({ pid: a.handle?.pid }, 'fence had expired; re-acquired it');
  } catch (err) {
    if (!(err instanceof FenceHeldError)) throw err;
    a.abort(err.holder.startsWith(`${a.jobId}:${a.attempt}:`) ? 'detach' : 'fence_lost');
  }
}

/** Nothing of this attempt runs yet: without the fence it must leave the member as it is. */
export async function holdFence(a: Attempt, what: string): Promise<void> {
  const renewed = await a.registry.renewFence(a.memberId, a.jobId, a.fence, a.cfg.fenceTtlMs);
  if (renewed.cancelled) throw unrecoverable('cancelled', 'cancelled before it started');
  if (!renewed.held) throw new YieldMember(`lost the member's fence ${what}`);
}
