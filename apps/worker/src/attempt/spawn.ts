import { type RunHandle, type RunHooks, type RunOutcome, type Transport, attachRun, getProvider, runAgent } from '@fleet/exec';
import type { Member, PromptJobData } from '@fleet/registry';
import { RetryableJobError, YieldMember } from '../errors';
import { OutputSink } from '../output';
import type { Attempt } from './attempt';
import type { Begun } from './begin';
import type { Adoption } from './leftover';

export type Started = { outcome: RunOutcome; sink: OutputSink; runDir: string; workFolder: string; resumeId: string | undefined };

/**
 * Steps 3–7: record first, then spawn (or reattach to the adopted run), the PID persisted on its
 * line, its identity behind it, output to the live stream, until the run's own end.
 */
export async function spawnOrAttach(
  a: Attempt,
  t: Transport,
  begun: Begun,
  adopt: Adoption | undefined,
  runId: string,
  bump: () => void,
): Promise<Started> {
  const { member } = begun;
  const data = a.job.data;
  const runDir = adopt ? adopt.rec.runDir : t.os.runDir(member.workFolder, runId);
  // The session the run resumes: an adopted run's own, as its record names it (the member's may have
  // been cleared since by the worker that saw it reported stale).
  const resumeId = adopt ? adopt.rec.resumeId : data.resume ? member.sessionId : undefined;
  if (adopt) a.spawned(adopt.handle);
  // Record first: written with the fence by beginAttempt, or now while the run directory is prepared
  // and awaited before the spawn (onPrepared). writeRun replaces a record of this token's own, so a
  // proposal whose run directory is not the one used here is corrected.
  else if (begun.recordedRunDir !== runDir) a.recorded(writeRecord(a, runDir, resumeId));

  const offset = adopt?.rec.outOffset ?? 0;
  const sink = new OutputSink(a.registry, a.jobId, a.job, {
    maxLines: a.cfg.outputMaxLines,
    startOffset: offset,
    onFlushed: (flushed) => a.registry.setOutOffset(a.memberId, a.fence, flushed),
  });
  let persisted: RunHandle | undefined;
  const hooks: RunHooks = {
    onPid: async (pid, identity) => {
      // One write: the PID, with its identity when both arrived together (local runs).
      await a.registry.setPid(a.memberId, a.fence, pid, identity);
      persisted = identity;
      a.log.info({ pid }, 'agent spawned; pid persisted');
      sink.event('pid', String(pid));
    },
    onStarted: async (h) => {
      a.spawned(h);
      if (persisted !== h) await a.registry.setIdentity(a.memberId, a.fence, h);
      // Progress is for humans (Bull Board): not worth holding the stream back.
      void a.job.updateProgress({ pid: h.pid, startedAt: Date.now() }).catch(() => undefined);
    },
    onLine: (line) => {
      bump();
      // Awaited by the reader only while Redis is behind: output is never held in memory unbounded.
      return sink.push(line);
    },
    // The run ended: write its output while its session is checked for leftovers.
    onExit: () => void sink.flush(),
    onDrop: ({ reason, drops }) =>
      a.log.warn({ pid: a.handle?.pid, reason, drops }, 'stream dropped; reconnecting (the agent keeps running)'),
  };
  const common = { transport: t, hooks, signal: a.signal, killTimeoutMs: a.cfg.killTimeoutMs };
  if (adopt)
    return { outcome: await attachRun({ ...common, handle: adopt.handle, offset }), sink, runDir, workFolder: member.workFolder, resumeId };
  sink.event('state', 'starting');
  const outcome = await runAgent({
    ...common,
    runId,
    workFolder: member.workFolder,
    argv: getProvider(member.provider).buildArgv(promptOptions(member, data, resumeId)),
    env: member.agentEnv,
    prompt: data.prompt,
    onPrepared: () => a.recordWritten(),
  });
  return { outcome, sink, runDir, workFolder: member.workFolder, resumeId };
}

function writeRecord(a: Attempt, runDir: string, resumeId: string | undefined): Promise<void> {
  const rec = { jobId: a.jobId, attempt: a.attempt, workerId: a.cfg.workerId, runDir, ...(resumeId ? { resumeId } : {}) };
  return a.registry.writeRun(a.memberId, a.fence, rec).then((w) => {
    // Nothing runs yet: without the fence, leave the member as the same attempt.
    if (w === 'no_fence') throw new YieldMember("lost the member's fence before writing the run record");
    // An earlier worker of this attempt ended the run meanwhile: the attempt comes back, and
    // beginAttempt returns what it recorded.
    if (w === 'ended') throw new YieldMember('the job ended meanwhile (recorded by an earlier worker of this attempt)');
    if (w !== 'ok') throw new RetryableJobError('fence_lost', `cannot write the run record: ${w}`);
  });
}

function promptOptions(member: Member, data: PromptJobData, resumeId: string | undefined) {
  const o: Parameters<ReturnType<typeof getProvider>['buildArgv']>[0] = {
    permissionMode: data.permissionMode ?? member.permissionMode,
    trustWorkspace: member.trustWorkspace,
  };
  if (data.maxBudgetUsd !== undefined) o.maxBudgetUsd = data.maxBudgetUsd;
  if (data.fallbackModel) o.fallbackModel = data.fallbackModel;
  if (data.allowedTools) o.allowedTools = data.allowedTools;
  if (member.agentBinary) o.binary = member.agentBinary;
  const model = data.model ?? member.model;
  if (model) o.model = model;
  const maxTurns = data.maxTurns ?? member.maxTurns;
  if (maxTurns !== undefined) o.maxTurns = maxTurns;
  if (resumeId) o.resumeSessionId = resumeId;
  return o;
}
