import type { MemberCheckReport } from '@fleet/core';
import { type FleetJobs, type MemberChecks, MemberInput, MemberPatch, type Registry } from '@fleet/registry';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { HttpError } from '../errors';

const IdParams = z.object({ id: z.string().regex(/^m[0-9a-f]{12}$/, 'not a member id') });

/** A worker checks the member (the API holds no link to members); 503 when no worker runs. */
export async function requestCheck(checks: MemberChecks, memberId: string, timeoutS = 60): Promise<MemberCheckReport> {
  const r = await checks.request(memberId, timeoutS * 1000);
  if (r === 'no_worker')
    throw new HttpError(
      503,
      'no_worker',
      'no worker is running: a member check runs in a worker, which holds the links to members; start one',
    );
  if (r === 'timeout') throw new HttpError(504, 'timeout', `no worker finished checking member ${memberId} within ${timeoutS} s`);
  return r;
}

export function memberRoutes(app: FastifyInstance, deps: { registry: Registry; jobs: FleetJobs; checks: MemberChecks }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { registry, jobs } = deps;

  const notFound = (id: string) => new HttpError(404, 'not_found', `member ${id} not found`);

  r.post(
    '/v1/members',
    { schema: { tags: ['members'], summary: 'Register a member (secrets are stored apart and never returned)', body: MemberInput } },
    async (req, reply) => {
      const m = await registry.addMember(req.body);
      await jobs.ensureQueue(m.id);
      return reply.code(201).send(m);
    },
  );

  r.get('/v1/members', { schema: { tags: ['members'], summary: 'List members' } }, async () => ({ members: await registry.listMembers() }));

  r.get('/v1/members/:id', { schema: { tags: ['members'], params: IdParams } }, async (req) => {
    const m = await registry.getMember(req.params.id);
    if (!m) throw notFound(req.params.id);
    const run = await registry.getRun(m.id);
    return { ...m, run: run ? { jobId: run.jobId, attempt: run.attempt, pid: run.pid, state: run.state, startedAt: run.startedAt } : null };
  });

  r.get(
    '/v1/members/:id/check',
    {
      schema: {
        tags: ['members'],
        summary:
          'Check a member: reachable, host key, SFTP or its fallback, work folder, agent binary and version, login, root and permission mode — one line each with the fix',
        params: IdParams,
        querystring: z.object({ timeoutS: z.coerce.number().int().min(5).max(300).optional() }),
      },
    },
    async (req) => {
      if (!(await registry.getMember(req.params.id))) throw notFound(req.params.id);
      return requestCheck(deps.checks, req.params.id, req.query.timeoutS);
    },
  );

  r.patch('/v1/members/:id', { schema: { tags: ['members'], params: IdParams, body: MemberPatch } }, async (req) => {
    if (!(await registry.getMember(req.params.id))) throw notFound(req.params.id);
    return registry.updateMember(req.params.id, req.body);
  });

  r.delete(
    '/v1/members/:id',
    {
      schema: {
        tags: ['members'],
        summary: 'Remove a member (409 if busy unless ?force=true, which cancels its jobs first)',
        params: IdParams,
        querystring: z.object({ force: z.enum(['true', 'false']).optional() }),
      },
    },
    async (req, reply) => {
      const id = req.params.id;
      if (!(await registry.getMember(id))) throw notFound(id);
      const q = jobs.queue(id);
      const counts = await q.getJobCounts('active', 'waiting', 'delayed', 'prioritized');
      const pending = Object.values(counts).reduce((a, b) => a + b, 0);
      const run = await registry.getRun(id);
      if ((pending > 0 || run) && req.query.force !== 'true') {
        throw new HttpError(
          409,
          'busy',
          `member ${id} has ${pending} queued/active job(s)${run ? ` and a run (pid ${run.pid ?? '?'})` : ''}; use ?force=true to cancel them`,
        );
      }
      for (const j of await q.getJobs(['active', 'waiting', 'delayed', 'prioritized'])) if (j?.id) await jobs.cancel(j.id);
      // Wait (bounded) until the worker has killed the run and released the member.
      const deadline = Date.now() + 15_000;
      while ((await registry.getRun(id)) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
      if (await registry.getRun(id)) throw new HttpError(409, 'busy', `member ${id} still has a run after cancelling; try again`);
      await registry.removeMember(id);
      await jobs.removeQueue(id);
      return reply.code(204).send();
    },
  );
}
