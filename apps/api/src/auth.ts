import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Constant-time token comparison (hash both sides so lengths never leak either). */
function tokenMatches(given: string | undefined, expected: string): boolean {
  if (!given) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The token from `Authorization: Bearer`, Basic auth (any user, token as password), or the `fleet_token` cookie. */
function presentedToken(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (h?.startsWith('Bearer ')) return h.slice(7).trim();
  if (h?.startsWith('Basic ')) {
    const decoded = Buffer.from(h.slice(6), 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    return i === -1 ? undefined : decoded.slice(i + 1);
  }
  const cookie = req.headers.cookie;
  const m = cookie ? /(?:^|;\s*)fleet_token=([^;]+)/.exec(cookie) : null;
  return m?.[1] ? decodeURIComponent(m[1]) : undefined;
}

export function makeAuthHook(token: string, publicPaths: readonly string[]) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split('?')[0] ?? '';
    if (publicPaths.includes(path)) return;
    if (tokenMatches(presentedToken(req), token)) return;
    if (path === '/ui' || path.startsWith('/ui/')) reply.header('WWW-Authenticate', 'Basic realm="fleet-exec", charset="UTF-8"');
    return reply.code(401).send({ error: 'unauthorized', message: 'a valid API token is required (Authorization: Bearer <token>)' });
  };
}
