import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FAKE_AGENT, tempDir } from '@fleet/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { classifyError } from '../src/providers/classify';
import { type ErrorCategory, type ProviderName, RETRYABLE, getProvider } from '../src/providers/index';

const REAL = join(__dirname, 'fixtures/real-cli');

function fixture(name: string): { exit: number; lines: string[] } {
  const out = readFileSync(join(REAL, `${name}.out`), 'utf8');
  return {
    exit: Number(readFileSync(join(REAL, `${name}.exit`), 'utf8').trim()),
    lines: out.split('\n').filter((l, i, a) => l !== '' || i < a.length - 1),
  };
}

describe('classification of real CLI output (captured from the npm packages with no credentials)', () => {
  const table: Array<[string, ProviderName, ErrorCategory]> = [
    ['claude-json-noauth', 'claude', 'auth'],
    ['claude-stream-noauth', 'claude', 'auth'],
    ['claude-json-resume-unknown', 'claude', 'stale_session'],
    ['claude-stream-resume-unknown', 'claude', 'stale_session'],
    ['gemini-noauth', 'gemini', 'auth'],
    ['gemini-json-noauth', 'gemini', 'auth'],
    ['gemini-stream-noauth', 'gemini', 'auth'],
    ['gemini-untrusted', 'gemini', 'workspace_not_trusted'],
    ['codex-untrusted', 'codex', 'workspace_not_trusted'],
    ['codex-json-untrusted', 'codex', 'workspace_not_trusted'],
    ['claude-stream-root-skip-permissions', 'claude', 'config'],
    ['claude-stream-root-bypass-mode', 'claude', 'config'],
    ['claude-stream-user-bypass-noauth', 'claude', 'auth'],
    ['gemini-stream-yolo-noauth-root', 'gemini', 'auth'],
    ['gemini-stream-yolo-noauth-user', 'gemini', 'auth'],
    ['copilot-json-noauth-root', 'copilot', 'auth'],
    ['copilot-json-noauth-user', 'copilot', 'auth'],
    ['copilot-json-classic-pat', 'copilot', 'auth'],
    ['copilot-json-token-unverified', 'copilot', 'auth'],
    ['copilot-json-byok-401', 'copilot', 'auth'],
    ['copilot-json-byok-429', 'copilot', 'overloaded'],
    ['copilot-json-byok-500', 'copilot', 'server'],
    ['copilot-json-byok-refused', 'copilot', 'server'],
    ['copilot-json-byok-resume-unknown', 'copilot', 'stale_session'],
    ['opencode-json-local-401', 'opencode', 'auth'],
    ['opencode-json-local-429', 'opencode', 'overloaded'],
    ['opencode-json-local-500', 'opencode', 'server'],
    ['opencode-json-local-resume-unknown', 'opencode', 'stale_session'],
  ];
  /** Real successful runs, against the loopback model endpoint in `capture/` (it answers "hi there"). */
  const successes: Array<[string, ProviderName, RegExp]> = [
    ['copilot-json-byok-ok', 'copilot', /^[0-9a-f-]{36}$/],
    ['copilot-json-byok-resume-ok', 'copilot', /^[0-9a-f-]{36}$/],
    ['opencode-json-local-ok', 'opencode', /^ses_\w+$/],
    ['opencode-json-local-resume-ok', 'opencode', /^ses_\w+$/],
  ];
  it.each(table)('%s → %s %s', (name, provider, category) => {
    const f = fixture(name);
    expect(f.exit).not.toBe(0);
    const r = getProvider(provider).parse(f.exit, f.lines);
    expect(r.ok).toBe(false);
    expect(r.error?.category).toBe(category);
    expect(r.error?.retryable).toBe(RETRYABLE[category]);
  });

  it.each(successes)('%s → ok', (name, provider, session) => {
    const f = fixture(name);
    expect(f.exit).toBe(0);
    const r = getProvider(provider).parse(f.exit, f.lines);
    expect(r).toMatchObject({ ok: true, result: 'hi there' });
    expect(r.sessionId).toMatch(session);
  });

  it('a resumed session keeps its id (copilot and opencode)', () => {
    for (const [first, again, p] of [
      ['copilot-json-byok-ok', 'copilot-json-byok-resume-ok', 'copilot'],
      ['opencode-json-local-ok', 'opencode-json-local-resume-ok', 'opencode'],
    ] as const) {
      const a = fixture(first);
      const b = fixture(again);
      expect(getProvider(p).parse(b.exit, b.lines).sessionId).toBe(getProvider(p).parse(a.exit, a.lines).sessionId);
    }
  });

  it('opencode: tokens and cost from step_finish', () => {
    const f = fixture('opencode-json-local-ok');
    expect(getProvider('opencode').parse(f.exit, f.lines)).toMatchObject({ usage: { inputTokens: 12, outputTokens: 3 }, costUsd: 0 });
  });

  it('every captured fixture is in a table or is a hang (timeout 124)', () => {
    const names = readdirSync(REAL)
      .filter((f) => f.endsWith('.out'))
      .map((f) => f.slice(0, -4));
    for (const n of names) {
      if (!table.some(([t]) => t === n) && !successes.some(([t]) => t === n)) expect(fixture(n).exit, n).toBe(124);
    }
  });

  it('CLIs that hung retrying (ended by a timeout kill) are never a stale session', () => {
    for (const [name, provider] of [
      ['claude-stream-dummykey-hang', 'claude'],
      ['codex-json-dummykey-unreachable', 'codex'],
    ] as const) {
      const f = fixture(name);
      expect(getProvider(provider).parse(f.exit, f.lines).error?.category).not.toBe('stale_session');
    }
  });

  it('claude as root refusing to skip permissions: a configuration error whose message says the fix', () => {
    const f = fixture('claude-stream-root-skip-permissions');
    const e = getProvider('claude').parse(f.exit, f.lines).error;
    expect(e?.message).toMatch(/^--dangerously-skip-permissions cannot be used with root\/sudo privileges/);
    expect(e?.message).toMatch(/fix: .*non-?root|fix: .*other than root/);
    expect(e?.message).toMatch(/permissionMode/);
    expect(e?.message).toMatch(/IS_SANDBOX=1/);
  });

  it('gemini: its documented exit codes decide when the text names nothing known', () => {
    const g = getProvider('gemini');
    expect(g.parse(41, ['something odd']).error?.category).toBe('auth');
    expect(g.parse(53, ['']).error?.category).toBe('max_turns');
    expect(g.parse(52, ['bad settings']).error).toMatchObject({ category: 'config', retryable: false });
    expect(g.parse(1, ['something odd']).error?.category).toBe('unknown');
    // The text wins over the code.
    expect(g.parse(41, ['RESOURCE_EXHAUSTED']).error?.category).toBe('overloaded');
  });

  it('claude: the result envelope decides before the exit code', () => {
    const ok = { type: 'result', subtype: 'success', is_error: false, result: 'done', session_id: 's1', usage: {} };
    expect(getProvider('claude').parse(1, [JSON.stringify(ok)])).toMatchObject({ ok: true, result: 'done', sessionId: 's1' });
    const limited = { ...ok, is_error: true, result: 'API Error: 429 rate_limit_error' };
    expect(getProvider('claude').parse(0, [JSON.stringify(limited)])).toMatchObject({ ok: false, error: { category: 'overloaded' } });
    const budget = { ...ok, subtype: 'error_max_budget_usd', is_error: true, result: undefined };
    expect(getProvider('claude').parse(1, [JSON.stringify(budget)]).error?.category).toBe('budget');
  });

  it('claude: session id and usage are read from the real result line even on error', () => {
    const f = fixture('claude-json-noauth');
    const r = getProvider('claude').parse(f.exit, f.lines);
    expect(r.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.usage).toEqual({ inputTokens: 0, outputTokens: 0 });
  });
});

