import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '@fleet/testkit';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const SCAN = join(ROOT, 'packages/exec/src/os/linux-proc-scan.ts');

/**
 * The /proc pass moves to a worker thread while the event loop is busy. That thread must never keep
 * a process alive once nothing waits for a pass (a library user's process, a worker after stop()).
 */
describe('process-table pass in a thread', () => {
  const dir = tempDir('fleet-procscan-');
  afterAll(() => dir.remove());

  it('a pass done in the thread answers, and the process then exits on its own', () => {
    const script = join(dir.path, 'scan.mts');
    writeFileSync(
      script,
      `import { procScanCounts, procTable } from ${JSON.stringify(SCAN)};
// Busy for 250 ms: the loop's utilization is then over the threshold, so the pass goes to the thread.
const end = performance.now() + 250;
while (performance.now() < end) {}
const rows = await procTable();
console.log(JSON.stringify({ rows: rows.length, self: rows.some((r) => r.pid === process.ppid), ...procScanCounts() }));
`,
    );
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, encoding: 'utf8', timeout: 15_000 });
    expect(r.error).toBeUndefined(); // a spawnSync timeout shows here (ETIMEDOUT): the process did not exit
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}');
    expect(out).toMatchObject({ self: true, inThread: 1, here: 0 });
    expect(out.rows).toBeGreaterThan(1);
  });
});
