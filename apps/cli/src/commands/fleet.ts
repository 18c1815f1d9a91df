import type { Command } from 'commander';
import { type Json, api } from '../client';

export function statusCommand(program: Command): void {
  program
    .command('status')
    .description('every member: idle or busy, its running job and pid, its queue, what it has cost')
    .option('--json', 'print the status as JSON')
    .action(async (f: { json?: boolean }) => {
      const json = await api('GET', '/v1/fleet/status');
      if (f.json) return void process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
      for (const m of json.members as Json[]) {
        const q = m.queue as Record<string, number>;
        const spent = `$${Number(m.costUsd ?? 0).toFixed(4)}  ${tokens(Number(m.tokensIn ?? 0))} in ${tokens(Number(m.tokensOut ?? 0))} out`;
        process.stdout.write(
          `${m.id}  ${String(m.name).padEnd(16)} ${String(m.status).padEnd(5)} ${m.activeJob ? `job ${m.activeJob} pid ${m.pid}` : ''}  waiting ${q.waiting} active ${q.active} failed ${q.failed}  ${spent}\n`,
        );
      }
    });
}

/** 1234567 → 1.2M: token counts as a person reads them. */
const tokens = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e4 ? `${Math.round(n / 1e3)}k` : String(n));

export function cancelCommand(program: Command): void {
  program
    .command('cancel')
    .description('cancel a waiting or running job (its process tree is killed)')
    .argument('<jobId>', 'the job')
    .action(async (jobId: string) => {
      const json = await api('POST', `/v1/jobs/${encodeURIComponent(jobId)}/cancel`);
      process.stdout.write(`${json.cancel}\n`);
    });
}

export function upCommand(program: Command): void {
  program
    .command('up')
    .description('start the API and a worker here (like npm start); Ctrl-C stops them')
    .action(async () => {
      const { up } = await import('@fleet/stack');
      const f = await up();
      await new Promise<void>((r) => {
        process.once('SIGINT', r);
        process.once('SIGTERM', r);
      });
      await f.stop();
    });
}