describe('classification of the fake agent (claude-like) behaviours', () => {
  const state = tempDir('fleet-classify-');
  afterAll(() => state.remove());
  function fake(prompt: string, extra: string[] = []): { exit: number; lines: string[] } {
    const r = spawnSync(FAKE_AGENT, ['-p', '--output-format', 'stream-json', '--verbose', ...extra], {
      input: prompt,
      env: { ...process.env, FAKE_AGENT_STATE: state.path },
    });
    const lines = `${r.stdout}${r.stderr}`.split('\n').filter(Boolean);
    return { exit: r.status ?? -1, lines };
  }
  const cases: Array<[string, string[], ErrorCategory]> = [
    ['@overloaded', [], 'overloaded'],
    ['@server', [], 'server'],
    ['@auth', [], 'auth'],
    ['@max-turns', ['--max-turns', '3'], 'max_turns'],
    ['hello', ['--resume', '00000000-0000-4000-8000-000000000000'], 'stale_session'],
  ];
  it.each(cases)('%s %j → %s', (prompt, extra, category) => {
    const f = fake(prompt, extra);
    const r = getProvider('claude').parse(f.exit, f.lines);
    expect(r.ok).toBe(false);
    expect(r.error?.category).toBe(category);
  });

  it('success: result, session id, usage; resume of a known session works', () => {
    const f = fake('@lines 2');
    const r = getProvider('claude').parse(f.exit, f.lines);
    expect(r).toMatchObject({ ok: true, result: 'done: 2 lines', usage: { outputTokens: 3 } });
    const again = fake('more', ['--resume', r.sessionId ?? '']);
    expect(getProvider('claude').parse(again.exit, again.lines)).toMatchObject({ ok: true, sessionId: r.sessionId });
  });
});

