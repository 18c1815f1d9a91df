import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedis } from '@fleet/testkit';
import { Redis } from 'ioredis';
import { type BenchRow, QUICK } from './lib';
import { ours, rawBullmq } from './orchestration';

/**
 * Redis cost per job: every command a side sends, and every command it runs inside Lua scripts, read
 * with MONITOR on a private redis-server that nothing else uses, while `n` jobs `true` go through one
 * member (ours) or one raw BullMQ queue + spawn (baseline). Idle polling during the run counts too,
 * on both sides alike; the bench's own polls for the end are left out.
 */
export async function benchRedisCost(): Promise<BenchRow[]> {
  const n = QUICK ? 20 : 200;
  const redis = await startRedis();
  const saved = process.env.FLEET_BENCH_REDIS_URL;
  process.env.FLEET_BENCH_REDIS_URL = redis.url;
  try {
    const raw = await counted(redis.url, () => rawBullmq(redis.url, n, 1));
    const fleet = await counted(redis.url, () => ours(n, 1));
    const top = (c: Counts) =>
      [...c.sent.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 12)
        .map(([cmd, k]) => `${cmd} ${(k / n).toFixed(1)}`)
        .join(', ');
    const inLua = (c: Counts) => [...c.lua.values()].reduce((a, b) => a + b, 0);
    const sent = (c: Counts) => [...c.sent.values()].reduce((a, b) => a + b, 0);
    return [
      {
        name: `Redis commands per job: ${n} jobs \`true\`, one member (sent by clients + run inside scripts)`,
        baseline: 'raw BullMQ worker + spawn',
        baselineValue: (sent(raw) + inLua(raw)) / n,
        ours: 'fleet-exec',
        oursValue: (sent(fleet) + inLua(fleet)) / n,
        unit: 'commands/job',
        ratio: (sent(fleet) + inLua(fleet)) / (sent(raw) + inLua(raw)),
        better: 'lower',
        target: '≤ 3×',
        notes: `sent per job: raw ${(sent(raw) / n).toFixed(1)}, ours ${(sent(fleet) / n).toFixed(1)}; inside scripts per job: raw ${(inLua(raw) / n).toFixed(1)}, ours ${(inLua(fleet) / n).toFixed(1)}; ours sent, per job: ${top(fleet)}; raw sent, per job: ${top(raw)}`,
      },
    ];
  } finally {
    process.env.FLEET_BENCH_REDIS_URL = saved;
    if (saved === undefined) delete process.env.FLEET_BENCH_REDIS_URL;
    await redis.stop();
  }
}

interface Counts {
  /** Commands clients sent (EVALSHA counts as one), by name. */
  sent: Map<string, number>;
  /** Commands run inside scripts, by name. */
  lua: Map<string, number>;
}

async function counted(url: string, run: () => Promise<unknown>): Promise<Counts> {
  const c: Counts = { sent: new Map(), lua: new Map() };
  const conn = new Redis(url);
  const monitor = await conn.monitor();
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    let cmd = (args[0] ?? '').toLowerCase();
    if (cmd === 'evalsha') cmd = `${SCRIPT_NAMES.get(args[1] ?? '') ?? 'evalsha'}.lua`;
    // The bench's own wait for the last completion (ours() polls the counter) is not the fleet's.
    if (cmd === 'hget' && args[1]?.endsWith(':stats') && args[2] === 'jobs_completed') return;
    const into = source === 'lua' ? c.lua : c.sent;
    into.set(cmd, (into.get(cmd) ?? 0) + 1);
  });
  try {
    await run();
    // Commands still in flight on the monitor's connection.
    await new Promise((r) => setTimeout(r, 200));
  } finally {
    monitor.disconnect();
    conn.disconnect();
  }
  return c;
}

/** Script SHA1 → name, ours (packages/registry/src/commands) and BullMQ's, to say what each EVALSHA was. */
const SCRIPT_NAMES = (() => {
  const names = new Map<string, string>();
  const sha = (s: string) => createHash('sha1').update(s).digest('hex');
  const ourDir = join(dirname(fileURLToPath(import.meta.url)), '../packages/registry/src/commands');
  for (const f of readdirSync(ourDir).filter((f) => f.endsWith('.lua')))
    names.set(sha(readFileSync(join(ourDir, f), 'utf8')), f.slice(0, -4));
  const require = createRequire(import.meta.url);
  const bullDir = join(dirname(require.resolve('bullmq')), 'scripts');
  for (const f of readdirSync(bullDir).filter((f) => f.endsWith('.js') && f !== 'index.js')) {
    for (const s of Object.values(require(join(bullDir, f)) as Record<string, { name?: string; content?: string }>))
      if (s?.name && s.content) names.set(sha(s.content), `bullmq:${s.name}`);
  }
  return names;
})();
