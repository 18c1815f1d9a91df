import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildApi, loadApiConfig } from '@fleet/api';
import { createLogger } from '@fleet/log';
import { FAKE_AGENT, type PrivateSshd, deleteKeys, startSshd, waitFor, sshMemberFields } from '@fleet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './stack';

let s: Stack;
let sshd: PrivateSshd;
beforeAll(async () => {
  s = await startStack({ FLEET_MAX_PROMPT_BYTES: String(64 * 1024) });
  sshd = await startSshd();
});
afterAll(async () => {
  await s.close();
  await sshd.stop();
});

async function sse(path: string): Promise<Array<{ event: string; data: string; id?: string }>> {
  const res = await fetch(`${s.url}${path}`, { headers: { authorization: `Bearer ${s.token}` } });
  expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((b) => b.trim() && !b.startsWith(':'))
    .map((b) => {
      const e: { event: string; data: string; id?: string } = { event: 'message', data: '' };
      const data: string[] = [];
      for (const l of b.split('\n')) {
        if (l.startsWith('event: ')) e.event = l.slice(7);
        else if (l.startsWith('data: ')) data.push(l.slice(6));
        else if (l.startsWith('id: ')) e.id = l.slice(4);
      }
      e.data = data.join('\n');
      return e;
    });
}

