import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { LocalTransport, runAgent } from '@fleet/exec';
import { tempDir } from '@fleet/testkit';
import { type BenchRow, QUICK, percentile, timeEach } from './lib';

/** The PID-announcing wrapper (session, files, identity, streaming, cleanup) vs raw spawn of the same command. */
export async function benchWrapperOverhead(): Promise<BenchRow[]> {
  const n = QUICK ? 5 : 100;
  const dir = tempDir('fleet-bench-');
  const work = join(dir.path, 'work');
  mkdirSync(work);
  try {
    const raw = await timeEach(
      n,
      () =>
        new Promise<void>((resolve, reject) => {
          const c = spawn('true', [], { stdio: ['pipe', 'pipe', 'pipe'] });
          c.stdout.resume();
          c.stdin.on('error', () => {});
          c.on('error', reject);
          c.on('close', () => resolve());
          c.stdin.end('prompt');
        }),
    );
    const t = new LocalTransport();
    const ours = await timeEach(n, async (i) => {
      const out = await runAgent({ transport: t, runId: `bench-${i}`, workFolder: work, argv: ['true'], prompt: 'prompt' });
      if (out.kind !== 'exited' || out.exitCode !== 0) throw new Error(`bad outcome ${out.kind}`);
    }).finally(() => t.close());
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    return [
      {
        name: `Wrapper: ${n} runs of \`true\` through runAgent (local) vs raw child_process.spawn`,
        baseline: 'raw spawn',
        baselineValue: mean(raw),
        ours: 'runAgent',
        oursValue: mean(ours),
        unit: 'ms/run',
        ratio: mean(ours) / mean(raw),
        better: 'lower',
        notes: `p50 raw ${percentile(raw, 50).toFixed(2)} ms, p50 ours ${percentile(ours, 50).toFixed(1)} ms, p99 ours ${percentile(ours, 99).toFixed(1)} ms`,
      },
    ];
  } finally {
    dir.remove();
  }
}