describe('classification rules', () => {
  it('only error text counts: a successful run that talks about overloads or missing sessions is ok', () => {
    const transcript = [
      '{"type":"assistant","message":{"content":[{"type":"text","text":"No conversation found with session ID: x; server overloaded 529"}]}}',
      '{"type":"result","subtype":"success","is_error":false,"result":"fixed the 500 error","session_id":"s1","usage":{"input_tokens":5,"output_tokens":6}}',
    ];
    expect(getProvider('claude').parse(0, transcript)).toMatchObject({ ok: true, sessionId: 's1', result: 'fixed the 500 error' });
  });

  it('a killed or silent failure is unknown (never stale_session, never retried)', () => {
    for (const code of [137, 143, 1, 255]) {
      const e = classifyError(code, '');
      expect(e.category).toBe('unknown');
      expect(e.retryable).toBe(false);
    }
    expect(getProvider('claude').parse(137, []).error?.category).toBe('unknown');
  });

  it('malformed provider output gives a clear error, not a crash', () => {
    const garbage = ['{"type":"result",', '\u0000\u0001 binary', '{"not":"closed"', ''];
    for (const p of ['claude', 'gemini', 'codex', 'shell'] as const) {
      const r = getProvider(p).parse(0, garbage);
      if (p === 'shell') expect(r.ok).toBe(true);
      else {
        expect(r.ok).toBe(false);
        expect(r.error?.category).toBe('unknown');
      }
    }
  });

  it('retry is decided by category only', () => {
    expect(
      Object.entries(RETRYABLE)
        .filter(([, v]) => v)
        .map(([k]) => k)
        .sort(),
    ).toEqual(['overloaded', 'server', 'stale_session']);
    expect(classifyError(1, 'HTTP 503 Service Unavailable').category).toBe('server');
    expect(classifyError(1, 'API Error: 429 rate_limit_error').category).toBe('overloaded');
    expect(classifyError(127, 'sh: 1: claude: not found').category).toBe('agent_not_found');
    // A uuid that happens to contain 500 or 429 is not a status code.
    expect(classifyError(1, 'failed in session 3f1c-500-4299-429a').category).toBe('unknown');
  });
});

