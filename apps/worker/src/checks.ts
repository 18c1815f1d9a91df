import type { CheckLine, MemberCheckReport } from '@fleet/core';
import { checkMember } from '@fleet/exec';
import { CheckRequest, type Member, type MemberChecks, type Registry } from '@fleet/registry';
import type { Logger } from 'pino';
import type { Transports } from './transports';

/**
 * Answers a `fleet members check` request from the API: the worker that claims it checks the member
 * over a link of its own and saves the report for the API to read.
 */
export async function answerCheck(
  d: { registry: Registry; checks: MemberChecks; transports: Transports; workerId: string; log: Logger },
  message: string,
): Promise<void> {
  let req: CheckRequest;
  try {
    req = CheckRequest.parse(JSON.parse(message));
  } catch {
    d.log.warn({ message: message.slice(0, 200) }, 'ignored a malformed member check request');
    return;
  }
  if (!(await d.checks.claim(req.id))) return;
  const t0 = Date.now();
  const member = await d.registry.getMember(req.memberId);
  const lines = member
    ? await runCheck(d, member)
    : [{ check: 'connect', status: 'fail', detail: `member ${req.memberId} not found` } as const];
  const report: MemberCheckReport = {
    memberId: req.memberId,
    ok: lines.every((l) => l.status !== 'fail'),
    checkedAt: t0,
    durationMs: Date.now() - t0,
    workerId: d.workerId,
    lines,
  };
  await d.checks.saveReport(req.id, report);
  d.log.info({ memberId: req.memberId, ok: report.ok, durationMs: report.durationMs }, 'member checked');
}

async function runCheck(d: { registry: Registry; transports: Transports }, member: Member): Promise<CheckLine[]> {
  let transport: Awaited<ReturnType<Transports['fresh']>>;
  try {
    transport = await d.transports.fresh(member);
  } catch (err) {
    // The member's key file cannot be read, say: the worker cannot even try.
    return [{ check: 'connect', status: 'fail', detail: (err as Error).message }];
  }
  try {
    return await checkMember({
      transport,
      where: member.transport === 'local' ? 'this machine' : `${member.username}@${member.host}:${member.port}`,
      workFolder: member.workFolder,
      provider: member.provider,
      agentBinary: member.agentBinary,
      agentEnv: member.agentEnv,
      permissionMode: member.permissionMode,
      ...(member.transport === 'ssh'
        ? { hostKey: { before: member.hostKeySha256, after: async () => (await d.registry.getMember(member.id))?.hostKeySha256 } }
        : {}),
    });
  } catch (err) {
    return [{ check: 'connect', status: 'fail', detail: `the check stopped: ${(err as Error).message}` }];
  } finally {
    await transport.close();
  }
}
