/**
 * Every Redis key we own (BullMQ's queues live under their own prefix). See docs/redis-keys.md.
 * For Redis Cluster, use a prefix with a hash tag, e.g. `{fleet}`, so that a member's keys and the
 * scripts that touch several of them stay in one slot.
 */
export class Keys {
  constructor(readonly prefix = 'fleet') {}
  members = () => `${this.prefix}:members`;
  member = (id: string) => `${this.prefix}:member:${id}`;
  secret = (id: string) => `${this.prefix}:member:${id}:secret`;
  fence = (id: string) => `${this.prefix}:member:${id}:fence`;
  run = (id: string) => `${this.prefix}:member:${id}:run`;
  /** Live output lines of a job (Redis stream, capped). */
  output = (jobId: string) => `${this.prefix}:job:${jobId}:out`;
  /** Entries ever added to that stream (each entry carries its number `n`: a reader sees what the cap trimmed). */
  outputCount = (jobId: string) => `${this.prefix}:job:${jobId}:out:n`;
  /** A job's recorded success (hash), so a re-delivered job never runs twice. */
  result = (jobId: string) => `${this.prefix}:job:${jobId}:result`;
  /** An attempt's recorded failure (`retryable|final <reason>`): a re-delivered attempt re-reports it instead of running again. */
  attemptFailure = (jobId: string, attempt: number) => `${this.prefix}:job:${jobId}:attempt:${attempt}:failed`;
  /** HASH attempt number → AttemptRecord JSON: the job's attempt history. */
  attempts = (jobId: string) => `${this.prefix}:job:${jobId}:attempts`;
  /** An attempt's finished run that another job's attempt moved off the member (hash, like `run`; 7 d). */
  parked = (jobId: string, attempt: number) => `${this.prefix}:job:${jobId}:attempt:${attempt}:parked`;
  /** ZSET of every parked record's key, scored by when it expires (ms): read without a SCAN. */
  parkedIndex = () => `${this.prefix}:parked`;
  /** Set when a job is cancelled, so an attempt that starts later fails at once. */
  cancelled = (jobId: string) => `${this.prefix}:job:${jobId}:cancelled`;
  /** Pub/sub: member ids added/changed/removed; job ids to cancel. */
  membersChannel = () => `${this.prefix}:events:members`;
  cancelChannel = () => `${this.prefix}:events:cancel`;
  /** Pub/sub: a member id whose queue just got a job (wakes an on-demand worker at once). */
  jobsChannel = () => `${this.prefix}:events:jobs`;
  /** Pub/sub: `{id, memberId}` — a worker is asked to check a member (`fleet members check`). */
  checkChannel = () => `${this.prefix}:events:check`;
  /** A member check's report (JSON, 5 min), written by the worker that claimed the request. */
  check = (id: string) => `${this.prefix}:check:${id}`;
  /** Held by the one worker that runs a check request (2 min). */
  checkClaim = (id: string) => `${this.prefix}:check:${id}:claim`;
  /** ZSET worker id → its last heartbeat (Redis server time, ms): which workers run now. */
  workers = () => `${this.prefix}:workers`;
  /** Counters an operator (and /metrics) reads. */
  stats = () => `${this.prefix}:stats`;
}

/** BullMQ queue name of a member. */
export const queueName = (memberId: string) => `member-${memberId}`;
