export { loadConfig, type WorkerConfig } from './config';
export { FleetWorker } from './fleet-worker';
export { createLogger, REDACT } from './logger';
export { fleetBackoff, RetryableJobError } from './errors';
