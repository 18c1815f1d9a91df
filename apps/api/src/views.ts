import { type PromptJobData, type PromptJobResult, parseFailure } from '@fleet/registry';
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
  exitCode?: number;
}

/** A job as the API shows it (never the prompt's secrets: the prompt itself is not echoed). */
type PromptJob = Job<PromptJobData, PromptJobResult>;

export async function jobView(
  fetched: PromptJob,
  reload: (id: string) => Promise<PromptJob | undefined>,
  livePid?: number,
): Promise<JobView> {
  const state = await fetched.getState();
  // The job may have finished between the read and getState(): then read it again, so a final
  // state never comes without its result or error.
  const final = state === 'completed' || state === 'failed';
  const job = final && !fetched.finishedOn ? ((await reload(fetched.id ?? '')) ?? fetched) : fetched;
  const v: JobView = {
    jobId: job.id ?? '',
    memberId: job.data.memberId,
    state,
    attempts: job.returnvalue?.attempts ?? (state === 'active' ? job.attemptsMade + 1 : job.attemptsMade),
    enqueuedAt: job.timestamp,
  };
  const progress = job.progress as { pid?: number } | number | undefined;
  const pid = job.returnvalue?.pid ?? livePid ?? (typeof progress === 'object' ? progress?.pid : undefined);
  if (pid !== undefined) v.pid = pid;
  if (job.processedOn) v.startedAt = job.processedOn;
  if (job.finishedOn) v.finishedAt = job.finishedOn;
  if (state === 'completed' && job.returnvalue) {
    v.result = job.returnvalue.result;
    v.exitCode = job.returnvalue.exitCode;
    if (job.returnvalue.sessionId) v.sessionId = job.returnvalue.sessionId;
    if (job.returnvalue.usage) v.usage = job.returnvalue.usage;
  }
  if (state === 'failed' || (job.failedReason && state !== 'completed')) {
    const f = parseFailure(job.failedReason);
    if (f) v.error = f;
  }
  return v;
}
