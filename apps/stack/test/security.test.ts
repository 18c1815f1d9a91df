import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './stack';

/**
 * No shell injection, no 5xx, no partial writes: property tests through the real API → worker →
 * member shell. Every hostile string tries to create a canary file; it must never exist.
 */
let s: Stack;
const CANARY = join(tmpdir(), `fleet-canary-${process.pid}`);
const payloads = [
  `$(touch ${CANARY})`,
  `\`touch ${CANARY}\``,
  `'; touch ${CANARY}; '`,
  `"; touch ${CANARY}; "`,
  `\ntouch ${CANARY}\n`,
  `x && touch ${CANARY}`,
  `x | touch ${CANARY}`,
  `--output-format=$(touch ${CANARY})`,
  `-rf`,
  `\${IFS}touch\${IFS}${CANARY}`,
  `✓ ünïcödé 🚀 $(touch ${CANARY})`,
];

beforeAll(async () => {
  s = await startStack({ FLEET_MAX_PROMPT_BYTES: String(256 * 1024) });
  rmSync(CANARY, { force: true });
});
afterAll(async () => {
  await s.close();
  rmSync(CANARY, { force: true });
});

describe('injection', () => {
  it('hostile prompts reach the agent byte-exact and are never executed', async () => {
    const m = await s.fakeMember('inject-prompts');
    const prompts = fc.sample(
      fc.oneof(
        fc.constantFrom(...payloads),
        fc.tuple(fc.constantFrom(...payloads), fc.string({ unit: 'grapheme', maxLength: 50 })).map(([p, r]) => `${r}${p}${r}`),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }).map((x) => x.replace(/\0/g, '') || 'x'),
      ),
      { numRuns: 25, seed: 42 },
    );
    prompts.push(`${payloads.join('\n')}\n${'y'.repeat(200_000)}`);
    for (const prompt of prompts) {
      const r = await s.http('POST', `/v1/members/${m.id}/prompts`, { prompt: `@echo\n${prompt}` });
      expect(r.status).toBe(202);
      const done = await s.waitJob(String(r.json.jobId));
      expect(done.state).toBe('completed');
      expect(done.result).toBe(`@echo\n${prompt}`);
    }
    expect(existsSync(CANARY)).toBe(false);
  });

  it('hostile member fields are refused or quoted; a canary is never created', async () => {
    const fields = ['name', 'model', 'agentBinary', 'workFolder', 'host', 'username'] as const;
    for (const f of fields) {
      for (const p of payloads) {
        const body: Record<string, unknown> = {
          name: 'ok',
          transport: 'local',
          workFolder: s.dir,
          provider: 'claude',
          [f]: f === 'workFolder' ? `${s.dir}/${p}` : p,
        };
        const r = await s.http('POST', '/v1/members', body);
        expect(r.status, `${f}=${JSON.stringify(p)}`).toBeLessThan(500);
        if (r.status === 201) {
          // Accepted (e.g. a name, or a quoted path): run something and check nothing executed.
          const job = await s.http('POST', `/v1/members/${r.json.id}/prompts`, { prompt: 'echo hi', attempts: 1 });
          await s.waitJob(String(job.json.jobId));
          await s.http('DELETE', `/v1/members/${r.json.id}?force=true`);
        }
      }
    }
    // agentEnv values are quoted into `env K=V`; names are validated.
    const env = await s.http('POST', '/v1/members', {
      name: 'env',
      transport: 'local',
      workFolder: s.dir,
      provider: 'shell',
      agentEnv: { X: `$(touch ${CANARY})` },
    });
    expect(env.status).toBe(201);
    const j = await s.http('POST', `/v1/members/${env.json.id}/prompts`, { prompt: 'printf %s "$X"' });
    expect(await s.waitJob(String(j.json.jobId))).toMatchObject({ state: 'completed', result: `$(touch ${CANARY})` });
    expect(
      (
        await s.http('POST', '/v1/members', {
          name: 'env2',
          transport: 'local',
          workFolder: s.dir,
          provider: 'shell',
          agentEnv: { 'A;touch': 'x' },
        })
      ).status,
    ).toBe(400);
    expect(existsSync(CANARY)).toBe(false);
  });
});

describe('REST fuzz', () => {
  it('random JSON, wrong types, unknown fields, huge bodies → 4xx, never 5xx, no partial writes', async () => {
    const m = await s.fakeMember('fuzz');
    const before = (await s.redis.keys(`${s.prefix}*`)).filter((k) => !k.includes(':q:')).sort();
    const bodies = fc.sample(
      fc.oneof(
        fc.jsonValue(),
        fc.object(),
        fc.record({ prompt: fc.jsonValue(), resume: fc.jsonValue(), attempts: fc.jsonValue() }, { requiredKeys: [] }),
      ),
      {
        numRuns: 150,
        seed: 7,
      },
    );
    const targets = ['/v1/members', `/v1/members/${m.id}/prompts`, `/v1/members/${m.id}`, '/v1/jobs/x/cancel'];
    let accepted = 0;
    for (const [i, b] of bodies.entries()) {
      const target = targets[i % targets.length] ?? '/v1/members';
      const method = target === `/v1/members/${m.id}` ? 'PATCH' : 'POST';
      const r = await s.http(method, target, JSON.stringify(b));
      expect(r.status, `${method} ${target} ${JSON.stringify(b).slice(0, 200)}`).toBeLessThan(500);
      if (r.status < 300) accepted++;
    }
    for (const raw of ['{', 'null', '[]', '"str"', '{"prompt":', '\u0000', 'x'.repeat(3 * 1024 * 1024)]) {
      const r = await s.http('POST', `/v1/members/${m.id}/prompts`, raw);
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
    }
    const after = (await s.redis.keys(`${s.prefix}*`)).filter((k) => !k.includes(':q:')).sort();
    // Only valid requests may have written (accepted prompts create jobs under :q: and output streams).
    expect(after.filter((k) => !before.includes(k) && !k.includes(':job:'))).toEqual([]);
    expect(accepted).toBeLessThan(bodies.length);
  });
});
