import { createLogger } from '@fleet/log';
import { connectRedis } from '@fleet/registry';
import { buildApi } from './app';
import { loadApiConfig } from './config';

/** API process entry: `tsx apps/api/src/main.ts`. */
const cfg = loadApiConfig();
const log = createLogger(cfg.logLevel, { service: 'fleet-api' });
const redis = connectRedis(cfg.redisUrl, { maxRetriesPerRequest: null });
redis.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
const api = await buildApi(cfg, redis, log);
await api.app.listen({ host: cfg.host, port: cfg.port });
const stop = async () => {
  await api.close();
  redis.disconnect();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
