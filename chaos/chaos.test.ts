import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/** The short, seeded chaos run (npm run chaos -- --quick --seed 11): must end with no violations. */
const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe('chaos (quick, seeded)', () => {
  it('never two agents on a member, no orphans, no double runs, no lost jobs under injected faults', async () => {
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const c = spawn(
        process.execPath,
        ['--import', 'tsx', 'chaos/run.ts', '--quick', '--seed', '11', '--jobs', '200', '--window-s', '90'],
        { cwd: ROOT },
      );
      let stdout = '';
      let stderr = '';
      c.stdout.on('data', (d) => (stdout += d));
      c.stderr.on('data', (d) => (stderr += d));
      c.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    process.stdout.write(out.stdout);
    expect(out.stdout, out.stderr.slice(-3000)).toContain('no violations');
    expect(out.stdout).toMatch(/\| max live agents on one member \(any sample\) \| 1 \|/);
    expect(out.stdout).toMatch(/\| jobs lost \| 0 \|/);
    expect(out.stdout).toMatch(/\| faults injected \| .*worker SIGKILL/);
    expect(out.code).toBe(0);
  }, 600_000);
});
