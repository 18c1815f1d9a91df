import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';

/**
 * Live output of one job: each line goes to a capped Redis stream (`<prefix>:job:<id>:out`, read by
 * SSE with backlog for late subscribers) and, batched, to job.log (Bull Board). Writes are batched
 * (every flushMs or maxBatch lines) into one pipeline, so a chatty agent costs few round trips.
 */
export class OutputSink {
  private batch: string[] = [];
  /** Output bytes covered by the lines pushed so far (the adoption resume point once flushed). */
  private pushedOffset: number;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  lines = 0;

  constructor(
    private readonly redis: Redis,
    private readonly streamKey: string,
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

  /** Structured events (pid, state) go on the same stream, in order with the lines. */
  async event(type: string, value: string): Promise<void> {
    await this.flush();
    await this.redis.xadd(this.streamKey, 'MAXLEN', '~', String(this.opts.maxLines), '*', 'type', type, 'data', value);
  }

  push(line: string): void {
    this.batch.push(line);
    this.pushedOffset += Buffer.byteLength(line) + 1;
    this.lines++;
    if (this.batch.length >= (this.opts.maxBatch ?? 200)) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.opts.flushMs ?? 100);
  }

  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const lines = this.batch;
    const offset = this.pushedOffset;
    this.batch = [];
    if (lines.length === 0) return this.flushing;
    this.flushing = this.flushing.then(async () => {
      const p = this.redis.pipeline();
      for (const l of lines) p.xadd(this.streamKey, 'MAXLEN', '~', String(this.opts.maxLines), '*', 'type', 'output', 'data', l);
      p.expire(this.streamKey, 7 * 86_400);
      await p.exec();
      await this.job.log(lines.join('\n')).catch(() => 0);
      await this.opts.onFlushed?.(offset);
    });
    return this.flushing;
  }
}
