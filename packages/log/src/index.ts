/** pino JSON logs with every field that may hold a secret redacted, for every process. */
import { type Logger, pino } from 'pino';

/** Paths that may hold secrets anywhere in a log object: redacted, never printed. */
const REDACT = [
  'privateKey',
  'passphrase',
  'password',
  'secret',
  'apiToken',
  'authorization',
  '*.privateKey',
  '*.passphrase',
  '*.password',
  '*.secret',
  '*.apiToken',
  '*.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
];

export function createLogger(level: string, base: Record<string, unknown> = {}, dest?: NodeJS.WritableStream): Logger {
  return pino({ level, base: { ...base }, redact: { paths: REDACT, censor: '[redacted]' } }, dest as pino.DestinationStream | undefined);
}
