import { waitFor } from '@fleet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getProvider } from '../src/providers/index';
import { attachRun, runAgent } from '../src/run/run-agent';
import type { RunHandle } from '../src/identity';
import { type TestMember, makeMember } from './helpers/members';

let seq = 0;

describe('SSH drop mid-run (real sshd, connections killed)', () => {
  let m: TestMember;
  beforeAll(async () => {
    m = await makeMember('ssh');
  });
  afterAll(async () => {
    await m.close();
  });

  it('the agent keeps running; output resumes from the exact offset; its own exit code is returned; no second agent', async () => {
    const sampler = m.state.sampler(10);
    const lines: string[] = [];
    let dropped = 0;
    let drops = 0;
    const out = await runAgent({
      transport: m.transport,
      runId: `drop${process.pid}-${++seq}`,
      workFolder: m.workFolder,
      argv: m.agentArgv(),
      env: m.env,
      prompt: '@lines 3\n@sleep 1.5\n@lines 4\n@sleep 0.5\n@lines 2\n@exit 5\n',
      hooks: {
        onLine: (l) => {
          lines.push(l);
          if (lines.length === 2 && dropped === 0) dropped = m.sshd?.dropConnections() ?? 0;
        },
        onDrop: () => {
          drops++;
        },
      },
    });
    const max = sampler.stop();
    expect(dropped).toBeGreaterThan(0);
    expect(drops).toBeGreaterThanOrEqual(1);
    expect(out.kind).toBe('exited');
    if (out.kind !== 'exited') return;
    expect(out.exitCode).toBe(5);
    const numbered = lines.map((l) => /"line (\d+)"/.exec(l)?.[1]).filter(Boolean);
    expect(numbered).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(lines.filter((l) => l.includes('"type":"result"')).length).toBe(1);
    expect(m.state.started()).toBe(1);
    expect(max).toBe(1);
    expect(getProvider('claude').parse(out.exitCode, out.tail).error?.category).toBe('unknown');
  });

  it('a drop right after the FLEET_PID line: the identity is recovered from the run directory', async () => {
    const before = m.state.started();
    const out = await runAgent({
      transport: m.transport,
      runId: `drop${process.pid}-${++seq}`,
      workFolder: m.workFolder,
      argv: m.agentArgv(),
      env: m.env,
      prompt: '@sleep 1\n@lines 2\n',
      hooks: {
        onPid: () => {
          m.sshd?.dropConnections();
        },
      },
    });
    expect(out.kind).toBe('exited');
    if (out.kind !== 'exited') return;
    expect(out.exitCode).toBe(0);
    expect(out.drops).toBeGreaterThanOrEqual(1);
    expect(m.state.started() - before).toBe(1);
    expect(getProvider('claude').parse(out.exitCode, out.tail).ok).toBe(true);
  });

  it('adoption: a new follower attaches to a running agent from an offset and sees it to the end', async () => {
    let handle: RunHandle | undefined;
    const first: string[] = [];
    const ac = new AbortController();
    const runId = `drop${process.pid}-${++seq}`;
    const orphaned = runAgent({
      transport: m.transport,
      runId,
      workFolder: m.workFolder,
      argv: m.agentArgv(),
      env: m.env,
      prompt: '@lines 2\n@sleep 1.5\n@lines 3\n',
      hooks: {
        onStarted: (h) => {
          handle = h;
        },
        onLine: (l) => {
          first.push(l);
        },
      },
    });
    await waitFor(() => first.length >= 3, { what: 'first lines' });
    // Simulate the first worker dying: its connection goes away and it stops following.
    m.sshd?.dropConnections();
    void ac;
    const h = handle as unknown as RunHandle;
    const offset = first.slice(0, 3).reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
    const rest: string[] = [];
    const adopted = await attachRun({ transport: m.transport, handle: h, offset, hooks: { onLine: (l) => void rest.push(l) } });
    expect(adopted.kind).toBe('exited');
    expect([...first.slice(0, 3), ...rest].map((l) => /"line (\d+)"/.exec(l)?.[1]).filter(Boolean)).toEqual(['1', '2', '3', '4', '5']);
    await orphaned;
    expect(m.state.started()).toBeGreaterThan(0);
  });

  it('a drop while a file is written over SFTP fails the write as a transient error (ssh2 never answers it), and the next write works', async () => {
    // A large write waits on the channel's window: the drop lands in the middle of it.
    await m.transport.exec('true');
    const path = `${m.workFolder}/big-${++seq}`;
    const writing = m.transport.writeFile(path, Buffer.alloc(4 << 20, 97), 0o600).then(
      () => 'written',
      (e: Error & { transient?: boolean }) => (e.transient ? 'transient error' : `other error: ${e.message}`),
    );
    setTimeout(() => m.sshd?.dropConnections(), 5);
    // Without a bound it never settles; the bound must be the connection's close, not the 30 s timeout.
    const outcome = await Promise.race([writing, new Promise((r) => setTimeout(() => r('no answer in 10 s'), 10_000))]);
    expect(['transient error', 'written']).toContain(outcome);
    await m.transport.writeFile(path, 'after the drop', 0o600);
    expect((await m.transport.exec(`cat ${path}`)).output).toBe('after the drop');
  });

  it('a run whose prompt write is cut by a drop is retried on a new connection: it starts once and ends', async () => {
    const before = m.state.started();
    const prompt = `@lines 2\n${'#'.repeat(3 << 20)}\n`;
    // The connections are dropped 5 ms into the first prepare step, which carries the prompt (the
    // chaos run's case: a drop just as a run starts).
    const t = m.transport;
    const exec = t.exec.bind(t);
    let cuts = 0;
    t.exec = (script, opts) => {
      if (script.length > 3 << 20 && cuts++ === 0) setTimeout(() => m.sshd?.dropConnections(), 5);
      return exec(script, opts);
    };
    try {
      const out = await Promise.race([
        runAgent({ transport: t, runId: `drop${process.pid}-${++seq}`, workFolder: m.workFolder, argv: m.agentArgv(), env: m.env, prompt }),
        new Promise<{ kind: string }>((r) => setTimeout(() => r({ kind: 'no end in 20 s' }), 20_000)),
      ]);
      expect(out.kind).toBe('exited');
      expect(cuts).toBeGreaterThanOrEqual(2);
      expect(m.state.started() - before).toBe(1);
    } finally {
      Reflect.deleteProperty(t, 'exec');
    }
  });
});