describe('argv building', () => {
  it('never puts the prompt in argv and refuses values that would be read as flags', () => {
    const claude = getProvider('claude');
    const argv = claude.buildArgv({
      model: 'claude-sonnet-4-5',
      maxTurns: 80,
      resumeSessionId: 'abc-123',
      permissionMode: 'bypassPermissions',
    });
    expect(argv).toEqual([
      'claude',
      '-p',
      '--output-format',
      'stream-json',
      '--verbose',
      '--model',
      'claude-sonnet-4-5',
      '--max-turns',
      '80',
      '--resume',
      'abc-123',
      '--dangerously-skip-permissions',
    ]);
    expect(() => claude.buildArgv({ model: '--dangerously-skip-permissions' })).toThrow(/invalid model/);
    expect(() => claude.buildArgv({ resumeSessionId: 'x; rm -rf /' })).toThrow(/invalid session id/);
    expect(() => claude.buildArgv({ maxTurns: 0 })).toThrow();
    expect(getProvider('codex').buildArgv({ resumeSessionId: 's1', trustWorkspace: true })).toEqual([
      'codex',
      'exec',
      'resume',
      's1',
      '--json',
      '--skip-git-repo-check',
      '-',
    ]);
    expect(getProvider('gemini').buildArgv({ model: 'gemini-2.5-pro', trustWorkspace: true })).toEqual([
      'gemini',
      '--output-format',
      'stream-json',
      '--model',
      'gemini-2.5-pro',
      '--skip-trust',
    ]);
    expect(getProvider('shell').buildArgv({})).toEqual(['sh']);
  });

  it('each permission mode becomes the flag its CLI has (real --help of claude 2.1.197, gemini 0.61.0, codex 0.169.0)', () => {
    const tail = (p: ProviderName, o: Parameters<ReturnType<typeof getProvider>['buildArgv']>[0], from: number) =>
      getProvider(p).buildArgv(o).slice(from);
    expect(tail('claude', { permissionMode: 'acceptEdits' }, 5)).toEqual(['--permission-mode', 'acceptEdits']);
    expect(tail('claude', { permissionMode: 'dontAsk' }, 5)).toEqual(['--permission-mode', 'dontAsk']);
    expect(tail('claude', { permissionMode: 'default' }, 5)).toEqual([]);
    expect(tail('gemini', { permissionMode: 'acceptEdits' }, 3)).toEqual(['--approval-mode', 'auto_edit']);
    expect(tail('gemini', { permissionMode: 'bypassPermissions' }, 3)).toEqual(['--approval-mode', 'yolo']);
    expect(tail('gemini', { permissionMode: 'plan' }, 3)).toEqual(['--approval-mode', 'plan']);
    expect(tail('codex', { permissionMode: 'acceptEdits' }, 2)).toEqual(['--json', '--sandbox', 'workspace-write', '-']);
    expect(tail('codex', { permissionMode: 'plan' }, 2)).toEqual(['--json', '--sandbox', 'read-only', '-']);
    expect(tail('codex', { permissionMode: 'bypassPermissions' }, 2)).toEqual([
      '--json',
      '--dangerously-bypass-approvals-and-sandbox',
      '-',
    ]);
    expect(() => getProvider('gemini').buildArgv({ permissionMode: 'dontAsk' })).toThrow(/permissionMode dontAsk is not offered by gemini/);
    expect(() => getProvider('codex').buildArgv({ permissionMode: 'auto' })).toThrow(/not offered by codex/);
  });

  it('opencode and copilot: the flags of their real --help (opencode 1.18.33, copilot 1.0.102)', () => {
    expect(
      getProvider('opencode').buildArgv({ model: 'local/gpt-4o', resumeSessionId: 'ses_1', permissionMode: 'bypassPermissions' }),
    ).toEqual(['opencode', 'run', '--format', 'json', '--model', 'local/gpt-4o', '--session', 'ses_1', '--auto']);
    expect(() => getProvider('opencode').buildArgv({ permissionMode: 'plan' })).toThrow(/not offered by opencode/);
    expect(() => getProvider('opencode').buildArgv({ allowedTools: ['edit'] })).toThrow(/allowedTools is not offered by opencode/);
    const copilot = getProvider('copilot');
    expect(copilot.buildArgv({ model: 'gpt-5.2', resumeSessionId: 'a4295375-795e-4bee-b36a-363899361bb2' })).toEqual([
      'copilot',
      '--output-format',
      'json',
      '--no-color',
      '--model',
      'gpt-5.2',
      '--resume',
      'a4295375-795e-4bee-b36a-363899361bb2',
    ]);
    expect(copilot.buildArgv({ permissionMode: 'bypassPermissions' }).slice(4)).toEqual(['--allow-all']);
    expect(copilot.buildArgv({ permissionMode: 'plan' }).slice(4)).toEqual(['--plan']);
    expect(copilot.buildArgv({ permissionMode: 'acceptEdits', allowedTools: ['shell(git:*)'] }).slice(4)).toEqual([
      '--allow-tool=write,shell(git:*)',
    ]);
    expect(copilot.buildArgv({ trustWorkspace: true }).slice(4)).toEqual(['--trust-folder']);
    expect(() => copilot.buildArgv({ permissionMode: 'dontAsk' })).toThrow(/not offered by copilot/);
    expect(() => copilot.buildArgv({ resumeSessionId: '--allow-all' })).toThrow(/invalid session id/);
  });

  it('per-job limits: claude takes them as flags, the others refuse them clearly, tool rules are checked', () => {
    const argv = getProvider('claude').buildArgv({
      maxBudgetUsd: 0.5,
      fallbackModel: 'claude-haiku-4-5',
      allowedTools: ['Edit', 'Bash(git *)'],
    });
    expect(argv.slice(5)).toEqual([
      '--max-budget-usd',
      '0.5',
      '--fallback-model',
      'claude-haiku-4-5',
      '--allowedTools',
      'Edit,Bash(git *)',
    ]);
    expect(() => getProvider('codex').buildArgv({ maxBudgetUsd: 1 })).toThrow(/maxBudgetUsd is not offered by codex/);
    expect(() => getProvider('gemini').buildArgv({ fallbackModel: 'x' })).toThrow(/fallbackModel is not offered by gemini/);
    expect(() => getProvider('claude').buildArgv({ allowedTools: ['--dangerously-skip-permissions'] })).toThrow(/invalid tool rule/);
    expect(() => getProvider('claude').buildArgv({ allowedTools: ['Bash(a,b)'] })).toThrow(/invalid tool rule/);
    expect(() => getProvider('claude').buildArgv({ fallbackModel: '--x' })).toThrow(/invalid fallback model/);
    expect(() => getProvider('claude').buildArgv({ maxBudgetUsd: -1 })).toThrow(/invalid maxBudgetUsd/);
  });
});

