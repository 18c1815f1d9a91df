import {
  type FleetJobs,
  IdempotencyConflict,
  IdempotencyKey,
  PromptRequest,
  type Registry,
  memberOfJob,
  type RedisClient,
} from '@fleet/registry';
import { JOB_STATES, unsupportedOptions } from '@fleet/core';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { HttpError } from '../errors';
import { jobSummary, jobView } from '../views';

const JobParams = z.object({ jobId: z.string().min(1).max(200) });
const JobListQuery = z.object({
  member: z
    .string()
    .regex(/^m[0-9a-f]{12}$/, 'not a member id')
    .optional(),
  state: z.enum(JOB_STATES).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});
/** `follow=false`: the output so far, then `done` with the job as it is now. */
const EventsQuery = z.object({ follow: z.enum(['true', 'false']).default('true') });
const MemberParams = z.object({ id: z.string().regex(/^m[0-9a-f]{12}$/, 'not a member id') });
/** Other headers pass through untouched (validation must not strip them). */
const PromptHeaders = z
  .object({
    'idempotency-key': IdempotencyKey.optional().describe(
      'Sent again with the same key (e.g. after a timeout), the request returns the job the first one made instead of running the prompt twice (200, `created: false`); the same key with a different request is a 409. Honoured while that job is kept (7 days or the member’s last 1000 jobs).',
    ),
  })
  .passthrough();

