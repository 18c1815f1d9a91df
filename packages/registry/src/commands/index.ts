import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RedisClient } from '../connect';

/** Each state transition is one Lua script in this folder, registered on the connection by name. */
export const SCRIPTS = {
  beginAttempt: 8,
  acquireFence: 1,
  renewFence: 2,
  releaseFence: 1,
  writeRun: 4,
  updateRun: 1,
  deleteRun: 1,
  adoptRun: 2,
  dropLeftover: 2,
  parkRun: 4,
  adoptParked: 4,
  clearSession: 1,
  recordSuccess: 5,
  recordAttempt: 3,
  appendOutput: 2,
  beatWorker: 1,
  liveWorkers: 1,
} as const;

export type ScriptName = keyof typeof SCRIPTS;

const dir = dirname(fileURLToPath(import.meta.url));
const sources = Object.fromEntries(Object.keys(SCRIPTS).map((n) => [n, readFileSync(join(dir, `${n}.lua`), 'utf8')])) as Record<
  ScriptName,
  string
>;

type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;
const installed = new WeakSet<RedisClient>();

export function installScripts(redis: RedisClient): void {
  if (installed.has(redis)) return;
  for (const [name, numberOfKeys] of Object.entries(SCRIPTS)) {
    redis.defineCommand(name, { numberOfKeys, lua: sources[name as ScriptName] });
  }
  installed.add(redis);
}

export function script(redis: RedisClient, name: ScriptName): ScriptFn {
  installScripts(redis);
  const fn = (redis as unknown as Record<string, ScriptFn>)[name];
  if (!fn) throw new Error(`script ${name} not installed`);
  return fn.bind(redis);
}