describe('usage limits: the category and when the limit resets', () => {
  // 2026-12-06 10:00:00 UTC: 11:00 in Berlin, 02:00 in Los Angeles.
  const now = Date.UTC(2026, 11, 6, 10, 0, 0);
  const at = (text: string) => classifyError(1, text, now);

  it('claude, codex and gemini texts are usage_limit (not retried as overloaded) with their reset time', () => {
    const cases: Array<[string, number]> = [
      ["You've hit your limit · resets 3pm (Europe/Berlin)", Date.UTC(2026, 11, 6, 14, 0)],
      ["You've hit your limit · resets 9am (Europe/Berlin)", Date.UTC(2026, 11, 7, 8, 0)], // 9am Berlin has passed: tomorrow
      ['5-hour limit reached ∙ resets 11:30am', Date.UTC(2026, 11, 6, 11, 30)], // no zone named: UTC
      [`Claude AI usage limit reached|${now / 1000 + 600}`, now + 600_000],
      [
        '{"type":"usage_limit_reached","message":"The usage limit has been reached","plan_type":"plus","resets_in_seconds":5400}',
        now + 5_400_000,
      ],
      [
        "You've hit your usage limit. Upgrade to Pro or try again in 2 days 3 hours 5 minutes.",
        now + (2 * 86_400 + 3 * 3600 + 5 * 60) * 1000,
      ],
      [
        "[API Error: RESOURCE_EXHAUSTED: Quota exceeded for quota metric 'Gemini 2.5 Pro Requests' and limit 'Gemini 2.5 Pro Requests per day per user']",
        Date.UTC(2026, 11, 7, 8, 0), // midnight Pacific (PST, UTC-8)
      ],
    ];
    for (const [text, resetAt] of cases) expect(at(text), text).toMatchObject({ category: 'usage_limit', retryable: false, resetAt });
    expect(at('The usage limit has been reached')).toEqual({
      category: 'usage_limit',
      retryable: false,
      message: 'The usage limit has been reached',
    });
  });

  it('per-minute quotas and rate limits stay overloaded (retried with backoff)', () => {
    expect(at('RESOURCE_EXHAUSTED: Quota exceeded for quota metric requests per minute').category).toBe('overloaded');
    expect(at('API Error: 429 rate_limit_error').category).toBe('overloaded');
  });

  it('a reset time in a zone Node does not know, or in the past, is no reset time', () => {
    expect(at("You've hit your limit · resets 3pm (Mars/Olympus)").resetAt).toBeUndefined();
    expect(at(`Claude AI usage limit reached|${now / 1000 - 60}`).resetAt).toBeUndefined();
  });

  it('claude reports it in its result envelope', () => {
    const limited = {
      type: 'result',
      subtype: 'success',
      is_error: true,
      result: `Claude AI usage limit reached|${Math.floor(Date.now() / 1000) + 60}`,
      usage: {},
    };
    expect(getProvider('claude').parse(0, [JSON.stringify(limited)]).error).toMatchObject({
      category: 'usage_limit',
      resetAt: expect.any(Number),
    });
  });
});
