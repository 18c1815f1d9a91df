import type { Registry } from '@fleet/registry';
import type { Job } from 'bullmq';

/** One entry of the output stream: an agent line, or a structured event (pid, state) in order with them. */
type Entry = { type: string; data: string };

/**
 * Batches sent and not yet written, at most: past it, push() hands back a promise and the run's
 * reader waits (the agent is not held: its out file keeps every byte, and the reader catches up).
 */
const MAX_IN_FLIGHT = 16;

/**
 * Live output of one job: each line goes to a capped Redis stream (`<prefix>:job:<id>:out`, read by
 * SSE with backlog for late subscribers) and, batched, to job.log (Bull Board). Writes are batched
 * (every flushMs or maxBatch lines) into one script call (appendOutput.lua), so a chatty agent costs few round trips;
 * events are queued the same way (a short run writes its whole stream in one round trip at its
 * end), not awaited on the run's path unless Redis falls behind (see MAX_IN_FLIGHT).
 */
export class OutputSink {
  private batch: Entry[] = [];
  /** Output bytes covered by the lines pushed so far (the adoption resume point once flushed). */
  private pushedOffset: number;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private inFlight = 0;
  /** The last write error (ioredis retries; this shows something was lost). The processor logs it at the run's end. */
  lastError: Error | undefined;
  lines = 0;

  constructor(
    private readonly registry: Registry,
    private readonly jobId: string,
    private readonly job: Job,
    private readonly opts: {
      maxLines: number;
      flushMs?: number;
      maxBatch?: number;
      startOffset?: number;
      onFlushed?: (offset: number) => Promise<unknown> | undefined;
    },
  ) {
    this.pushedOffset = opts.startOffset ?? 0;
  }

  /** A structured event (pid, state): queued in order with the lines, flushed with them. */
  event(type: string, value: string): void {
    this.batch.push({ type, data: value });
    this.schedule();
  }

  /** Queues a line; while too many batches are unwritten, resolves once they are (await it to pause the reader). */
  push(line: string): Promise<void> | undefined {
    this.batch.push({ type: 'output', data: line });
    this.pushedOffset += Buffer.byteLength(line) + 1;
    this.lines++;
    this.schedule();
    return this.inFlight >= MAX_IN_FLIGHT ? this.flushing : undefined;
  }

  private schedule(): void {
    if (this.batch.length >= (this.opts.maxBatch ?? 200)) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.opts.flushMs ?? 100);
  }

  /** Writes what is queued; resolves when everything queued so far is written. Never rejects. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const entries = this.batch;
    const offset = this.pushedOffset;
    this.batch = [];
    if (entries.length === 0) return this.flushing;
    const lines = entries.filter((e) => e.type === 'output').map((e) => e.data);
    // Sent now, not after the previous batch's reply: commands on one connection run in order, so
    // batches are pipelined. The stream lives 7 days from its last write.
    const appended = this.registry.appendOutput(this.jobId, entries, { maxEntries: this.opts.maxLines, ttlS: 7 * 86_400 });
    const logged = lines.length > 0 ? this.job.log(lines.join('\n')).catch(() => 0) : undefined;
    appended.catch(() => undefined); // awaited below, in order
    this.inFlight++;
    this.flushing = this.flushing.then(async () => {
      try {
        await appended;
        // The resume point moves only after the lines it covers are in the stream.
        if (lines.length > 0) await this.opts.onFlushed?.(offset);
        await logged;
      } catch (err) {
        this.lastError = err as Error;
      } finally {
        this.inFlight--;
      }
    });
    return this.flushing;
  }
}
