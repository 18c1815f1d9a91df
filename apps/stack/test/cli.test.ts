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

function fleet(args: string[], apiUrl = s.url, stdin?: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [FLEET, ...args], { env: { ...process.env, FLEET_URL: apiUrl, FLEET_API_TOKEN: s.token } });
    c.stdin.end(stdin ?? '');
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
    // add checks the member (on stderr: the id alone is the output a script reads).
    expect(add.err).toMatch(/^ok {4}connect {6}this machine answered in \d+ ms$/m);
    expect(add.err).toMatch(/^ok {4}agent {8}.* at \/\S+\/sh$/m);
    expect(add.err).toContain('ready to run agents');
    expect((await fleet(['members', 'list'])).out).toContain('cli-box');

    const ok = await fleet(['run', 'cli-box', `echo "it's $((6*7))"; echo second line`]);
    expect(ok.code).toBe(0);
    expect(ok.out).toBe("it's 42\nsecond line\n");
    expect(ok.err).toMatch(/✓ completed \(exit 0, attempts 1/);

    // The CLI exits with the agent's own exit code, not 1 for any failure.
    const bad = await fleet(['run', id, 'echo failing; exit 4']);
    expect(bad.code).toBe(4);
    expect(bad.err).toMatch(/✗ failed: \[unknown\] script exited with code 4/);

    expect((await fleet(['status'])).out).toMatch(new RegExp(`${id}\\s+cli-box\\s+idle`));
    const missing = await fleet(['run', 'no-such-member', 'x']);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('no member no-such-member');
    expect(missing.err).not.toMatch(/\n\s+at /);
    expect((await fleet(['members', 'rm', 'cli-box'])).code).toBe(0);
  });

  it('members check: one line per check with the fix under each failure, exit 1; --json; add runs it unless --no-check', async () => {
    const args = ['members', 'add', '--transport', 'local', '--provider', 'gemini', '--work-folder', `${s.dir}/missing`];
    const added = await fleet([...args, '--name', 'cli-broken']);
    expect(added.code).toBe(1);
    expect(added.out).toMatch(/^m[0-9a-f]{12}\n$/);
    expect(added.err).toMatch(
      /^FAIL {2}work folder {2}\S+\/missing does not exist\n {19}fix: on the member, as root: mkdir -p \S+\/missing$/m,
    );
    expect(added.err).toContain('fleet members check cli-broken');

    const check = await fleet(['members', 'check', 'cli-broken']);
    expect(check.code).toBe(1);
    expect(check.out).toMatch(/^FAIL {2}agent {8}gemini is not on the PATH .*\n {19}fix: npm install -g @google\/gemini-cli/m);
    expect(check.out).toMatch(/^warn {2}login {8}no login found/m);
    expect(check.out).toMatch(/\d check\(s\) failed\n$/);
    expect(check.out).not.toContain('\x1b['); // not a terminal: no colour
    const json = await fleet(['members', 'check', 'cli-broken', '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out)).toMatchObject({
      ok: false,
      lines: expect.arrayContaining([expect.objectContaining({ check: 'work folder', status: 'fail' })]),
    });

    const quiet = await fleet([...args, '--name', 'cli-unchecked', '--no-check']);
    expect(quiet).toMatchObject({ code: 0, err: '' });
    expect((await fleet(['members', 'check', 'no-such-member'])).code).toBe(2);
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

  it('help for every command, typo suggestions, usage errors as one line with exit 2 — never a stack trace', async () => {
    const help = await fleet(['--help']);
    expect(help.code).toBe(0);
    const commands = [
      ['run'],
      ['members', 'add'],
      ['members', 'list'],
      ['members', 'rm'],
      ['jobs'],
      ['logs'],
      ['status'],
      ['cancel'],
      ['up'],
    ];
    const helps = await Promise.all(commands.map((cmd) => fleet([...cmd, '--help'])));
    commands.forEach((cmd, i) => {
      expect(helps[i]?.code, cmd.join(' ')).toBe(0);
      expect(helps[i]?.out).toMatch(new RegExp(`^Usage: fleet ${cmd.join(' ')}`, 'm'));
    });
    expect((await fleet(['run', '--help'])).out).toMatch(/--permission-mode <mode>.*choices: "default",\s+"acceptEdits"/s);
    const cases: Array<[string[], RegExp]> = [
      [['rnu', 'box', 'x'], /unknown command 'rnu'\n\(Did you mean run\?\)/],
      [['members', 'lst'], /unknown command 'lst'\n\(Did you mean list\?\)/],
      [['run', 'box', 'x', '--max-turn', '3'], /unknown option '--max-turn'\n\(Did you mean --max-turns\?\)/],
      [['run', 'box', 'x', '--max-turns', 'lots'], /option '--max-turns <n>' argument 'lots' is invalid\. expected a whole number above 0/],
      [['run', 'box'], /missing required argument 'prompt'/],
      [
        ['members', 'add', '--name', 'x', '--work-folder', '/w', '--transport', 'carrier-pigeon'],
        /argument 'carrier-pigeon' is invalid\. Allowed choices are ssh, local/,
      ],
      [['jobs', '--state', 'sleeping'], /Allowed choices are waiting, active, delayed, prioritized, completed, failed/],
    ];
    const results = await Promise.all(cases.map(([args]) => fleet(args)));
    for (const [i, [args, message]] of cases.entries()) {
      const r = results[i] as Awaited<ReturnType<typeof fleet>>;
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err).not.toMatch(/\n\s+at |ERR_PARSE_ARGS|node:internal/);
    }
    const offline = await fleet(['status'], 'http://127.0.0.1:9');
    expect(offline.code).toBe(2);
    expect(offline.err).toMatch(/^fleet: cannot reach http:\/\/127\.0\.0\.1:9: .*is `fleet up` running\?/);
  });

  it('run renders stream-json as a person reads it (text, one line per tool call, tool errors, a summary); --json prints the raw events; the exit code is the agent’s', async () => {
    const m = await s.fakeMember('cli-transcript');
    const prompt = '@lines 2\n@tool Bash ls -la\n@tool-error Read /etc/x\n@echo';
    const r = await fleet(['run', 'cli-transcript', prompt]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe(`line 1\nline 2\n→ Bash  ls -la\n→ Read  /etc/x\n  ✗ tool error: Error: Read failed\n${prompt}\n`);
    expect(r.err).toMatch(
      /✓ completed \(exit 0, attempts 1, session [0-9a-f-]{36}\) · 1 turn · 2 tool calls · \d+ in \/ \d+ out tokens · \$0\.0001 · \d+\.\d s\n/,
    );
    expect(r.out + r.err).not.toContain('\x1b['); // not a terminal: no colour, no spinner
    // What the member has cost so far, beside its queue.
    expect((await fleet(['status'])).out).toMatch(new RegExp(`${m.id}\\s+cli-transcript\\s+idle .* \\$0\\.0001  \\d+ in \\d+ out\\n`));

    const raw = await fleet(['run', m.id, '@lines 1\n@tool Bash true', '--json']);
    expect(raw.code).toBe(0);
    const events = raw.out
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string });
    expect(events.map((e) => e.type)).toEqual(['system', 'assistant', 'assistant', 'user', 'assistant', 'result']);

    const viaStdin = await fleet(['run', m.id, '-', '--no-stream'], s.url, '@echo\nit\'s $(whoami) "quoted"');
    expect(viaStdin.code).toBe(0);
    expect(viaStdin.out).toBe('@echo\nit\'s $(whoami) "quoted"\n');

    const exit3 = await fleet(['run', m.id, '@lines 1\n@exit 3']);
    expect(exit3.code, exit3.err).toBe(3);
    expect(exit3.err).toMatch(/\(exit 3\)/);
  });

  it('jobs lists the newest jobs with --member/--state filters; logs prints a job’s output, --follow reconnects where it left off (no line lost or twice)', async () => {
    const m = await s.fakeMember('cli-jobs');
    const ok = await s.http('POST', `/v1/members/${m.id}/prompts`, { prompt: '@lines 3' });
    await s.waitJob(String(ok.json.jobId));
    const bad = await s.http('POST', `/v1/members/${m.id}/prompts`, { prompt: '@auth' });
    await s.waitJob(String(bad.json.jobId));

    const all = await fleet(['jobs', '--member', 'cli-jobs']);
    expect(all.code, all.err).toBe(0);
    const lines = all.out.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^${bad.json.jobId}\\s+cli-jobs\\s+failed\\s+1\\s+\\d+s\\s+\\[auth\\] Not logged in`));
    expect(lines[1]).toMatch(new RegExp(`^${ok.json.jobId}\\s+cli-jobs\\s+completed\\s+1\\s+\\d+s\\s+exit 0$`));
    const failed = await fleet(['jobs', '--member', m.id, '--state', 'failed', '--json']);
    expect((JSON.parse(failed.out) as Array<{ jobId: string }>).map((j) => j.jobId)).toEqual([bad.json.jobId]);
    expect((await s.http('GET', '/v1/jobs?limit=0')).status).toBe(400);

    const logs = await fleet(['logs', String(ok.json.jobId)]);
    expect(logs.code, logs.err).toBe(0);
    expect(logs.out).toBe('line 1\nline 2\nline 3\ndone: 3 lines\n');
    expect((await fleet(['logs', 'nope'])).err).toMatch(/^fleet: 404/);

    // --follow through a proxy that cuts the event stream twice, each time after output reached the CLI.
    const job = await s.http('POST', `/v1/members/${m.id}/prompts`, { prompt: '@lines 4\n@sleep 2\n@lines 4\n@sleep 2\n@lines 4' });
    const lastIds: string[] = [];
    let cuts = 0;
    const proxy = createServer((req: IncomingMessage, res) => {
      lastIds.push(String(req.headers['last-event-id'] ?? ''));
      const up = request(`${s.url}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        let seen = 0;
        answer.on('data', (chunk: Buffer) => {
          seen += chunk.toString().split('event: output').length - 1;
          const cut = seen >= 1 && cuts < 2 && req.url?.includes('/events');
          if (cut) cuts++;
          // Cut once what was passed on has reached the CLI (a destroy drops unsent writes).
          res.write(chunk, () => {
            if (!cut) return;
            answer.destroy();
            req.socket.destroy();
          });
        });
        answer.on('end', () => res.end());
      });
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const f = await fleet(['logs', '--follow', String(job.json.jobId)], `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`);
      expect(f.code, f.err).toBe(0);
      expect(cuts, f.err).toBe(2);
      expect(f.err).toMatch(/connecting again \(1\)/);
      const want = Array.from({ length: 12 }, (_, i) => `line ${i + 1}`).join('\n');
      expect(f.out).toBe(`${want}\ndone: 12 lines\n`);
      expect(f.err).toMatch(/✓ completed/);
      const resumed = lastIds.filter((id) => id !== '');
      expect(resumed).toHaveLength(2);
      for (const id of resumed) expect(id).toMatch(/^\d+-\d+$/);
    } finally {
      proxy.closeAllConnections();
      await new Promise((r) => proxy.close(r));
    }
  });
});
