import { spawn } from 'node:child_process';
import { type IncomingMessage, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './stack';

const FLEET = fileURLToPath(new URL('../../cli/bin/fleet.mjs', import.meta.url));
let s: Stack;
beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s.close();
});

function fleet(args: string[], apiUrl = s.url): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [FLEET, ...args], { env: { ...process.env, FLEET_URL: apiUrl, FLEET_API_TOKEN: s.token } });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('close', (code) => resolve({ code, out, err }));
  });
}

describe('fleet CLI', () => {
  it('members add/list, run (streams output, exits with the job outcome), status, cancel, rm', async () => {
    const add = await fleet(['members', 'add', '--name', 'cli-box', '--transport', 'local', '--work-folder', s.dir, '--provider', 'shell']);
    expect(add.code).toBe(0);
    const id = add.out.trim();
    expect(id).toMatch(/^m[0-9a-f]{12}$/);
    expect((await fleet(['members', 'list'])).out).toContain('cli-box');

    const ok = await fleet(['run', 'cli-box', `echo "it's $((6*7))"; echo second line`]);
    expect(ok.code).toBe(0);
    expect(ok.out).toBe("it's 42\nsecond line\n");
    expect(ok.err).toMatch(/✓ completed \(exit 0, attempts 1/);

    const bad = await fleet(['run', id, 'echo failing; exit 4']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/✗ failed: \[unknown\] script exited with code 4/);

    expect((await fleet(['status'])).out).toMatch(new RegExp(`${id}\\s+cli-box\\s+idle`));
    const missing = await fleet(['run', 'no-such-member', 'x']);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('no member no-such-member');
    expect((await fleet(['members', 'rm', 'cli-box'])).code).toBe(0);
  });

  it('run: a submit whose answer is lost is sent again with the same Idempotency-Key: one job, one agent start', async () => {
    const m = await s.fakeMember('cli-lost-answer');
    // A proxy in front of the API that lets the first submit through and then breaks the connection
    // instead of passing the answer on (as an API restart or a network cut would).
    const keys: string[] = [];
    let dropped = 0;
    const proxy = createServer((req: IncomingMessage, res) => {
      const submit = req.method === 'POST' && req.url?.endsWith('/prompts');
      if (submit) keys.push(String(req.headers['idempotency-key']));
      const up = request(`${s.url}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
        if (submit && dropped++ === 0) {
          answer.resume();
          answer.on('end', () => req.socket.destroy());
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const r = await fleet(['run', m.id, '@lines 2'], `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`);
      expect(r.code, r.err).toBe(0);
      expect(r.err).toMatch(/sending again \(1\)/);
      expect(r.err).toMatch(/✓ completed/);
      expect(keys).toHaveLength(2);
      expect(keys[0]).toMatch(/^cli-[0-9a-f-]{36}$/);
      expect(keys[1]).toBe(keys[0]);
      const counts = await s.api.jobs.queue(m.id).getJobCounts();
      expect(
        Object.values(counts).reduce((a, b) => a + b, 0),
        JSON.stringify(counts),
      ).toBe(1);
      expect(counts.completed).toBe(1);
      expect(m.state.started()).toBe(1);
    } finally {
      proxy.closeAllConnections();
      await new Promise((r) => proxy.close(r));
    }
  });
});
