import { loadConfig } from './config';
import { FleetWorker } from './fleet-worker';
import { createLogger } from '@fleet/log';

/** Worker process entry: `tsx apps/worker/src/main.ts` (configuration from the environment). */
const cfg = loadConfig();
const log = createLogger(cfg.logLevel, { service: 'fleet-worker', workerId: cfg.workerId });
const worker = new FleetWorker(cfg, log);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'stopping: no new jobs; waiting for running ones');
  try {
    await worker.stop();
  } finally {
    process.exit(0);
  }
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

worker.start().catch((err: Error) => {
  log.fatal({ err: err.message }, 'worker failed to start');
  process.exit(1);
});
