import { NotFoundError } from '@fleet/registry';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { ZodError } from 'zod';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Every error becomes a clear JSON answer; nothing internal (or secret) leaks in a 5xx. */
export function errorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  if (hasZodFastifySchemaValidationErrors(err)) {
    return reply.code(400).send({
      error: 'bad_request',
      message: 'invalid request',
      issues: err.validation.map((v) => ({ path: v.instancePath, message: v.message })),
    });
  }
  if (err instanceof ZodError) {
    return reply.code(400).send({
      error: 'bad_request',
      message: 'invalid request',
      issues: err.issues.map((i) => ({ path: `/${i.path.join('/')}`, message: i.message })),
    });
  }
  if (err instanceof HttpError) return reply.code(err.status).send({ error: err.code, message: err.message });
  if (err instanceof NotFoundError) return reply.code(404).send({ error: 'not_found', message: err.message });
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ error: 'payload_too_large', message: err.message });
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return reply.code(err.statusCode).send({ error: 'bad_request', message: err.message });
  }
  req.log.error({ err: err.message }, 'request failed');
  return reply.code(500).send({ error: 'internal', message: 'internal error' });
}
