import { PERMISSION_MODES, unsupportedOptions } from '@fleet/core';
import { type FleetJobs, IdempotencyConflict, IdempotencyKey, type MemberChecks, type Registry } from '@fleet/registry';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { FastifyInstance } from 'fastify';
import { ZodError, z } from 'zod';
import { HttpError } from './errors';
import { fleetStatus } from './routes/fleet';
import { requestCheck } from './routes/members';
import { jobView } from './views';

const text = (v: unknown) => ({ content: [{ type: 'text' as const, text: JSON.stringify(v, null, 2) }] });
const fail = (message: string) => ({ isError: true, content: [{ type: 'text' as const, text: message }] });

/** A member by id, else by name. */
async function findMember(registry: Registry, ref: string) {
  const members = await registry.listMembers();
  return members.find((x) => x.id === ref) ?? members.find((x) => x.name === ref);
}

type McpDeps = { registry: Registry; jobs: FleetJobs; checks: MemberChecks; maxPromptBytes: number };

function buildServer(deps: McpDeps): McpServer {
  const { registry, jobs } = deps;
  const server = new McpServer({ name: 'fleet-exec', version: '0.1.0' });

  server.registerTool(
    'execute_prompt',
    {
      description: 'Run a prompt on a member (one agent process per member, ever). Returns the job id, or waits for the result.',
      inputSchema: {
        member: z.string().describe('member id or name'),
        prompt: z.string().min(1),
        resume: z.boolean().optional(),
        model: z.string().optional(),
        maxTurns: z.number().int().positive().optional(),
        permissionMode: z.enum(PERMISSION_MODES).optional().describe("how far the agent may act without asking (the member's by default)"),
        maxBudgetUsd: z.number().positive().optional().describe('stop once the run costs this much (claude)'),
        fallbackModel: z.string().optional().describe('model to use when the chosen one is overloaded (claude)'),
        allowedTools: z
          .array(z.string())
          .optional()
          .describe('tool rules the agent may use without asking, e.g. Edit, Bash(git *) (claude)'),
        wait: z.boolean().optional().describe('wait for the result (up to waitTimeoutS)'),
        waitTimeoutS: z.number().int().positive().max(3600).optional(),
        idempotencyKey: IdempotencyKey.optional().describe(
          'sent again with the same key (e.g. after a timeout), the call returns the job the first one made instead of running the prompt twice',
        ),
      },
    },
    async (args) => {
      const m = await findMember(registry, args.member);
      if (!m) return fail(`member ${args.member} not found`);
      if (Buffer.byteLength(args.prompt) > deps.maxPromptBytes) return fail(`prompt is larger than ${deps.maxPromptBytes} bytes`);
      const req: Record<string, unknown> = { prompt: args.prompt };
      if (args.resume !== undefined) req.resume = args.resume;
      if (args.model !== undefined) req.model = args.model;
      if (args.maxTurns !== undefined) req.maxTurns = args.maxTurns;
      for (const k of ['permissionMode', 'maxBudgetUsd', 'fallbackModel', 'allowedTools'] as const)
        if (args[k] !== undefined) req[k] = args[k];
      const unsupported = unsupportedOptions(m.provider, args);
      if (unsupported) return fail(unsupported);
      let job: Awaited<ReturnType<typeof jobs.enqueue>>;
      try {
        job = await jobs.enqueue(m.id, req, args.idempotencyKey === undefined ? {} : { idempotencyKey: args.idempotencyKey });
      } catch (err) {
        if (err instanceof IdempotencyConflict || err instanceof ZodError) return fail((err as Error).message);
        throw err;
      }
      if (!args.wait) return text({ jobId: job.id, memberId: m.id, state: await job.getState(), created: job.created });
      const deadline = Date.now() + (args.waitTimeoutS ?? 600) * 1000;
      for (;;) {
        const j = await jobs.getJob(job.id ?? '');
        const state = j ? await j.getState() : 'unknown';
        if (!j || state === 'completed' || state === 'failed' || Date.now() > deadline)
          return text(j ? await jobView(j, { registry, reload: (id) => jobs.getJob(id) }) : { jobId: job.id, state });
        await new Promise((r) => setTimeout(r, 250));
      }
    },
  );

  server.registerTool(
    'stop_prompt',
    {
      description: 'Cancel a job: a waiting one is removed, a running one is killed (its whole process tree).',
      inputSchema: { jobId: z.string() },
    },
    async ({ jobId }) => {
      const how = await jobs.cancel(jobId);
      if (how === 'not_found') return fail(`job ${jobId} not found`);
      return text({ jobId, cancel: how });
    },
  );

  server.registerTool('fleet_status', { description: 'Every member: idle/busy, active job, pid, queue counts.' }, async () =>
    text(await fleetStatus(registry, jobs)),
  );

  server.registerTool('list_members', { description: 'Registered members (never secrets).' }, async () =>
    text({ members: await registry.listMembers() }),
  );

  server.registerTool(
    'member_detail',
    { description: 'One member, with its current run.', inputSchema: { member: z.string().describe('member id or name') } },
    async ({ member }) => {
      const m = await findMember(registry, member);
      if (!m) return fail(`member ${member} not found`);
      const run = await registry.getRun(m.id);
      return text({
        ...m,
        run: run ? { jobId: run.jobId, attempt: run.attempt, pid: run.pid, state: run.state, startedAt: run.startedAt } : null,
      });
    },
  );
  server.registerTool(
    'member_check',
    {
      description:
        'Check that a member can run an agent: reachable, host key, SFTP or its fallback, work folder, agent binary and version, login, root and permission mode — one line each with the fix.',
      inputSchema: { member: z.string().describe('member id or name') },
    },
    async ({ member }) => {
      const m = await findMember(registry, member);
      if (!m) return fail(`member ${member} not found`);
      try {
        return text(await requestCheck(deps.checks, m.id));
      } catch (err) {
        if (err instanceof HttpError) return fail(err.message);
        throw err;
      }
    },
  );
  return server;
}

/** MCP over streamable HTTP at /mcp (stateless: a fresh server per request), behind the API token. */
export function mountMcp(app: FastifyInstance, deps: McpDeps): void {
  app.post('/mcp', { bodyLimit: deps.maxPromptBytes * 2 + 64 * 1024, schema: { hide: true } }, async (req, reply) => {
    const server = buildServer(deps);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    reply.hijack();
    reply.raw.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req.raw, reply.raw, req.body);
  });
  const notAllowed = async (_req: unknown, reply: { code(n: number): { send(v: unknown): unknown } }) =>
    reply
      .code(405)
      .send({ jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed (stateless server: POST only)' }, id: null });
  app.get('/mcp', { schema: { hide: true } }, notAllowed);
  app.delete('/mcp', { schema: { hide: true } }, notAllowed);
}
