import { spawn } from 'node:child_process';
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

function fleet(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [FLEET, ...args], { env: { ...process.env, FLEET_URL: s.url, FLEET_API_TOKEN: s.token } });
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
});
