import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { FleetJobs, MemberChecks, Registry, type RedisClient } from '@fleet/registry';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { makeAuthHook } from './auth';
import { mountBoard } from './board';
import type { ApiConfig } from './config';
import { errorHandler } from './errors';
import { mountMcp } from './mcp';
import { fleetStatus, metricsRoute } from './routes/fleet';
import { jobRoutes } from './routes/jobs';
import { memberRoutes } from './routes/members';

export interface Api {
  app: FastifyInstance;
  registry: Registry;
  jobs: FleetJobs;
  close(): Promise<void>;
}

/** The HTTP API: it only reads Redis, enqueues and asks workers (member checks); it never touches a member. */
export async function buildApi(cfg: ApiConfig, redis: RedisClient, logger: Logger): Promise<Api> {
  const registry = new Registry(redis, cfg.prefix);
  const jobs = new FleetJobs(redis, { connection: redis, bullPrefix: cfg.bullPrefix }, cfg.prefix);
  const checks = new MemberChecks(redis, registry.keys);
  const app: FastifyInstance = Fastify({ loggerInstance: logger as unknown as FastifyBaseLogger, bodyLimit: 1024 * 1024 });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler);
  await app.register(swagger, {
    openapi: {
      info: { title: 'fleet-exec', version: '0.1.0', description: 'Run LLM coding agents on a fleet of machines, one process per member.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.addHook('onRequest', makeAuthHook(cfg.apiToken, ['/healthz']));

  app.get('/healthz', { schema: { hide: true } }, async () => ({ ok: (await redis.ping()) === 'PONG' }));
  memberRoutes(app, { registry, jobs, checks });
  jobRoutes(app, { redis, registry, jobs, maxPromptBytes: cfg.maxPromptBytes });
  app.get('/v1/fleet/status', { schema: { tags: ['fleet'] } }, async () => fleetStatus(registry, jobs));
  metricsRoute(app, { redis, registry, jobs });
  mountMcp(app, { registry, jobs, checks, maxPromptBytes: cfg.maxPromptBytes });
  const refreshBoard = await mountBoard(app, { registry, jobs, write: cfg.boardWrite });

  const sub = redis.duplicate();
  sub.on('error', () => {});
  await sub.subscribe(registry.keys.membersChannel());
  sub.on('message', () => void refreshBoard().catch(() => undefined));
  const timer = setInterval(() => void refreshBoard().catch(() => undefined), 10_000);

  return {
    app,
    registry,
    jobs,
    async close() {
      clearInterval(timer);
      sub.disconnect();
      await app.close();
      await jobs.close();
    },
  };
}