describe('REST API end to end (real app, real worker, fake agent)', () => {
  it('the seed scenario: resume on a stale session → exactly one live agent at every sample, retry without resume succeeds', async () => {
    const m = await s.fakeMember('seed');
    await s.redis.hset(`${s.prefix}:member:${m.id}`, 'sessionId', '99999999-0000-4000-8000-000000000000');
    const sampler = m.state.sampler(5);
    const r = await s.http('POST', `/v1/members/${m.id}/prompts`, { prompt: '@lines 3\n@sleep 0.5', resume: true });
    expect(r.status).toBe(202);
    expect(r.json.memberId).toBe(m.id);
    expect(['waiting', 'active', 'prioritized']).toContain(r.json.state);
    const done = await s.waitJob(String(r.json.jobId));
    expect(done).toMatchObject({ state: 'completed', attempts: 2, exitCode: 0, result: 'done: 3 lines' });
    expect(done.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    // The caller is told its context was lost: which session it asked for and that a fresh one ran.
    expect(done).toMatchObject({ sessionRequested: '99999999-0000-4000-8000-000000000000', sessionReset: true });
    expect(String(done.sessionResetReason)).toMatch(/session/i);
    const history = done.attemptHistory as Array<Record<string, unknown>>;
    expect(history.map((a) => [a.attempt, a.outcome, a.category ?? null])).toEqual([
      [1, 'failed', 'stale_session'],
      [2, 'succeeded', null],
    ]);
    expect(history[0]).toMatchObject({ sessionRequested: '99999999-0000-4000-8000-000000000000', retryable: true });
    expect(history[1]).toMatchObject({ exitCode: 0, sessionUsed: done.sessionId });
    expect(sampler.stop()).toBe(1);
    expect(m.state.started()).toBe(2);
    expect(m.state.live()).toEqual([]);
    const member = await s.http('GET', `/v1/members/${m.id}`);
    expect(member.json.sessionId).toBe(done.sessionId);
    expect(member.json.run).toBeNull();
  });

  it('SSE: pid, every output line in order (same as the run’s out file), then done; late subscribers get the backlog', async () => {
    const m = await s.fakeMember('sse');
    const r = await s.http('POST', `/v1/members/${m.id}/prompts`, { prompt: '@lines 5\n@sleep 0.3\n@lines 5' });
    const jobId = String(r.json.jobId);
    const live = sse(`/v1/jobs/${jobId}/events`);
    const events = await live;
    const done = events.at(-1);
    expect(done?.event).toBe('done');
    expect(JSON.parse(done?.data ?? '{}')).toMatchObject({ state: 'completed', jobId });
    const pid = events.find((e) => e.event === 'pid');
    expect(Number(pid?.data)).toBeGreaterThan(1);
    const output = events.filter((e) => e.event === 'output').map((e) => e.data);
    // The run's own directory (unique per start: <jobId>-<attempt>-<random>).
    const runs = readdirSync(join(m.workFolder, '.fleet/runs')).filter((d) => d.startsWith(`${jobId}-1-`));
    expect(runs).toHaveLength(1);
    const runDir = join(m.workFolder, '.fleet/runs', runs[0] ?? '');
    const file = readFileSync(join(runDir, 'out'), 'utf8')
      .split('\n')
      .filter((l, i, a) => l !== '' || i < a.length - 1);
    expect(output).toEqual(file);
    const late = await sse(`/v1/jobs/${jobId}/events`);
    expect(late.filter((e) => e.event === 'output').map((e) => e.data)).toEqual(output);
    // Last-Event-ID resumes after a given entry.
    const third = events.filter((e) => e.event === 'output')[2];
    const res = await fetch(`${s.url}/v1/jobs/${jobId}/events`, {
      headers: { authorization: `Bearer ${s.token}`, 'last-event-id': third?.id ?? '' },
    });
    const resumed = (await res.text()).split('\n').filter((l) => l === 'event: output').length;
    expect(resumed).toBe(output.length - 3);
  });

  it('SSE: what the stream cap trimmed before a reader got it is announced as a gap with its count, never dropped silently', async () => {
    const m = await s.fakeMember('sse-gap');
    const r = await s.http('POST', `/v1/members/${m.id}/prompts`, { prompt: '@lines 2' });
    const jobId = String(r.json.jobId);
    await s.waitJob(jobId);
    const registry = s.worker.registry;
    const before = await s.redis.xlen(registry.keys.output(jobId));
    // 500 more lines under a cap of 50: most of the stream is trimmed before anyone reads it.
    const extra = Array.from({ length: 500 }, (_, i) => ({ type: 'output', data: `extra ${i}` }));
    const lastN = await registry.appendOutput(jobId, extra, { maxEntries: 50 });
    expect(lastN).toBe(before + 500);
    const events = await sse(`/v1/jobs/${jobId}/events`);
    const gap = events.find((e) => e.event === 'gap');
    const kept = await s.redis.xrange(registry.keys.output(jobId), '-', '+');
    expect(JSON.parse(gap?.data ?? '{}')).toEqual({ skipped: lastN - kept.length, before: kept[0]?.[0] });
    const output = events.filter((e) => e.event === 'output').map((e) => e.data);
    expect(output.at(-1)).toBe('extra 499');
    expect(output.length).toBe(kept.filter(([, f]) => f[1] === 'output').length);
    // Resuming after an entry that is still there: no gap; after one that is gone: a gap of unknown size.
    const resumeFrom = async (id: string) =>
      (
        await (
          await fetch(`${s.url}/v1/jobs/${jobId}/events`, { headers: { authorization: `Bearer ${s.token}`, 'last-event-id': id } })
        ).text()
      )
        .split('\n')
        .filter((l) => l.startsWith('event: gap') || l.startsWith('data: {"skipped"'));
    expect(await resumeFrom(kept[5]?.[0] ?? '')).toEqual([]);
    expect(await resumeFrom('1-1')).toEqual(['event: gap', `data: {"skipped":null,"before":"${kept[0]?.[0]}"}`]);
  });

  it('permission modes: as root the agent refuses to skip permissions → config, not retried, fix in the message; a job mode and limits reach the agent; a provider lacking an option is a 400', async () => {
    expect(process.getuid?.()).toBe(0);
    const m = await s.fakeMember('root-refusal');
    await s.http('PATCH', `/v1/members/${m.id}`, { agentEnv: { FAKE_AGENT_STATE: m.state.dir, FAKE_AGENT_ROOT_CHECK: '1' } });
    const r = await s.http('POST', `/v1/members/${m.id}/prompts`, { prompt: '@lines 1', attempts: 3 });
    const failed = await s.waitJob(String(r.json.jobId));
    expect(failed).toMatchObject({ state: 'failed', attempts: 1, error: { category: 'config' } });
    expect(String((failed.error as { message: string }).message)).toMatch(/root\/sudo privileges.*fix: .*permissionMode/s);
    // The same member with a mode root may use: the run starts and the mode is what the agent saw.
    const ok = await s.http('POST', `/v1/members/${m.id}/prompts`, {
      prompt: '@lines 1',
      permissionMode: 'acceptEdits',
      maxBudgetUsd: 0.25,
      fallbackModel: 'fake-model-2',
      allowedTools: ['Edit', 'Bash(git *)'],
    });
    expect(ok.status).toBe(202);
    expect(await s.waitJob(String(ok.json.jobId))).toMatchObject({ state: 'completed' });
    const events = await sse(`/v1/jobs/${ok.json.jobId}/events`);
    const init = JSON.parse(events.find((e) => e.event === 'output' && e.data.includes('"subtype":"init"'))?.data ?? '{}');
    expect(init).toMatchObject({
      permissionMode: 'acceptEdits',
      maxBudgetUsd: 0.25,
      fallbackModel: 'fake-model-2',
      allowedTools: ['Edit', 'Bash(git *)'],
    });
    const member = await s.http('PATCH', `/v1/members/${m.id}`, { permissionMode: 'dontAsk' });
    expect(member.json.permissionMode).toBe('dontAsk');
    // A shell member has no budget flag: refused before anything is queued.
    const sh = await s.http('POST', '/v1/members', { name: 'sh-opts', transport: 'local', workFolder: m.workFolder, provider: 'shell' });
    const bad = await s.http('POST', `/v1/members/${sh.json.id}/prompts`, { prompt: 'true', maxBudgetUsd: 1 });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ error: 'unsupported_option' });
    expect(String(bad.json.message)).toMatch(/maxBudgetUsd is not offered by shell/);
    // (the queue exists from the member's creation: only its meta key)
    expect(await s.redis.keys(`${s.prefix}:q:member-${sh.json.id}:*`)).toEqual([`${s.prefix}:q:member-${sh.json.id}:meta`]);
  });

  it('attempt history: each attempt with its category, pid, exit code and times; a failed job shows the agent’s exit code', async () => {
    const m = await s.fakeMember('history');
    const r = await s.http('POST', `/v1/members/${m.id}/prompts`, { prompt: `@overloaded-times 1 h-${m.id}\n@lines 1`, attempts: 2 });
    const done = await s.waitJob(String(r.json.jobId));
    expect(done).toMatchObject({ state: 'completed', attempts: 2, exitCode: 0 });
    const history = done.attemptHistory as Array<Record<string, number | string | boolean>>;
    expect(history).toHaveLength(2);
    expect(history[0]).toMatchObject({ attempt: 1, outcome: 'failed', category: 'overloaded', retryable: true, exitCode: 1 });
    expect(history[1]).toMatchObject({ attempt: 2, outcome: 'succeeded', exitCode: 0, pid: done.pid });
    expect(history[0]?.pid).toEqual(expect.any(Number));
    expect(history[0]?.pid).not.toBe(history[1]?.pid);
    for (const a of history) expect(Number(a.endedAt)).toBeGreaterThanOrEqual(Number(a.startedAt));
    expect(Number(history[1]?.startedAt)).toBeGreaterThanOrEqual(Number(history[0]?.endedAt));
    expect(done.costUsd).toEqual(expect.any(Number));

    const bad = await s.http('POST', `/v1/members/${m.id}/prompts`, { prompt: '@auth', attempts: 3 });
    const failed = await s.waitJob(String(bad.json.jobId));
    expect(failed).toMatchObject({ state: 'failed', attempts: 1, exitCode: 1, error: { category: 'auth' } });
    expect(failed.attemptHistory).toEqual([
      expect.objectContaining({ attempt: 1, outcome: 'failed', category: 'auth', retryable: false, exitCode: 1, pid: expect.any(Number) }),
    ]);
    expect(await s.redis.ttl(`${s.prefix}:job:${bad.json.jobId}:attempts`)).toBeGreaterThan(0);
  });

  it('usage limit: the job waits for the reset without spending an attempt, the view says until when, then it runs', async () => {
    const m = await s.fakeMember('usage-limit');
    const r = await s.http('POST', `/v1/members/${m.id}/prompts`, { prompt: `@usage-limit-times 1 u-${m.id} 2\n@lines 1`, attempts: 1 });
    const waiting = await waitFor(
      async () => {
        const v = await s.http('GET', `/v1/jobs/${r.json.jobId}`);
        return v.json.state === 'delayed' ? v.json : undefined;
      },
      { what: 'the job delayed until the reset' },
    );
    expect(waiting).toMatchObject({ error: { category: 'usage_limit' }, retryAt: expect.any(Number) });
    expect(Number(waiting.retryAt)).toBeGreaterThan(Date.now() - 1_000);
    const done = await s.waitJob(String(r.json.jobId));
    expect(done).toMatchObject({ state: 'completed', attempts: 1, exitCode: 0 });
    expect(Number(done.startedAt)).toBeGreaterThanOrEqual(Number(waiting.retryAt));
    const history = done.attemptHistory as Array<Record<string, unknown>>;
    expect(history.map((a) => [a.attempt, a.outcome, a.category ?? null])).toEqual([
      [1, 'delayed', 'usage_limit'],
      [1, 'succeeded', null],
    ]);
    expect(history[0]?.retryAt).toBe(waiting.retryAt);
    expect(m.state.started()).toBe(2);
  });

  it('cancel: the process tree is gone and the job failed as cancelled', async () => {
    const m = await s.fakeMember('cancel');
    const r = await s.http('POST', `/v1/members/${m.id}/prompts`, { prompt: '@spawn-tree 60\n@sleep 60' });
    await waitFor(() => m.state.live().length === 1, { what: 'agent' });
    const agent = m.state.live()[0];
    const c = await s.http('POST', `/v1/jobs/${r.json.jobId}/cancel`);
    expect(c.status).toBe(202);
    const done = await s.waitJob(String(r.json.jobId));
    expect(done).toMatchObject({ state: 'failed', error: { category: 'cancelled' } });
    expect(m.state.live()).not.toContain(agent);
    expect((await s.http('POST', `/v1/jobs/${r.json.jobId}/cancel`)).status).toBe(409);
  });

  it('auth: every route but /healthz needs the token (401), Bull Board and MCP included', async () => {
    expect((await s.http('GET', '/healthz', undefined, {})).status).toBe(200);
    for (const [method, path] of [
      ['GET', '/v1/members'],
      ['POST', '/v1/members'],
      ['GET', '/v1/fleet/status'],
      ['GET', '/v1/jobs/x'],
      ['POST', '/v1/jobs/x/cancel'],
      ['GET', '/metrics'],
      ['GET', '/docs/json'],
      ['GET', '/ui'],
      ['POST', '/mcp'],
    ] as const) {
      expect((await s.http(method, path, method === 'POST' ? {} : undefined, {})).status, `${method} ${path}`).toBe(401);
      expect(
        (await s.http(method, path, method === 'POST' ? {} : undefined, { authorization: 'Bearer wrong-token-wrong-token' })).status,
      ).toBe(401);
    }
    const basic = `Basic ${Buffer.from(`anyone:${s.token}`).toString('base64')}`;
    expect((await s.http('GET', '/ui', undefined, { authorization: basic })).status).toBe(200);
    expect((await s.http('GET', '/ui', undefined, { cookie: `fleet_token=${s.token}` })).status).toBe(200);
  });

  it('bad input → 400 with issues, unknown → 404, busy delete → 409, oversize prompt → 413; nothing half-written in Redis', async () => {
    // BullMQ's stalled checker sets `<queue>:stalled-check` with a TTL on its own timer: it comes and goes
    // whatever the API does, so it is not part of what a request could have half-written.
    const keys = async () => (await s.redis.keys(`${s.prefix}*`)).filter((k) => !k.endsWith(':stalled-check')).sort();
    const before = await keys();
    const bad = [
      { name: 'x', transport: 'local', workFolder: 'relative', provider: 'claude' },
      { name: 'x', transport: 'ftp', workFolder: '/w', provider: 'claude' },
      { name: 'x\ny', transport: 'local', workFolder: '/w', provider: 'claude' },
      { name: 'x', transport: 'ssh', host: 'h', username: 'u', workFolder: '/w', provider: 'claude' },
      { name: 'x', transport: 'local', workFolder: '/w', provider: 'claude', unknownField: 1 },
    ];
    for (const b of bad) {
      const r = await s.http('POST', '/v1/members', b);
      expect(r.status, JSON.stringify(b)).toBe(400);
      expect(Array.isArray(r.json.issues)).toBe(true);
    }
    expect((await s.http('POST', '/v1/members', '{"not json')).status).toBe(400);
    expect((await s.http('GET', '/v1/members/m000000000000')).status).toBe(404);
    expect((await s.http('GET', '/v1/members/not-an-id')).status).toBe(400);
    expect((await s.http('GET', '/v1/jobs/m000000000000.00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await s.http('POST', '/v1/members/m000000000000/prompts', { prompt: 'x' })).status).toBe(404);
    expect(await keys()).toEqual(before);

    const m = await s.fakeMember('busy');
    expect((await s.http('POST', `/v1/members/${m.id}/prompts`, { prompt: '' })).status).toBe(400);
    expect((await s.http('POST', `/v1/members/${m.id}/prompts`, { prompt: 'x', attempts: 'three' })).status).toBe(400);
    const big = await s.http('POST', `/v1/members/${m.id}/prompts`, { prompt: 'x'.repeat(64 * 1024 + 1) });
    expect(big.status).toBe(413);
    const huge = await s.http('POST', `/v1/members/${m.id}/prompts`, { prompt: 'x'.repeat(512 * 1024) });
    expect(huge.status).toBe(413);
    expect((await s.api.jobs.queue(m.id).getJobCounts()).waiting).toBe(0);

    const r = await s.http('POST', `/v1/members/${m.id}/prompts`, { prompt: '@sleep 60' });
    await waitFor(() => m.state.live().length === 1, { what: 'agent' });
    const del = await s.http('DELETE', `/v1/members/${m.id}`);
    expect(del.status).toBe(409);
    const forced = await s.http('DELETE', `/v1/members/${m.id}?force=true`);
    expect(forced.status).toBe(204);
    expect(m.state.live()).toEqual([]);
    expect((await s.http('GET', `/v1/members/${m.id}`)).status).toBe(404);
    void r;
  });

  it('Idempotency-Key: a request sent again (or twice at once) returns the first one’s job and runs the prompt once; a different request with the key is a 409', async () => {
    const m = await s.fakeMember('idem');
    const path = `/v1/members/${m.id}/prompts`;
    const body = { prompt: '@lines 2\n@sleep 0.3' };
    const idem = (k: string) => ({ authorization: `Bearer ${s.token}`, 'idempotency-key': k });
    const key = idem('client-req-0001');
    const first = await s.http('POST', path, body, key);
    expect(first.status).toBe(202);
    expect(first.json.created).toBe(true);
    // The client's answer was lost; it sends the request again, twice at once.
    const again = await Promise.all([s.http('POST', path, body, key), s.http('POST', path, body, key)]);
    for (const r of again) {
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ jobId: first.json.jobId, created: false });
    }
    const conflict = await s.http('POST', path, { prompt: '@lines 9' }, key);
    expect(conflict.status).toBe(409);
    expect(conflict.json.error).toBe('idempotency_conflict');
    expect((await s.http('POST', path, body, idem('has space'))).status).toBe(400);
    expect((await s.http('POST', path, body, idem('k'.repeat(201)))).status).toBe(400);
    // A new key sent twice at once (neither request made the job yet): one job, never two.
    const [a, b] = await Promise.all([s.http('POST', path, body, idem('burst-a')), s.http('POST', path, body, idem('burst-a'))]);
    expect(a.json.jobId).toBe(b.json.jobId);
    expect([a.json.created, b.json.created].filter(Boolean).length).toBe(1);
    const done = await s.waitJob(String(first.json.jobId));
    expect(done).toMatchObject({ state: 'completed', result: 'done: 2 lines' });
    await s.waitJob(String(a.json.jobId));
    // Once finished, the key still names that job: nothing runs again.
    const late = await s.http('POST', path, body, key);
    expect(late).toMatchObject({ status: 200, json: { jobId: first.json.jobId, created: false, state: 'completed' } });
    await new Promise((r) => setTimeout(r, 300));
    expect(m.state.started()).toBe(2);
    const counts = await s.api.jobs.queue(m.id).getJobCounts();
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(2);
  });

  it('secrets never appear in API responses, job data or the fleet status', async () => {
    const r = await s.http('POST', '/v1/members', {
      name: 'ssh-secret',
      ...sshMemberFields(sshd),
      workFolder: s.dir,
      provider: 'shell',
    });
    expect(r.status).toBe(201);
    const keyLine = sshd.privateKey.split('\n')[1] ?? 'x';
    const job = await s.http('POST', `/v1/members/${r.json.id}/prompts`, { prompt: 'echo over ssh' });
    const done = await s.waitJob(String(job.json.jobId));
    expect(done).toMatchObject({ state: 'completed', result: 'over ssh' });
    for (const path of ['/v1/members', `/v1/members/${r.json.id}`, '/v1/fleet/status', `/v1/jobs/${job.json.jobId}`, '/metrics']) {
      const body = (await s.http('GET', path)).text;
      expect(body, path).not.toContain(keyLine);
      expect(body).not.toContain('PRIVATE KEY');
    }
    const bull = await s.redis.hgetall(`${s.prefix}:q:member-${r.json.id}:${job.json.jobId}`);
    expect(JSON.stringify(bull)).not.toContain(keyLine);
  });

  it('member check: a worker checks a real SSH member (every line ok), a broken one gets each failing line with its fix, none at all is a 503', async () => {
    const good = await s.http('POST', '/v1/members', {
      name: 'check-ok',
      ...sshMemberFields(sshd),
      workFolder: s.dir,
      provider: 'claude',
      agentBinary: FAKE_AGENT,
      agentEnv: { ANTHROPIC_API_KEY: 'sk-check-secret' },
      permissionMode: 'acceptEdits',
    });
    const r = await s.http('GET', `/v1/members/${good.json.id}/check`);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ memberId: good.json.id, ok: true, workerId: expect.any(String) });
    const lines = r.json.lines as Array<{ check: string; status: string; detail: string; fix?: string }>;
    expect(lines.map((l) => [l.check, l.status])).toEqual([
      ['connect', 'ok'],
      ['host key', 'ok'],
      ['files', 'ok'],
      ['work folder', 'ok'],
      ['agent', 'ok'],
      ['login', 'ok'],
      ['permissions', 'ok'],
    ]);
    expect(r.text).not.toContain('sk-check-secret');
    expect(r.text).not.toContain(sshd.privateKey.split('\n')[1]);

    // Root with bypassPermissions, a folder that is not there, an agent that is not installed, no host key pinned.
    const { hostKeySha256: _pinned, ...unpinned } = sshMemberFields(sshd);
    const bad = await s.http('POST', '/v1/members', {
      name: 'check-bad',
      ...unpinned,
      workFolder: join(s.dir, 'no-such-folder'),
      provider: 'codex',
      agentBinary: 'fleet-no-such-codex',
      permissionMode: 'bypassPermissions',
    });
    const b = await s.http('GET', `/v1/members/${bad.json.id}/check`);
    expect(b.json.ok).toBe(false);
    const byCheck = Object.fromEntries((b.json.lines as Array<{ check: string; status: string }>).map((l) => [l.check, l]));
    expect(byCheck['host key']).toMatchObject({ status: 'warn', detail: `was not pinned; pinned on first use: ${sshd.hostKeySha256}` });
    expect((await s.http('GET', `/v1/members/${bad.json.id}`)).json.hostKeySha256).toBe(sshd.hostKeySha256);
    expect(byCheck['work folder']).toMatchObject({ status: 'fail', fix: expect.stringContaining('mkdir -p') });
    expect(byCheck.agent).toMatchObject({ status: 'fail', fix: expect.stringContaining('npm install -g @openai/codex') });
    expect(byCheck.login).toMatchObject({ status: 'warn', fix: expect.stringContaining('codex login') });
    expect(byCheck.permissions?.status).toBe('ok'); // only claude refuses bypassPermissions as root

    expect((await s.http('GET', '/v1/members/m000000000000/check')).status).toBe(404);
    // An API whose Redis prefix no worker serves: nobody to ask.
    const lonely = await buildApi(
      loadApiConfig({ FLEET_API_TOKEN: s.token, FLEET_PREFIX: `${s.prefix}-noworker` }),
      s.redis,
      createLogger('silent'),
    );
    try {
      const m = await lonely.app.inject({
        method: 'POST',
        url: '/v1/members',
        headers: { authorization: `Bearer ${s.token}` },
        payload: { name: 'x', transport: 'local', workFolder: s.dir, provider: 'shell' },
      });
      const none = await lonely.app.inject({
        method: 'GET',
        url: `/v1/members/${m.json().id}/check`,
        headers: { authorization: `Bearer ${s.token}` },
      });
      expect(none.statusCode).toBe(503);
      expect(none.json()).toMatchObject({ error: 'no_worker', message: expect.stringContaining('no worker is running') });
    } finally {
      await lonely.close();
      await deleteKeys(s.redis, `${s.prefix}-noworker`);
    }
  });

  it('fleet status, metrics and OpenAPI describe the fleet', async () => {
    const st = await s.http('GET', '/v1/fleet/status');
    expect((st.json.members as unknown[]).length).toBeGreaterThan(0);
    expect(st.json.workers).toBe(1);
    expect(st.json.members).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ status: 'idle', queue: expect.objectContaining({ completed: expect.any(Number) }) }),
      ]),
    );
    // The fake agent reports what each run cost: members that completed jobs show a total.
    const spent = (st.json.members as Array<{ id: string; costUsd: number; tokensOut: number }>).filter((m) => m.costUsd > 0);
    expect(spent.length).toBeGreaterThan(0);
    const one = spent[0] as { id: string; costUsd: number; tokensOut: number };
    expect(one.tokensOut).toBeGreaterThan(0);
    const metrics = (await s.http('GET', '/metrics')).text;
    expect(metrics).toMatch(new RegExp(`fleet_member_cost_usd\\{member="${one.id}",name="[^"]+"\\} ${one.costUsd}\\n`));
    expect(metrics).toMatch(new RegExp(`fleet_member_tokens\\{member="${one.id}",name="[^"]+",direction="out"\\} ${one.tokensOut}\\n`));
    expect(metrics).toMatch(/fleet_jobs_total\{outcome="completed",category="none"\} \d+/);
    expect(metrics).toMatch(/fleet_jobs_total\{outcome="failed",category="cancelled"\} \d+/);
    expect(metrics).toMatch(/fleet_queue_depth\{member="m[0-9a-f]{12}",state="completed"\}/);
    expect(metrics).toMatch(/fleet_kill_count [1-9]/);
    expect(metrics).toMatch(/\nfleet_workers 1\n/);
    const doc = await s.http('GET', '/docs/json');
    const paths = Object.keys(doc.json.paths as Record<string, unknown>);
    expect(paths).toEqual(
      expect.arrayContaining([
        '/v1/members',
        '/v1/members/{id}',
        '/v1/members/{id}/prompts',
        '/v1/jobs/{jobId}',
        '/v1/jobs/{jobId}/events',
        '/v1/jobs/{jobId}/cancel',
        '/v1/fleet/status',
      ]),
    );
    expect(readdirSync(s.dir).length).toBeGreaterThan(0);
  });
});