export function jobRoutes(app: FastifyInstance, deps: { redis: RedisClient; registry: Registry; jobs: FleetJobs; maxPromptBytes: number }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { redis, registry, jobs, maxPromptBytes } = deps;

  const view = { registry, reload: (id: string) => jobs.getJob(id) };
  const findJob = async (jobId: string) => {
    const job = await jobs.getJob(jobId);
    if (!job) throw new HttpError(404, 'not_found', `job ${jobId} not found`);
    return job;
  };

  r.post(
    '/v1/members/:id/prompts',
    {
      bodyLimit: maxPromptBytes * 2 + 64 * 1024,
      schema: {
        tags: ['jobs'],
        summary: 'Enqueue a prompt on a member',
        params: MemberParams,
        headers: PromptHeaders,
        body: PromptRequest,
      },
    },
    async (req, reply) => {
      if (Buffer.byteLength(req.body.prompt) > maxPromptBytes) {
        throw new HttpError(413, 'payload_too_large', `prompt is larger than ${maxPromptBytes} bytes`);
      }
      const member = await registry.getMember(req.params.id);
      if (!member) throw new HttpError(404, 'not_found', `member ${req.params.id} not found`);
      const unsupported = unsupportedOptions(member.provider, req.body);
      if (unsupported) throw new HttpError(400, 'unsupported_option', unsupported);
      const idempotencyKey = req.headers['idempotency-key'];
      let job: Awaited<ReturnType<FleetJobs['enqueue']>>;
      try {
        job = await jobs.enqueue(req.params.id, req.body, idempotencyKey === undefined ? {} : { idempotencyKey });
      } catch (err) {
        if (err instanceof IdempotencyConflict) throw new HttpError(409, 'idempotency_conflict', err.message);
        throw err;
      }
      return reply
        .code(job.created ? 202 : 200)
        .send({ jobId: job.id, memberId: req.params.id, state: await job.getState(), created: job.created });
    },
  );

  r.get(
    '/v1/jobs',
    { schema: { tags: ['jobs'], summary: 'Recent jobs, newest first (of one member or of all)', querystring: JobListQuery } },
    async (req) => {
      const { member, state, limit } = req.query;
      if (member && !(await registry.getMember(member))) throw new HttpError(404, 'not_found', `member ${member} not found`);
      const ids = member ? [member] : (await registry.listMembers()).map((m) => m.id);
      const listed = await jobs.list(ids, state ? [state] : JOB_STATES, limit);
      return { jobs: listed.map(({ job, state: s }) => jobSummary(job, s)) };
    },
  );

  r.get('/v1/jobs/:jobId', { schema: { tags: ['jobs'], params: JobParams } }, async (req) => {
    const job = await findJob(req.params.jobId);
    const run = await registry.getRun(job.data.memberId);
    return jobView(job, view, run && run.jobId === job.id ? run.pid : undefined);
  });

  r.post(
    '/v1/jobs/:jobId/cancel',
    { schema: { tags: ['jobs'], summary: 'Cancel a waiting or running job', params: JobParams } },
    async (req, reply) => {
      await findJob(req.params.jobId);
      const how = await jobs.cancel(req.params.jobId);
      if (how === 'finished') throw new HttpError(409, 'finished', 'job already finished');
      return reply.code(202).send({ jobId: req.params.jobId, cancel: how });
    },
  );

  /**
   * Server-Sent Events: `pid`, `output` (one line each), `state`, then `done` with the final job view.
   * Late subscribers get the backlog first (the output stream is kept in Redis, capped at
   * FLEET_OUTPUT_MAX_LINES entries); `Last-Event-ID` resumes after a reconnect. Entries the cap
   * trimmed before this reader got them are announced by a `gap` event (`{"skipped":N,"before":id}`,
   * N null when unknown), never dropped silently. `?follow=false` ends after the backlog, with `done`
   * holding the job as it is then.
   */
  r.get('/v1/jobs/:jobId/events', { schema: { tags: ['jobs'], params: JobParams, querystring: EventsQuery } }, async (req, reply) => {
    const jobId = req.params.jobId;
    const follow = req.query.follow === 'true';
    if (!memberOfJob(jobId)) throw new HttpError(404, 'not_found', `job ${jobId} not found`);
    await findJob(jobId);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const conn = redis.duplicate();
    conn.on('error', () => {});
    let closed = false;
    req.raw.on('close', () => {
      closed = true;
      conn.disconnect();
    });
    const frame = (event: string, data: string, id?: string) =>
      `${id ? `id: ${id}\n` : ''}event: ${event}\n${data
        .split('\n')
        .map((l) => `data: ${l}`)
        .join('\n')}\n\n`;
    const send = (event: string, data: string, id?: string) => {
      if (!closed) res.write(frame(event, data, id));
    };
    let last = typeof req.headers['last-event-id'] === 'string' ? req.headers['last-event-id'] : '0-0';
    const key = registry.keys.output(jobId);
    let lastBeat = Date.now();
    let lastCheck = 0;
    type Entries = Array<[string, Array<[string, string[]]>]> | null;
    const fieldsOf = (fields: string[] | undefined): Record<string, string> => {
      const f: Record<string, string> = {};
      for (let i = 0; i + 1 < (fields?.length ?? 0); i += 2) f[fields?.[i] as string] = fields?.[i + 1] as string;
      return f;
    };
    // Entries carry their number `n`: a jump means the stream's cap (FLEET_OUTPUT_MAX_LINES) trimmed
    // entries before this reader got them. Said as a `gap` event (never silently): the full output
    // stays in the run's out file. Resuming after an entry that is itself gone: the count is unknown.
    let lastN: number | undefined = 0;
    let resumeLost = false;
    if (last !== '0-0') {
      const at = (await conn.xrange(key, last, last).catch(() => [])) as Array<[string, string[]]>;
      const n = Number(fieldsOf(at[0]?.[1]).n);
      lastN = n > 0 ? n : undefined;
      resumeLost = at.length === 0;
    }
    /** Sends stream entries as SSE events (`type` names the event, `data` is its payload), one write per batch; returns how many. */
    const sendEntries = (r: Entries): number => {
      const entries = r?.[0]?.[1] ?? [];
      const out: string[] = [];
      for (const [id, fields] of entries) {
        const f = fieldsOf(fields);
        const n = Number(f.n);
        if (n > 0) {
          const skipped = lastN !== undefined ? n - lastN - 1 : resumeLost ? null : 0;
          if (skipped === null || skipped > 0) out.push(frame('gap', JSON.stringify({ skipped, before: id })));
          lastN = n;
          resumeLost = false;
        }
        out.push(frame(f.type ?? 'output', f.data ?? '', id));
        last = id;
      }
      if (out.length > 0 && !closed) res.write(out.join(''));
      return entries.length;
    };
    // A reader slower than the stream: wait until the socket has taken what was written (the entries
    // stay in Redis; what the cap trims meanwhile is announced as a gap), never buffer it here.
    const drained = () =>
      res.writableNeedDrain && !closed
        ? new Promise<void>((resolve) => {
            const done = () => {
              res.off('drain', done);
              res.off('close', done);
              resolve();
            };
            res.on('drain', done);
            res.on('close', done);
          })
        : undefined;
    try {
      while (!closed) {
        await drained();
        const n = sendEntries((await conn.xread('COUNT', 2_000, 'BLOCK', 500, 'STREAMS', key, last).catch(() => null)) as Entries);
        // Has the job ended? Asked when the stream is quiet, and at most every 250 ms while it flows.
        if (n === 0 || (n < 2_000 && Date.now() - lastCheck > 250)) {
          lastCheck = Date.now();
          const job = await jobs.getJob(jobId);
          const state = job ? await job.getState() : 'unknown';
          if (!job || state === 'completed' || state === 'failed' || !follow) {
            // Drain whatever arrived meanwhile, then the final view.
            while (sendEntries((await conn.xread('COUNT', 10_000, 'STREAMS', key, last).catch(() => null)) as Entries) === 10_000)
              await drained();
            send('done', JSON.stringify(job ? await jobView(job, view) : { jobId, state: 'unknown' }));
            break;
          }
        }
        if (Date.now() - lastBeat > 15_000) {
          res.write(': keep-alive\n\n');
          lastBeat = Date.now();
        }
      }
    } finally {
      conn.disconnect();
      res.end();
    }
  });
}
