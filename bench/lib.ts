import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const QUICK = process.argv.includes('--quick');
// A --quick run (CI: does each bench run?) never overwrites the figures of a full one.
export const RESULTS = join(dirname(fileURLToPath(import.meta.url)), 'results', ...(QUICK ? ['quick'] : []));

export interface BenchRow {
  name: string;
  baseline: string;
  baselineValue: number;
  ours: string;
  oursValue: number;
  unit: string;
  /** ours / baseline for "per op" units, baseline / ours for "higher is better" units; see `better`. */
  ratio: number;
  better: 'lower' | 'higher';
  target?: string;
  notes?: string;
}

export function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}

export async function timeEach(n: number, fn: (i: number) => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return out;
}

export function save(name: string, rows: BenchRow[], extra: Record<string, unknown> = {}): void {
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(
    join(RESULTS, `${name}.json`),
    `${JSON.stringify({ name, quick: QUICK, at: new Date().toISOString(), rows, ...extra }, null, 2)}\n`,
  );
}

export function printTable(rows: BenchRow[]): void {
  const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2));
  console.log('| benchmark | baseline | ours | ratio | target |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${r.baseline}: ${fmt(r.baselineValue)} ${r.unit} | ${r.ours}: ${fmt(r.oursValue)} ${r.unit} | ${r.ratio.toFixed(2)}× (${r.better} is better) | ${r.target ?? ''} |`,
    );
  }
}

/** All cores' busy time so far, ms (Linux; undefined elsewhere). */
export function machineBusyMs(): number | undefined {
  try {
    const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
    return (user + nice + system + irq + softirq + steal) * 10; // USER_HZ = 100 on Linux
  } catch {
    return undefined;
  }
}
