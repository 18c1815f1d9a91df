import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/** `npm run bench -- --quick`: every benchmark runs (small counts) and writes its results; figures are not judged here. */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const QUICK_RESULTS = join(ROOT, 'bench', 'results', 'quick');

describe('benchmarks (quick)', () => {
  it('each benchmark runs and writes its rows with a baseline, ours and a ratio', async () => {
    rmSync(QUICK_RESULTS, { recursive: true, force: true });
    const out = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const c = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      c.stderr.on('data', (d) => (stderr += d));
      c.on('close', (code) => resolve({ code, stderr }));
    });
    expect(out.code, out.stderr.slice(-3000)).toBe(0);
    for (const name of ['orchestration', 'latency', 'ssh-pool', 'scale', 'streaming', 'wrapper-overhead', 'redis-cost', 'wave', 'storm']) {
      const r = JSON.parse(readFileSync(join(QUICK_RESULTS, `${name}.json`), 'utf8')) as {
        quick: boolean;
        rows: Array<{ baselineValue: number; oursValue: number; ratio: number }>;
      };
      expect(r.quick, name).toBe(true);
      expect(r.rows.length, name).toBeGreaterThan(0);
      for (const row of r.rows) expect([row.baselineValue, row.oursValue, row.ratio].every(Number.isFinite), name).toBe(true);
    }
  }, 300_000);
});
