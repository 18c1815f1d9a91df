import type { JobCategory } from './categories';

/**
 * One attempt of a job as its history keeps it: how it ended, the agent's own exit code and pid,
 * whether its run was killed before the next attempt, and the session it asked for and got.
 */
export interface AttemptRecord {
  attempt: number;
  startedAt: number;
  endedAt: number;
  /** `delayed`: the run ended without spending the attempt (a usage limit); the same attempt runs again at `retryAt`. */
  outcome: 'succeeded' | 'failed' | 'delayed';
  category?: JobCategory;
  message?: string;
  retryable?: boolean;
  pid?: number;
  /** The agent's exit code (not the transport's): absent when the agent never exited on its own. */
  exitCode?: number;
  /** How the run was stopped before the job went on: `killed`, `already_gone`, … (absent: nothing to stop). */
  kill?: string;
  sessionRequested?: string;
  sessionUsed?: string;
  /** What the agent reported this attempt cost, success or not. */
  costUsd?: number;
  /** When a delayed attempt runs again (epoch ms). */
  retryAt?: number;
}

export function encodeAttempt(r: AttemptRecord): string {
  return JSON.stringify(r);
}

/** A stored attempt, or undefined for anything that is not one. */
export function decodeAttempt(s: string): AttemptRecord | undefined {
  try {
    const v = JSON.parse(s) as AttemptRecord;
    return typeof v === 'object' && v !== null && Number.isInteger(v.attempt) && ['succeeded', 'failed', 'delayed'].includes(v.outcome)
      ? v
      : undefined;
  } catch {
    return undefined;
  }
}
