/**
 * Why an agent run failed, decided from the agent's own output and exit code only. `config`: the
 * agent refused how it was started (a flag its user may not use); the message says the fix.
 * `usage_limit`: the account's plan limit; the job waits for its reset without spending an attempt.
 */
export const ERROR_CATEGORIES = [
  'auth',
  'overloaded',
  'usage_limit',
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
  usage_limit: false,
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
  /** The member's host refuses us in a way a retry cannot fix (SSH auth, host key, no SFTP); the message says the fix. */
  'member_config',
  'fence_lost',
  'not_started',
  'member_not_found',
  'internal',
] as const;
export type JobCategory = (typeof JOB_CATEGORIES)[number];
