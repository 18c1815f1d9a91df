import type { FleetJobs, Registry } from '@fleet/registry';
import type { Logger } from 'pino';
import type { WorkerConfig } from './config';
import { pruneRunDirs } from './prune-run-dirs';
import { sweep } from './sweeper';
import type { Transports } from './transports';

/**
 * The worker's duties besides jobs: the orphan sweep (at start and every FLEET_SWEEP_INTERVAL_MS) and
 * the run-directory prune (every FLEET_RUN_PRUNE_INTERVAL_MS). Each runs one at a time in a lane of
 * its own, so a member that does not answer a prune never holds back the sweeps; none runs once
 * stopped.
 */
export class Housekeeping {
  private sweeping: Promise<unknown> = Promise.resolve();
  private pruning: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(private readonly d: { registry: Registry; jobs: FleetJobs; transports: Transports; log: Logger; cfg: WorkerConfig }) {}

  sweep(why: string): Promise<unknown> {
    const { registry, jobs, transports, log, cfg } = this.d;
    return this.inTurn('sweeping', 'sweep', async () => {
      const r = await sweep({ registry, jobs, transports, log, killTimeoutMs: cfg.killTimeoutMs });
      return r.killed > 0 || r.removed > 0 || why === 'startup' ? { ...r, why } : undefined;
    });
  }

  /** Deletes finished run directories past their retention. */
  prune(why: string): Promise<unknown> {
    const { registry, transports, log, cfg } = this.d;
    return this.inTurn('pruning', 'run directory prune', async () => {
      const r = await pruneRunDirs({ registry, transports, log, retentionMs: cfg.runRetentionMs });
      return r.removed > 0 || why === 'startup' ? { ...r, why } : undefined;
    });
  }

  stop(): void {
    this.stopped = true;
  }

  /** What `fn` returns is logged as done (nothing when there is nothing to tell); a failure is logged, not thrown. */
  private inTurn(lane: 'sweeping' | 'pruning', what: string, fn: () => Promise<object | undefined>): Promise<unknown> {
    this[lane] = this[lane].then(async () => {
      if (this.stopped) return;
      const t = Date.now();
      try {
        const told = await fn();
        if (told) this.d.log.info({ ...told, ms: Date.now() - t }, `${what} done`);
      } catch (err) {
        this.d.log.error({ err: (err as Error).message }, `${what} failed`);
      }
    });
    return this[lane];
  }
}
