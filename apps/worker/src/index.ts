export { loadConfig, type WorkerConfig } from './config';
export { FleetWorker } from './fleet-worker';
export { fleetBackoff, RetryableJobError } from './errors';
