import { type BenchRow, QUICK, printTable, save } from './lib';
import { benchLatency } from './latency';
import { benchOrchestration } from './orchestration';
import { benchRedisCost } from './redis-cost';
import { benchScale } from './scale';
import { benchSshPool } from './ssh-pool';
import { benchStorm } from './storm';
import { benchStreaming } from './streaming';
import { benchWave } from './wave';
import { benchWrapperOverhead } from './wrapper-overhead';

/** `npm run bench` (all, full size) or `npm run bench -- --quick` (CI: each runs, small counts). */
const benches: Array<[string, () => Promise<BenchRow[]>]> = [
  ['orchestration', benchOrchestration],
  ['latency', benchLatency],
  ['ssh-pool', benchSshPool],
  ['scale', benchScale],
  ['streaming', benchStreaming],
  ['wrapper-overhead', benchWrapperOverhead],
  ['redis-cost', benchRedisCost],
  ['wave', benchWave],
  ['storm', benchStorm],
];

const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const all: BenchRow[] = [];
for (const [name, fn] of benches) {
  if (only.length > 0 && !only.includes(name)) continue;
  process.stderr.write(`bench ${name}${QUICK ? ' (quick)' : ''}…\n`);
  const rows = await fn();
  save(name, rows);
  for (const r of rows) if (r.notes) process.stderr.write(`  ${r.notes}\n`);
  all.push(...rows);
}
printTable(all);
save('summary', all);
process.exit(0);
