import { JOB_STATES } from '@fleet/core';
import { type Command, Option } from 'commander';
import { type Json, api, listMembers, resolveMember } from '../client';
import { positiveInt } from '../options';
import { type Paint, paint } from '../term';

function age(ms: number): string {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 90) return `${s}s`;
  if (s < 5400) return `${Math.round(s / 60)}m`;
  if (s < 129_600) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

export function jobsCommand(program: Command): void {
  program
    .command('jobs')
    .description('list recent jobs, newest first')
    .option('--member <member>', 'only this member (id or name)')
    .addOption(new Option('--state <state>', 'only jobs in this state').choices(JOB_STATES))
    .option('--limit <n>', 'at most n jobs', positiveInt, 20)
    .option('--json', 'print the jobs as JSON')
    .action(async (f: { member?: string; state?: string; limit: number; json?: boolean }) => {
      const q = new URLSearchParams({ limit: String(f.limit) });
      if (f.member) q.set('member', await resolveMember(f.member));
      if (f.state) q.set('state', f.state);
      const jobs = (await api('GET', `/v1/jobs?${q}`)).jobs as Json[];
      if (f.json) return void process.stdout.write(`${JSON.stringify(jobs, null, 2)}\n`);
      const names = new Map((await listMembers()).map((m) => [m.id, m.name]));
      const p = paint(process.stdout);
      for (const j of jobs) process.stdout.write(`${row(j, names, p)}\n`);
    });
}

function row(j: Json, names: Map<string, string>, p: Paint): string {
  const e = j.error as { category?: string; message?: string } | undefined;
  const state = String(j.state);
  const padded = state.padEnd(11);
  const shown = state === 'completed' ? p.green(padded) : state === 'failed' ? p.red(padded) : padded;
  const firstLine = (String(e?.message ?? '').split('\n')[0] ?? '').slice(0, 80);
  const outcome = e ? `[${e.category}] ${firstLine}` : j.exitCode !== undefined ? `exit ${j.exitCode}` : '';
  const member = String(names.get(String(j.memberId)) ?? j.memberId).padEnd(16);
  return `${String(j.jobId).padEnd(40)} ${member} ${shown} ${String(j.attempts).padStart(2)}  ${age(Number(j.enqueuedAt)).padStart(4)}  ${outcome}`;
}
