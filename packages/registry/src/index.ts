export { Keys, queueName } from './keys';
export * from './schema';
export {
  Registry,
  FenceHeldError,
  NotFoundError,
  fenceToken,
  type AttemptStart,
  type NewRun,
  type RunRecord,
  type RunState,
} from './registry';
export { installScripts } from './commands/index';
export * from './jobs';
export { MemberChecks, CheckRequest } from './checks';
export { WorkerPresence, WORKER_HEARTBEAT_MS, WORKER_LIVE_MS } from './workers';
export {
  JOB_CATEGORIES,
  type JobCategory,
  type PromptJobResult,
  parseFailure,
  formatFailure,
  encodeResult,
  decodeResult,
} from '@fleet/core';
export { connectRedis, assertPrefixFits, type RedisClient } from './connect';
