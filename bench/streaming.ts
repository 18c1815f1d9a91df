import { LocalTransport } from '@fleet/exec';
import { type BenchRow, QUICK } from './lib';
import { benchStack, waitUntil } from './stack';

/**
 * Bench 7: an agent printing N lines, delivered line by line to an SSE client, vs `cat` of the same
 * output file over the same (local) transport.
 */
export async function benchStreaming(): Promise<BenchRow[]> {
  const n = QUICK ? 5_000 : 100_000;
  // The stream keeps every line here (its cap is FLEET_OUTPUT_MAX_LINES): this measures throughput,
  // not what a slow reader would miss (that is announced as a gap event).
  const s = await benchStack({ api: true, env: { FLEET_OUTPUT_MAX_LINES: String(n + 1_000) } });
  try {
    const m = await s.localMember('stream');
    const job = await s.jobs.enqueue(m.id, { prompt: `seq 1 ${n}`, attempts: 1 });
    const t0 = performance.now();
    const res = await fetch(`${s.url}/v1/jobs/${job.id}/events`, { headers: { authorization: `Bearer ${s.token}` } });
    let lines = 0;
    let buf = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let i = buf.indexOf('\n\n');
      while (i !== -1) {
        if (buf.startsWith('id:') && buf.slice(0, i).includes('event: output')) lines++;
        buf = buf.slice(i + 2);
        i = buf.indexOf('\n\n');
      }
    }
    const oursMs = performance.now() - t0;
    if (lines !== n) throw new Error(`SSE delivered ${lines} of ${n} lines`);
    await waitUntil(async () => (await job.getState()) === 'completed');
    const runDir = (await job.getState()) === 'completed' ? (await s.jobs.getJob(job.id ?? ''))?.returnvalue.runDir : '';
    const t = new LocalTransport();
    const c0 = performance.now();
    const r = await t.exec(`cat '${runDir}/out'`);
    const catMs = performance.now() - c0;
    if (r.output.split('\n').length - 1 !== n) throw new Error('cat: wrong line count');
    return [
      {
        name: `Output streaming: ${n} lines, agent → SSE client vs cat of the same file`,
        baseline: 'cat over the local transport',
        baselineValue: (n / catMs) * 1000,
        ours: 'agent → Redis stream → SSE',
        oursValue: (n / oursMs) * 1000,
        unit: 'lines/s',
        ratio: catMs / oursMs,
        better: 'higher',
      },
    ];
  } finally {
    await s.close();
  }
}
