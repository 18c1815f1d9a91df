import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** A user-facing error: printed as one line, never with a stack. */
export class CliError extends Error {}
/** No answer: the API was not reached, or the connection broke before its answer (it may have acted). */
export class NoAnswer extends CliError {}

export const apiUrl = (): string => (process.env.FLEET_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');

export function token(): string {
  if (process.env.FLEET_API_TOKEN) return process.env.FLEET_API_TOKEN;
  const f = resolve(process.env.FLEET_HOME ?? '.fleet', 'api-token');
  if (existsSync(f)) return readFileSync(f, 'utf8').trim();
  throw new CliError('no API token: set FLEET_API_TOKEN (or run from the folder where `fleet up` stored .fleet/api-token)');
}

export type Json = Record<string, unknown>;

export async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Json> {
  const url = apiUrl();
  let res: Response;
  let text: string;
  try {
    res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token()}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    text = await res.text();
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw unreachable(err);
  }
  const json = parseJson(text);
  // A gateway's 502/503/504 is no answer (worth sending again); the API's own 503/504 says why.
  const ours = typeof json?.error === 'string' && typeof json.message === 'string';
  if ((res.status === 502 || res.status === 503 || res.status === 504) && !ours) throw new NoAnswer(`${res.status} from ${url}`);
  if (!json) throw new CliError(`${res.status} from ${url}, not JSON: ${text.slice(0, 200)}`);
  if (res.status >= 400) {
    const issues = Array.isArray(json.issues)
      ? `\n${(json.issues as Array<{ path: string; message: string }>).map((i) => `  ${i.path}: ${i.message}`).join('\n')}`
      : '';
    throw new CliError(`${res.status} ${String(json.message ?? json.error ?? text)}${issues}`);
  }
  return json;
}

function parseJson(text: string): Json | undefined {
  try {
    return text ? (JSON.parse(text) as Json) : {};
  } catch {
    return undefined;
  }
}

export function unreachable(err: unknown): NoAnswer {
  const cause = (err as { cause?: { message?: string } }).cause?.message;
  return new NoAnswer(
    `cannot reach ${apiUrl()}: ${(err as Error).message}${cause ? ` (${cause})` : ''} (is \`fleet up\` running? set FLEET_URL)`,
  );
}

export interface MemberRow {
  id: string;
  name: string;
  [k: string]: unknown;
}

export async function listMembers(): Promise<MemberRow[]> {
  return (await api('GET', '/v1/members')).members as MemberRow[];
}

/** A member by id or name. */
export async function resolveMember(ref: string): Promise<string> {
  const members = await listMembers();
  const m = members.find((x) => x.id === ref) ?? members.find((x) => x.name === ref);
  if (!m) throw new CliError(`no member ${ref} (fleet members list)`);
  return m.id;
}

/**
 * POST the prompt, sent again (with the same Idempotency-Key) while there is no answer: an API that
 * restarts, or a connection that breaks after the job was made. The key makes a second send return
 * the first one's job, never a second job with the same prompt.
 */
export async function submit(memberId: string, body: Json, onRetry: (why: string, attempt: number) => void): Promise<Json> {
  const key = `cli-${randomUUID()}`;
  const deadline = Date.now() + 30_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await api('POST', `/v1/members/${memberId}/prompts`, body, { 'idempotency-key': key });
    } catch (err) {
      if (!(err instanceof NoAnswer) || Date.now() >= deadline) throw err;
      onRetry(err.message, attempt);
      await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** (attempt - 1), 4_000)));
    }
  }
}
