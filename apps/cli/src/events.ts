import { CliError, type Json, NoAnswer, apiUrl, token, unreachable } from './client';

export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

export interface FollowOptions {
  /** false: the output so far, then the job as it is now (the API ends the stream after its backlog). */
  follow: boolean;
  onEvent: (e: SseEvent) => void;
  onReconnect: (why: string, attempt: number) => void;
}

/** How long the stream may stay unreachable before the CLI gives up on it. */
const GIVE_UP_MS = 60_000;

/**
 * A job's event stream to its `done` (the final job view), connected again with `Last-Event-ID`
 * when the connection breaks (an API restart, a proxy timeout): no line is shown twice or lost.
 */
export async function followJob(jobId: string, o: FollowOptions): Promise<Json> {
  let last: string | undefined;
  let failingSince: number | undefined;
  for (let attempt = 1; ; attempt++) {
    let why: string;
    try {
      const done = await readOnce(jobId, o, last, (id) => {
        last = id;
        failingSince = undefined;
      });
      if (done) return done;
      why = 'the event stream ended before the job did';
    } catch (err) {
      if (err instanceof CliError && !(err instanceof NoAnswer)) throw err;
      why = (err as Error).message;
    }
    failingSince ??= Date.now();
    if (Date.now() - failingSince > GIVE_UP_MS) throw new CliError(`${why}; gave up after ${GIVE_UP_MS / 1000} s`);
    o.onReconnect(why, attempt);
    await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** Math.min(attempt - 1, 4), 4_000)));
  }
}

async function readOnce(jobId: string, o: FollowOptions, last: string | undefined, seen: (id: string) => void): Promise<Json | undefined> {
  const headers: Record<string, string> = { authorization: `Bearer ${token()}` };
  if (last) headers['last-event-id'] = last;
  let res: Response;
  try {
    res = await fetch(`${apiUrl()}/v1/jobs/${encodeURIComponent(jobId)}/events${o.follow ? '' : '?follow=false'}`, { headers });
  } catch (err) {
    throw unreachable(err);
  }
  if (res.status >= 500) throw new NoAnswer(`${res.status} from ${apiUrl()}`);
  if (res.status >= 400) {
    const body = (await res.json().catch(() => ({}))) as Json;
    throw new CliError(`${res.status} ${String(body.message ?? body.error ?? '')}`);
  }
  if (!res.body) throw new NoAnswer('no event stream');
  try {
    return await readEvents(res.body as unknown as AsyncIterable<Uint8Array>, o, seen);
  } catch (err) {
    throw new NoAnswer(`the event stream broke: ${(err as Error).message}`);
  }
}

/** The stream's events in order, to its `done` (returned); undefined if it ends before. */
async function readEvents(body: AsyncIterable<Uint8Array>, o: FollowOptions, seen: (id: string) => void): Promise<Json | undefined> {
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of body) {
    buf += decoder.decode(chunk, { stream: true });
    for (let i = buf.indexOf('\n\n'); i !== -1; i = buf.indexOf('\n\n')) {
      const e = parseBlock(buf.slice(0, i));
      buf = buf.slice(i + 2);
      if (e?.event === 'done') return JSON.parse(e.data) as Json;
      if (!e) continue;
      o.onEvent(e);
      if (e.id) seen(e.id);
    }
  }
  return undefined;
}

function parseBlock(block: string): SseEvent | undefined {
  const e: SseEvent = { event: 'message', data: '' };
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event: ')) e.event = line.slice(7);
    else if (line.startsWith('data: ')) data.push(line.slice(6));
    else if (line.startsWith('id: ')) e.id = line.slice(4);
  }
  if (data.length === 0 && e.event === 'message') return undefined;
  e.data = data.join('\n');
  return e;
}
