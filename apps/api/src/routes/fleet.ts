import { type FleetJobs, type Registry, type RedisClient, WorkerPresence } from '@fleet/registry';
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Registry as PromRegistry } from 'prom-client';

export async function fleetStatus(registry: Registry, jobs: FleetJobs) {
  const members = await registry.listMembers();
  const out = [];
  for (const m of members) {
    const run = await registry.getRun(m.id);
    const counts = await jobs.queue(m.id).getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized');
    out.push({
      id: m.id,
      name: m.name,
      transport: m.transport,
      provider: m.provider,
      status: run ? 'busy' : 'idle',
      activeJob: run?.jobId ?? null,
      pid: run?.pid ?? null,
      runState: run?.state ?? null,
      since: run?.startedAt ?? null,
      queue: counts,
      tokensIn: m.tokensIn,
      tokensOut: m.tokensOut,
      costUsd: m.costUsd,
    });
  }
  // Workers heard from lately: 0 means nothing will run these queues.
  return { workers: await new WorkerPresence(registry.redis, registry.keys).live(), members: out };
}

/**
 * Prometheus metrics, computed at scrape time from Redis (so every worker process counts): jobs by
 * outcome and category, run duration and kill latency sums, orphans killed, queue depth, cost and tokens per member.
 */
export function metricsRoute(app: FastifyInstance, deps: { redis: RedisClient; registry: Registry; jobs: FleetJobs }) {
  const reg = new PromRegistry();
  const { registry, jobs } = deps;
  let snapshot: Record<string, number> = {};
  new Counter({
    name: 'fleet_jobs_total',
    help: 'Finished jobs by outcome and category',
    labelNames: ['outcome', 'category'],
    registers: [reg],
    collect() {
      this.reset();
      for (const [k, v] of Object.entries(snapshot)) {
        if (k === 'jobs_completed') this.inc({ outcome: 'completed', category: 'none' }, v);
        else if (k.startsWith('jobs_failed:')) this.inc({ outcome: 'failed', category: k.slice(12) }, v);
      }
    },
  });
  const sumCount = (name: string, help: string, key: string) =>
    new Counter({
      name,
      help,
      registers: [reg],
      collect() {
        this.reset();
        this.inc(snapshot[key] ?? 0);
      },
    });
  sumCount('fleet_run_duration_ms_sum', 'Total run time of finished attempts (ms)', 'run_ms_sum');
  sumCount('fleet_run_duration_count', 'Finished attempts timed', 'run_count');
  sumCount('fleet_kill_latency_ms_sum', 'Total time from kill request to confirmed gone (ms)', 'kill_ms_sum');
  sumCount('fleet_kill_count', 'Kills confirmed', 'kill_count');
  sumCount('fleet_orphans_killed_total', 'Orphan runs killed by the sweeper', 'orphans_killed');
  sumCount('fleet_leftovers_killed_total', 'Leftover runs killed before a spawn', 'leftovers_killed');
  sumCount('fleet_leftovers_parked_total', "Other jobs' finished runs kept for their job before a spawn", 'leftovers_parked');
  const depth = new Gauge({
    name: 'fleet_queue_depth',
    help: 'Jobs per member queue and state',
    labelNames: ['member', 'state'],
    registers: [reg],
  });
  const cost = new Gauge({
    name: 'fleet_member_cost_usd',
    help: 'What the agent runs on the member reported costing, every attempt (USD)',
    labelNames: ['member', 'name'],
    registers: [reg],
  });
  const tokens = new Gauge({
    name: 'fleet_member_tokens',
    help: "Tokens of the member's successful runs",
    labelNames: ['member', 'name', 'direction'],
    registers: [reg],
  });
  const workers = new Gauge({
    name: 'fleet_workers',
    help: 'Worker processes heard from lately (heartbeats)',
    registers: [reg],
  });
  const busy = new Gauge({
    name: 'fleet_member_busy',
    help: '1 if the member runs an agent now',
    labelNames: ['member'],
    registers: [reg],
  });

  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    snapshot = await registry.stats();
    workers.set(await new WorkerPresence(registry.redis, registry.keys).live());
    for (const g of [depth, busy, cost, tokens]) g.reset();
    for (const m of await registry.listMembers()) {
      const id = m.id;
      const counts = await jobs.queue(id).getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed');
      for (const [state, n] of Object.entries(counts)) depth.set({ member: id, state }, n);
      busy.set({ member: id }, (await registry.getRun(id)) ? 1 : 0);
      cost.set({ member: id, name: m.name }, m.costUsd);
      tokens.set({ member: id, name: m.name, direction: 'in' }, m.tokensIn);
      tokens.set({ member: id, name: m.name, direction: 'out' }, m.tokensOut);
    }
    return reply.type(reg.contentType).send(await reg.metrics());
  });
}
