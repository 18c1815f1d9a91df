/** API configuration from the environment (README: configuration table). */
export interface ApiConfig {
  host: string;
  port: number;
  redisUrl: string;
  prefix: string;
  bullPrefix: string;
  apiToken: string;
  /** Largest accepted prompt in bytes (413 above). */
  maxPromptBytes: number;
  /** Bull Board write actions (retry, clean, remove…); read-only unless enabled. */
  boardWrite: boolean;
  logLevel: string;
}

export function loadApiConfig(env = process.env): ApiConfig {
  const prefix = env.FLEET_PREFIX ?? 'fleet';
  const token = env.FLEET_API_TOKEN ?? '';
  if (token.length < 16) throw new Error('FLEET_API_TOKEN must be set (at least 16 characters)');
  return {
    host: env.HOST ?? '127.0.0.1',
    port: Number(env.PORT ?? 8080),
    redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    prefix,
    bullPrefix: env.FLEET_BULL_PREFIX ?? `${prefix}:q`,
    apiToken: token,
    maxPromptBytes: Number(env.FLEET_MAX_PROMPT_BYTES ?? 4 * 1024 * 1024),
    boardWrite: env.FLEET_BOARD_WRITE === '1' || env.FLEET_BOARD_WRITE === 'true',
    logLevel: env.FLEET_LOG_LEVEL ?? 'info',
  };
}
