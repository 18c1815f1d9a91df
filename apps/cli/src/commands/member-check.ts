import type { CheckLine, MemberCheckReport } from '@fleet/core';
import { api } from '../client';
import { Spinner, paint } from '../term';

/** Asks the API for a member check; prints one line per check (with the fix under a warn or fail). */
export async function printCheck(memberId: string, out: NodeJS.WriteStream): Promise<MemberCheckReport> {
  const spinner = new Spinner(`checking ${memberId} (a worker connects to it and asks the agent for its version)`);
  let report: MemberCheckReport;
  try {
    report = (await api('GET', `/v1/members/${memberId}/check`)) as unknown as MemberCheckReport;
  } finally {
    spinner.stop();
  }
  const p = paint(out);
  const mark: Record<CheckLine['status'], string> = { ok: p.green('ok  '), warn: p.bold('warn'), fail: p.red('FAIL') };
  for (const l of report.lines) {
    out.write(`${mark[l.status]}  ${l.check.padEnd(12)} ${l.detail}\n`);
    if (l.fix) out.write(`      ${' '.repeat(12)} ${p.dim(`fix: ${l.fix}`)}\n`);
  }
  const failed = report.lines.filter((l) => l.status === 'fail').length;
  out.write(failed ? p.red(`${failed} check(s) failed\n`) : p.green('ready to run agents\n'));
  return report;
}
