import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { isAlive, waitFor } from '@fleet/testkit';
import { describe, expect, it } from 'vitest';
import { getProvider } from '../src/providers/index';
import { runAgent } from '../src/run/run-agent';
import { type Kind, makeMember, suiteMember } from './helpers/members';

let seq = 0;
const runId = () => `job${process.pid}-${++seq}`;

describe.each<Kind>(['local', 'local-proc', 'ssh'])('runAgent over %s', (kind) => {
  const m = suiteMember(kind);

  it('hands the PID to the caller before any agent output, then identity, then lines in order', async () => {
    const order: string[] = [];
    let pidAtCallback = 0;
    const out = await runAgent({
      transport: m.transport,
      runId: runId(),
      workFolder: m.workFolder,
      argv: m.agentArgv(),
      env: m.env,
      prompt: '@lines 3\n',
      hooks: {
        onPid: async (pid) => {
          // Slow persistence must hold back everything after it.
          await new Promise((r) => setTimeout(r, 100));
          pidAtCallback = pid;
          order.push(`pid:${pid}`);
        },
        onStarted: (h) => {
          order.push(`started:${h.pid}`);
        },
        onLine: (l) => {
          order.push(`line:${l.slice(0, 20)}`);
        },
      },
    });
    expect(out.kind).toBe('exited');
    if (out.kind !== 'exited') return;
    expect(out.exitCode).toBe(0);
    expect(order[0]).toBe(`pid:${pidAtCallback}`);
    expect(order[1]).toBe(`started:${pidAtCallback}`);
    expect(order.slice(2).every((o) => o.startsWith('line:'))).toBe(true);
    expect(order.length).toBe(2 + 6); // pid, started, then: init, 3 lines, final text, result
  });

  it('returns the agent own exit code and full output; the provider parses result, session and usage', async () => {
    const out = await runAgent({
      transport: m.transport,
      runId: runId(),
      workFolder: m.workFolder,
      argv: m.agentArgv(),
      env: m.env,
      prompt: '@lines 4\n@exit 3\n',
    });
    expect(out.kind).toBe('exited');
    if (out.kind !== 'exited') return;
    expect(out.exitCode).toBe(3);
    expect(out.tail.filter((l) => l.includes('"line ')).length).toBe(4);
    const ok = await runAgent({
      transport: m.transport,
      runId: runId(),
      workFolder: m.workFolder,
      argv: m.agentArgv(),
      env: m.env,
      prompt: '@lines 1\n',
    });
    if (ok.kind !== 'exited') throw new Error(ok.kind);
    const parsed = getProvider('claude').parse(ok.exitCode, ok.tail);
    expect(parsed.ok).toBe(true);
    expect(parsed.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(parsed.usage?.outputTokens).toBe(2);
  });

  it('a run directory is started once: starting it again is refused, and the earlier record is never taken for the new run', async () => {
    const id = runId();
    const first = await runAgent({
      transport: m.transport,
      runId: id,
      workFolder: m.workFolder,
      argv: ['sh'],
      prompt: 'echo first-run; exit 7\n',
    });
    expect(first.kind === 'exited' && first.exitCode).toBe(7);
    const again = await runAgent({
      transport: m.transport,
      runId: id,
      workFolder: m.workFolder,
      argv: ['sh'],
      prompt: 'echo second-run\n',
    });
    expect(again).toMatchObject({ kind: 'not_started', reason: 'rundir_used' });
    const runDir = m.transport.os.runDir(m.workFolder, id);
    expect(readFileSync(`${runDir}/prompt`, 'utf8')).toBe('echo first-run; exit 7\n');
    // leader:boot:start, and for a local run (started by the spawn helper) its waiter's pid:start.
    const record = kind === 'ssh' ? /^\d+:[^:]+:\d+\n7\n$/ : /^\d+:[^:]+:\d+:\d+:\d+\n7\n$/;
    expect(readFileSync(`${runDir}/pid`, 'utf8')).toMatch(record);
  });

  it('delivers a hostile 1 MB prompt byte-exact through a file, never on a command line', async () => {
    const canary = `CANARY${Date.now()}`;
    const hostile = `@sleep 1.5\n${canary} it's "quoted" $(touch /tmp/fleet-pwned) \`id\` ; rm -rf / \n\r\n✓ ünïcödé 🚀 \\ $HOME\n`;
    const prompt = Buffer.concat([Buffer.from(hostile), Buffer.alloc(1 << 20, 'x'), Buffer.from('\nend')]);
    let seenInPs = false;
    let scans = 0;
    const out = await runAgent({
      transport: m.transport,
      runId: runId(),
      workFolder: m.workFolder,
      argv: m.agentArgv(),
      env: m.env,
      prompt,
      hooks: {
        onStarted: async () => {
          // While the agent runs, look at every process's command line on the member.
          for (let i = 0; i < 5; i++) {
            for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
              try {
                if (readFileSync(`/proc/${p}/cmdline`).includes(canary)) seenInPs = true;
              } catch {}
            }
            scans++;
            await new Promise((r) => setTimeout(r, 100));
          }
        },
      },
    });
    expect(out.kind).toBe('exited');
    if (out.kind !== 'exited') return;
    expect(scans).toBe(5);
    expect(seenInPs).toBe(false);
    // The agent (a child of the supervisor whose PID the handle holds) recorded exactly what it read.
    const received = readdirSync(`${m.state.dir}/prompts`)
      .map((f) => m.state.prompt(Number(f)))
      .filter((b) => b.includes(canary));
    expect(received.length).toBe(1);
    expect(received[0]?.equals(prompt)).toBe(true);
    expect(() => readFileSync('/tmp/fleet-pwned')).toThrow();
  });

  it('while a run is followed over a shell, its end is awaited on the run lock, not polled; the agent holds no handle on that lock', async () => {
    const id = runId();
    const lock = `${m.transport.os.runDir(m.workFolder, id)}/lock`;
    const procs = () =>
      readdirSync('/proc')
        .filter((n) => /^\d+$/.test(n))
        .flatMap((p) => {
          try {
            const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
            const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
            return [{ pid: Number(p), ppid, argv: readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0') }];
          } catch {
            return [];
          }
        });
    const samples: Array<{ waiting: boolean; polls: number; agentHolds: boolean }> = [];
    let sampling: Promise<void> | undefined;
    const look = () => {
      const all = procs();
      return { all, waiters: all.filter((p) => p.argv[0] === 'flock' && p.argv.includes(lock)) };
    };
    const sample = async () => {
      // The watcher forks in the background of the reattach: on a loaded machine it may be a moment.
      if (kind === 'ssh') await waitFor(() => look().waiters.length === 1, { what: 'the watcher to wait on the lock', timeoutMs: 5_000 });
      for (let i = 0; i < 10; i++, await new Promise((r) => setTimeout(r, 50))) {
        const { all } = look();
        const waiters = all.filter((p) => p.argv[0] === 'flock' && p.argv.includes(lock));
        const polls = all.filter((p) => p.argv[0] === 'sleep' && waiters.some((w) => w.ppid === p.ppid)).length;
        const agentHolds = m.state.live().some((a) => {
          try {
            return readdirSync(`/proc/${a}/fd`).some((fd) => readlinkSync(`/proc/${a}/fd/${fd}`) === lock);
          } catch {
            return false;
          }
        });
        samples.push({ waiting: waiters.length === 1, polls, agentHolds });
      }
    };
    const out = await runAgent({
      transport: m.transport,
      runId: id,
      workFolder: m.workFolder,
      argv: m.agentArgv(),
      env: m.env,
      // Long enough for the samples on a loaded machine.
      prompt: '@lines 1\n@sleep 6\n@lines 1\n',
      hooks: {
        onLine: () => {
          sampling ??= sample();
        },
      },
    });
    await sampling;
    expect(out.kind).toBe('exited');
    expect(samples.length).toBe(10);
    expect(samples.every((x) => !x.agentHolds)).toBe(true);
    // Local runs are followed in process (no watcher); over SSH the watcher waits in flock.
    if (kind === 'ssh') expect(samples.every((x) => x.waiting && x.polls === 0)).toBe(true);
  });

  it('kills what the agent left running in its session when it exits', async () => {
    const out = await runAgent({
      transport: m.transport,
      runId: runId(),
      workFolder: m.workFolder,
      argv: m.agentArgv(),
      env: m.env,
      prompt: '@leave-background 60\n',
    });
    expect(out.kind).toBe('exited');
    if (out.kind !== 'exited') return;
    const bg = Number(m.state.file('background.pid'));
    expect(bg).toBeGreaterThan(1);
    expect(out.cleanup.result).toBe('killed');
    expect(isAlive(bg)).toBe(false);
  });

  it('abort kills the whole run and reports it', async () => {
    const ac = new AbortController();
    let agentPid = 0;
    const outP = runAgent({
      transport: m.transport,
      runId: runId(),
      workFolder: m.workFolder,
      argv: m.agentArgv(),
      env: m.env,
      prompt: '@lines 1\n@sleep 30\n',
      signal: ac.signal,
      hooks: {
        onLine: () => {
          const live = m.state.live();
          if (live[0]) agentPid = live[0];
          ac.abort();
        },
      },
    });
    const out = await outP;
    expect(out.kind).toBe('aborted');
    if (out.kind !== 'aborted') return;
    expect(out.kill?.result).toBe('killed');
    expect(agentPid).toBeGreaterThan(0);
    expect(isAlive(agentPid)).toBe(false);
    await waitFor(() => m.state.live().length === 0, { what: 'no live agents' });
  });

  it('reports a missing work folder as not started, and a missing agent binary as exit 127 → agent_not_found', async () => {
    const bad = await runAgent({
      transport: m.transport,
      runId: runId(),
      workFolder: `${m.workFolder}/does-not-exist`,
      argv: ['true'],
      prompt: 'x',
    });
    expect(bad).toEqual({ kind: 'not_started', reason: 'workfolder_missing' });
    const missing = await runAgent({
      transport: m.transport,
      runId: runId(),
      workFolder: m.workFolder,
      argv: ['/nonexistent/claude', '-p'],
      prompt: 'x',
    });
    expect(missing.kind).toBe('exited');
    if (missing.kind !== 'exited') return;
    expect(missing.exitCode).toBe(127);
    expect(getProvider('claude').parse(missing.exitCode, missing.tail).error?.category).toBe('agent_not_found');
  });
});

describe.each<Kind>(['local', 'local-proc', 'ssh'])('abort while the agent is silent (%s)', (kind) => {
  it('returns promptly even though the channel sends nothing', async () => {
    const m = await makeMember(kind);
    try {
      const ac = new AbortController();
      const p = runAgent({
        transport: m.transport,
        runId: `silent${process.pid}`,
        workFolder: m.workFolder,
        argv: m.agentArgv(),
        env: m.env,
        prompt: '@sleep 60\n',
        signal: ac.signal,
        hooks: { onStarted: () => void setTimeout(() => ac.abort(), 300) },
      });
      const out = await p;
      expect(out.kind).toBe('aborted');
      if (out.kind === 'aborted') expect(out.kill?.result).toBe('killed');
      await waitFor(() => m.state.live().length === 0, { what: 'agent gone' });
    } finally {
      await m.close();
    }
  });
});
