/**
 * Why an agent run failed, decided from the agent's own output and exit code only. `config`: the
 * agent refused how it was started (a flag its user may not use); the message says the fix.
 */
export const ERROR_CATEGORIES = [
  'auth',
  'overloaded',
  'server',
  'stale_session',
  'max_turns',
  'budget',
  'workspace_not_trusted',
  'config',
  'agent_not_found',
  'unknown',
] as const;
export type ErrorCategory = (typeof ERROR_CATEGORIES)[number];

/** Retry is decided by category alone. stale_session retries at once without resume. */
export const RETRYABLE: Readonly<Record<ErrorCategory, boolean>> = {
  auth: false,
  overloaded: true,
  server: true,
  stale_session: true,
  max_turns: false,
  budget: false,
  workspace_not_trusted: false,
  config: false,
  agent_not_found: false,
  unknown: false,
};

/** Categories a failed job carries: the agent's own plus the run protocol's. */
export const JOB_CATEGORIES = [
  ...ERROR_CATEGORIES,
  'cancelled',
  'timeout',
  'killed',
  'unreachable',
  'fence_lost',
  'not_started',
  'member_not_found',
  'internal',
] as const;
export type JobCategory = (typeof JOB_CATEGORIES)[number];
