import { type Json, api } from './client';
import { followJob } from './events';
import { Transcript, summary } from './render';
import { Spinner, paint } from './term';

export interface WatchOptions {
  follow: boolean;
  /** Print the agent's raw event lines instead of the transcript. */
  json: boolean;
  /** Print nothing while it runs; the result comes at the end. */
  quiet?: boolean;
  /** What to do on Ctrl-C (run: cancel the job; logs: just stop). */
  onInterrupt?: () => Promise<unknown>;
}

/** Shows a job's output as it comes (from its backlog on), then its outcome; returns the final view. */
export async function watchJob(jobId: string, o: WatchOptions): Promise<Json> {
  const err = paint(process.stderr);
  const spinner = new Spinner(o.follow ? 'queued' : 'reading');
  const transcript = new Transcript(paint(process.stdout), (s) => {
    spinner.clear();
    process.stdout.write(s);
  });
  const note = (s: string) => {
    spinner.clear();
    process.stderr.write(`${s}\n`);
  };
  const onSignal = () => {
    spinner.stop();
    if (!o.onInterrupt) process.exit(130);
    note(`\ncancelling ${jobId}…`);
    void o.onInterrupt().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  let job: Json;
  try {
    job = await followJob(jobId, {
      follow: o.follow,
      onReconnect: (why, n) => note(err.dim(`${why}; connecting again (${n})`)),
      onEvent: (e) => {
        if (e.event === 'pid') spinner.set(`running (pid ${e.data})`);
        else if (e.event === 'state') spinner.set(e.data);
        else if (e.event === 'output' && !o.quiet) {
          if (o.json) transcript.raw(`${e.data}\n`);
          else transcript.line(e.data);
        } else if (e.event === 'gap' && !o.quiet) {
          const skipped = (JSON.parse(e.data) as { skipped: number | null }).skipped;
          note(
            `… ${skipped ?? 'some'} lines not shown (the live stream keeps the last FLEET_OUTPUT_MAX_LINES; the run's out file has all)`,
          );
        }
      },
    });
  } finally {
    spinner.stop();
    process.off('SIGINT', onSignal);
  }
  transcript.end();
  if (!o.follow) return job;
  const facts = summary(job, transcript.facts);
  const tail = facts ? ` · ${facts}` : '';
  if (job.state === 'completed') {
    process.stderr.write(
      `${err.green('✓ completed')} (exit ${job.exitCode}, attempts ${job.attempts}${job.sessionId ? `, session ${job.sessionId}` : ''})${tail}\n`,
    );
    if (job.sessionReset) process.stderr.write(err.dim(`  session ${job.sessionRequested} was gone; a fresh one ran (context lost)\n`));
  } else {
    const e = job.error as { category?: string; message?: string } | undefined;
    process.stderr.write(
      `${err.red(`✗ ${job.state}`)}: [${e?.category ?? 'unknown'}] ${e?.message ?? ''}${job.exitCode !== undefined ? ` (exit ${job.exitCode})` : ''}${tail}\n`,
    );
  }
  return job;
}

/** The job's outcome as an exit code: the agent's own where it is known. */
export function exitCodeOf(job: Json): number {
  if (typeof job.exitCode === 'number') return job.exitCode;
  return job.state === 'completed' ? 0 : 1;
}

export const cancelJob = (jobId: string) => api('POST', `/v1/jobs/${encodeURIComponent(jobId)}/cancel`);
