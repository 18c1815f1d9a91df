/**
 * Items pushed by a producer, read as an async iterable: a reader waits while it is empty, until
 * end(). With `highWater`, the queue is `full` from that many unread items until the reader has
 * taken half of them: the producer pauses (`onFull`, or by awaiting `room()`) and resumes (`onRoom`),
 * so a reader slower than its source never makes the queue grow without bound.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private done = false;
  private wake: (() => void) | undefined;
  private isFull = false;
  private waitingForRoom: Array<() => void> = [];

  constructor(private readonly opts: { highWater?: number; onFull?: () => void; onRoom?: () => void } = {}) {}

  get ended(): boolean {
    return this.done;
  }

  get full(): boolean {
    return this.isFull;
  }

  push(item: T): void {
    this.items.push(item);
    const high = this.opts.highWater;
    if (high !== undefined && !this.isFull && this.items.length >= high) {
      this.isFull = true;
      this.opts.onFull?.();
    }
    this.notify();
  }

  /** Resolves once the queue has room again, or has ended (at once if it is not full). */
  room(): Promise<void> {
    if (!this.isFull || this.done) return Promise.resolve();
    return new Promise((r) => this.waitingForRoom.push(r));
  }

  /** No more items: a reader gets what is queued, then the end. */
  end(): void {
    this.done = true;
    this.notify();
    this.freeRoom();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private taken(): void {
    if (this.isFull && this.items.length <= (this.opts.highWater ?? 0) / 2) {
      this.isFull = false;
      this.opts.onRoom?.();
      this.freeRoom();
    }
  }

  private freeRoom(): void {
    for (const r of this.waitingForRoom.splice(0)) r();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      if (this.items.length > 0) {
        const item = this.items.shift() as T;
        this.taken();
        yield item;
        continue;
      }
      if (this.done) return;
      await new Promise<void>((r) => {
        this.wake = r;
      });
    }
  }
}
