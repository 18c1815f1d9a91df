import type { AttemptRecord } from '@fleet/core';
import { type PromptJobData, type PromptJobResult, type Registry, parseFailure } from '@fleet/registry';
import type { Job } from 'bullmq';

export interface JobView {
  jobId: string;
  memberId: string;
  state: string;
  attempts: number;
  pid?: number;
  enqueuedAt: number;
  startedAt?: number;
  finishedAt?: number;
  result?: string;
  error?: { category: string; message: string };
  sessionId?: string;
  usage?: { inputTokens: number; outputTokens: number };
  costUsd?: number;
  /** The agent's own exit code (not the transport's), for failed jobs too. */
  exitCode?: number;
  /** The session the job asked to resume. */
  sessionRequested?: string;
  /** The requested session was gone, so the job went on in a fresh one: its context was lost. */
  sessionReset?: boolean;
  sessionResetReason?: string;
  /** A job waiting for its agent's usage limit to reset: when it runs again (epoch ms). */
  retryAt?: number;
  /** Every attempt that ended, in order. */
  attemptHistory: AttemptRecord[];
}

/** A job as the API shows it (never the prompt's secrets: the prompt itself is not echoed). */
type PromptJob = Job<PromptJobData, PromptJobResult>;

export interface ViewDeps {
  registry: Registry;
  reload: (id: string) => Promise<PromptJob | undefined>;
}

export async function jobView(fetched: PromptJob, deps: ViewDeps, livePid?: number): Promise<JobView> {
  const { registry, reload } = deps;
  const state = await fetched.getState();
  // The job may have finished between the read and getState(): then read it again, so a final
  // state never comes without its result or error.
  const final = state === 'completed' || state === 'failed';
  const job = final && !fetched.finishedOn ? ((await reload(fetched.id ?? '')) ?? fetched) : fetched;
  const history = await registry.attemptHistory(job.id ?? '');
  const v: JobView = { ...jobSummary(job, state), attemptHistory: history };
  const progress = job.progress as { pid?: number } | number | undefined;
  const pid = job.returnvalue?.pid ?? livePid ?? (typeof progress === 'object' ? progress?.pid : undefined);
  if (pid !== undefined) v.pid = pid;
  if (state === 'completed' && job.returnvalue) {
    v.result = job.returnvalue.result;
    if (job.returnvalue.sessionId) v.sessionId = job.returnvalue.sessionId;
    if (job.returnvalue.usage) v.usage = job.returnvalue.usage;
  }
  // A job waiting for its next attempt shows why the last one failed.
  if (!v.error && job.failedReason && state !== 'completed') {
    const f = parseFailure(job.failedReason);
    if (f) v.error = f;
  }
  const last = history.at(-1);
  if (state === 'delayed' && last?.outcome === 'delayed' && last.retryAt !== undefined) {
    v.retryAt = last.retryAt;
    if (last.category) v.error = { category: last.category, message: last.message ?? '' };
  }
  const exited = history.findLast((a) => a.exitCode !== undefined);
  if (state === 'failed' && exited) v.exitCode = exited.exitCode;
  if (v.costUsd === undefined && history.some((a) => a.costUsd !== undefined)) {
    v.costUsd = history.reduce((sum, a) => sum + (a.costUsd ?? 0), 0);
  }
  const requested = history.find((a) => a.sessionRequested)?.sessionRequested;
  if (requested) v.sessionRequested = requested;
  const reset = history.find((a) => a.category === 'stale_session');
  if (reset) {
    v.sessionReset = true;
    v.sessionResetReason = reset.message ?? 'the requested session no longer exists';
  }
  return v;
}

export type JobSummary = Omit<JobView, 'attemptHistory' | 'result' | 'usage' | 'pid' | 'retryAt'>;

/** A job in a list: where it is and how it ended, without its history (no read beyond the job). */
export function jobSummary(job: PromptJob, state: string): JobSummary {
  const v: JobSummary = {
    jobId: job.id ?? '',
    memberId: job.data.memberId,
    state,
    attempts: job.returnvalue?.attempts ?? (state === 'active' ? job.attemptsMade + 1 : job.attemptsMade),
    enqueuedAt: job.timestamp,
  };
  if (job.processedOn) v.startedAt = job.processedOn;
  if (job.finishedOn) v.finishedAt = job.finishedOn;
  if (state === 'completed' && job.returnvalue) {
    v.exitCode = job.returnvalue.exitCode;
    if (job.returnvalue.costUsd !== undefined) v.costUsd = job.returnvalue.costUsd;
  }
  const f = state === 'failed' ? parseFailure(job.failedReason) : undefined;
  if (f) v.error = f;
  return v;
}
