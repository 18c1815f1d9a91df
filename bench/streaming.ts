import { LocalTransport } from '@fleet/exec';
import { type BenchRow, QUICK } from './lib';
import { benchStack, waitUntil } from './stack';

/**
 * Bench 7: an agent printing N lines, delivered line by line to an SSE client, vs `cat` of the same
 * output file over the same (local) transport; then a run of about 1 GB (10 M lines of 96 bytes)
 * under the default stream cap, read live over SSE, with the process's RSS sampled throughout.
 */
export async function benchStreaming(): Promise<BenchRow[]> {
  return [...(await throughput()), await bigRun()];
}

async function throughput(): Promise<BenchRow[]> {
  const n = QUICK ? 5_000 : 100_000;
  // The stream keeps every line here (its cap is FLEET_OUTPUT_MAX_LINES): this measures throughput,
  // not what a slow reader would miss (that is announced as a gap event).
  const s = await benchStack({ api: true, env: { FLEET_OUTPUT_MAX_LINES: String(n + 1_000) } });
  try {
    const m = await s.localMember('stream');
    const job = await s.jobs.enqueue(m.id, { prompt: `seq 1 ${n}`, attempts: 1 });
    const t0 = performance.now();
    const { delivered: lines } = await readEvents(`${s.url}/v1/jobs/${job.id}/events`, s.token);
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

/** Lines in a big run, and one line's text (95 characters and the newline). */
const BIG = QUICK ? 20_000 : 10_000_000;
const LINE = 'x'.repeat(95);

async function bigRun(): Promise<BenchRow> {
  const s = await benchStack({ api: true });
  const rss = () => process.memoryUsage().rss / 1e6;
  try {
    const m = await s.localMember('big');
    const start = rss();
    // The peak of each half of the run, by lines read: flat memory peaks alike in both halves, memory
    // held per line read grows from one half to the next.
    let first = start;
    let second = start;
    const progress = { lines: 0 };
    const sampler = setInterval(() => {
      if (progress.lines < BIG / 2) first = Math.max(first, rss());
      else second = Math.max(second, rss());
    }, 250);
    const job = await s.jobs.enqueue(m.id, { prompt: `yes ${LINE} | head -n ${BIG}`, attempts: 1 });
    const t0 = performance.now();
    const { delivered, skipped } = await readEvents(`${s.url}/v1/jobs/${job.id}/events`, s.token, progress);
    const oursMs = performance.now() - t0;
    clearInterval(sampler);
    await waitUntil(async () => (await job.getState()) === 'completed', 600_000);
    const runDir = (await s.jobs.getJob(job.id ?? ''))?.returnvalue.runDir ?? '';
    // The baseline streams the same file over the same transport and counts its lines.
    const t = new LocalTransport();
    const c0 = performance.now();
    const ch = await t.stream(`cat '${runDir}/out'`);
    let catLines = 0;
    for await (const b of ch.output) for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) catLines++;
    const catMs = performance.now() - c0;
    await t.close();
    if (catLines !== BIG) throw new Error(`cat: ${catLines} of ${BIG} lines`);
    const peak = Math.max(first, second);
    const growth = peak - start;
    return {
      name: `Output: a run printing ${BIG} lines (${((BIG * 96) / 1e9).toFixed(2)} GB), read live over SSE under the default cap`,
      baseline: 'cat of its out file, streamed over the local transport',
      baselineValue: (BIG / catMs) * 1000,
      ours: 'agent → Redis stream → SSE',
      oursValue: (BIG / oursMs) * 1000,
      unit: 'lines/s',
      ratio: catMs / oursMs,
      better: 'higher',
      target: 'RSS growth ≤ 50 MB',
      notes: `RSS of the process (worker, API and the SSE client) ${start.toFixed(0)} MB at the start, peak ${peak.toFixed(0)} MB: growth ${growth.toFixed(0)} MB (peak in the first half of the lines ${first.toFixed(0)} MB, in the second ${second.toFixed(0)} MB); SSE delivered ${delivered} lines and announced ${skipped} as trimmed by the cap before it read them (${delivered + skipped} of ${BIG})`,
    };
  } finally {
    await s.close();
  }
}

/** A job's SSE stream read to its end: output events delivered, and lines announced as trimmed (gap events). */
async function readEvents(url: string, token: string, progress = { lines: 0 }): Promise<{ delivered: number; skipped: number }> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  let delivered = 0;
  let skipped = 0;
  let buf = '';
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let i = buf.indexOf('\n\n');
    while (i !== -1) {
      const ev = buf.slice(0, i);
      if (ev.includes('event: output')) progress.lines = ++delivered;
      else if (ev.includes('event: gap')) skipped += Number(/"skipped":(\d+)/.exec(ev)?.[1] ?? 0);
      buf = buf.slice(i + 2);
      i = buf.indexOf('\n\n');
    }
  }
  return { delivered, skipped };
}
