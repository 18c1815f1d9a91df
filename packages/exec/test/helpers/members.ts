import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AgentState, FAKE_AGENT, type PrivateSshd, startSshd, tempDir } from '@fleet/testkit';
import { afterAll, beforeAll } from 'vitest';
import type { RunHandle } from '../../src/identity';
import type { RunOutcome } from '../../src/run/follow';
import { runAgent } from '../../src/run/run-agent';
import { LocalTransport } from '../../src/transport/local';
import { sshTransport } from './ssh';
import type { Transport } from '../../src/transport/types';

/** `local-proc`: a local member whose runs get no cgroup (the /proc-only path every guarantee must hold on). */
export type Kind = 'local' | 'local-proc' | 'ssh';

/** A member for tests: a transport (local, or a real sshd on loopback), a work folder, agent state. */
export interface TestMember {
  kind: Kind;
  transport: Transport;
  sshd?: PrivateSshd;
  workFolder: string;
  state: AgentState;
  /** argv for the fake agent with this member's state dir. */
  agentArgv(extra?: string[]): string[];
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function makeMember(kind: Kind): Promise<TestMember> {
  const dir = tempDir(`fleet-${kind}-`);
  const workFolder = join(dir.path, 'work');
  mkdirSync(workFolder, { recursive: true });
  const state = new AgentState(join(dir.path, 'agent-state'));
  let sshd: PrivateSshd | undefined;
  let transport: Transport;
  if (kind === 'ssh') {
    sshd = await startSshd();
    transport = sshTransport(sshd, { keepaliveIntervalMs: 1_000, backoff: { initialMs: 50, maxMs: 500, deadlineMs: 10_000 } });
  } else {
    transport = new LocalTransport(undefined, { cgroups: kind === 'local' });
  }
  return {
    kind,
    transport,
    sshd,
    workFolder,
    state,
    env: { FAKE_AGENT_STATE: state.dir },
    agentArgv: (extra = []) => [FAKE_AGENT, '-p', '--output-format', 'stream-json', '--verbose', ...extra],
    async close() {
      await transport.close();
      await sshd?.stop();
      dir.remove();
    },
  };
}

/**
 * One member for a whole describe block: made before its first test, closed after its last (its
 * fields are there from the first test on).
 */
export function suiteMember(kind: Kind): TestMember {
  const m = {} as TestMember;
  beforeAll(async () => {
    Object.assign(m, await makeMember(kind));
  });
  afterAll(async () => {
    await m.close?.();
  });
  return m;
}

let seq = 0;

/** Starts an agent run and resolves once its handle is known (the run goes on in the background; `done` is its outcome). */
export async function startRun(m: TestMember, prompt: string, tag = 'run'): Promise<{ handle: RunHandle; done: Promise<RunOutcome> }> {
  let resolveHandle: (h: RunHandle) => void = () => {};
  const handleP = new Promise<RunHandle>((r) => {
    resolveHandle = r;
  });
  const done = runAgent({
    transport: m.transport,
    runId: `${tag}${process.pid}-${++seq}`,
    workFolder: m.workFolder,
    argv: m.agentArgv(),
    env: m.env,
    prompt,
    hooks: { onStarted: (h) => resolveHandle(h) },
  });
  return { handle: await handleP, done };
}
