import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { LocalTransport, runAgent } from '@fleet/exec';
import { type PrivateSshd, isAlive, pidIn, procStat, startSshd, waitFor } from '@fleet/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Fleet, startFleet, type WorkerProc } from './harness';

/**
 * The run protocol under faults, with real worker processes, real Redis, a real sshd and the fake
 * agent. Every scenario samples the live agents of its member (from the agents' own PID records and
 * the process table) and asserts: at most one at any sample, none at the end.
 */
let fleet: Fleet;
let sshd: PrivateSshd;
let worker: WorkerProc | undefined;

beforeAll(async () => {
  fleet = await startFleet();
  sshd = await startSshd();
});
afterAll(async () => {
  await fleet.close();
  await sshd.stop();
});
afterEach(async () => {
  await worker?.stop();
  worker = undefined;
});

describe('run protocol scenarios', () => {
  it('1. stale session on resume: first process gone, retry without resume succeeds, session id updated', async () => {
    const { member, state } = await fleet.addLocalMember();
    await fleet.redis.hset(fleet.registry.keys.member(member.id), 'sessionId', '11111111-2222-4333-8444-555555555555');
    worker = await fleet.startWorker();
    const sampler = state.sampler(10);
    const job = await fleet.jobs.enqueue(member.id, { prompt: '@lines 2', resume: true });
    const done = await fleet.waitJob(job.id ?? '');
    expect(await done.getState()).toBe('completed');
    expect(done.returnvalue.attempts).toBe(2);
    expect(done.data.resume).toBe(false);
    const m = await fleet.registry.getMember(member.id);
    expect(m?.sessionId).toBe(done.returnvalue.sessionId);
    expect(m?.sessionId).not.toBe('11111111-2222-4333-8444-555555555555');
    expect(state.started()).toBe(2);
    expect(sampler.stop()).toBeLessThanOrEqual(1);
    expect(state.live()).toEqual([]);
    expect(await fleet.registry.getRun(member.id)).toBeUndefined();
    expect(await fleet.registry.fenceHolder(member.id)).toBeNull();
  });

  it('2. overloaded twice then success (backoff retries)', async () => {
    const { member, state } = await fleet.addLocalMember();
    worker = await fleet.startWorker();
    const sampler = state.sampler(10);
    const job = await fleet.jobs.enqueue(member.id, { prompt: `@overloaded-times 2 k-${member.id}\n@lines 1`, attempts: 3 });
    const done = await fleet.waitJob(job.id ?? '');
    expect(await done.getState()).toBe('completed');
    expect(done.returnvalue.attempts).toBe(3);
    expect(state.started()).toBe(3);
    expect(sampler.stop()).toBeLessThanOrEqual(1);
    expect(state.live()).toEqual([]);
  });

  it('3. auth error: no retry at all, failed with category auth', async () => {
    const { member, state } = await fleet.addLocalMember();
    worker = await fleet.startWorker();
    const job = await fleet.jobs.enqueue(member.id, { prompt: '@auth', attempts: 5 });
    const done = await fleet.waitJob(job.id ?? '');
    expect(await done.getState()).toBe('failed');
    expect(done.failedReason).toMatch(/^\[auth\] Not logged in/);
    expect(done.attemptsMade).toBe(1);
    expect(state.started()).toBe(1);
  });

  it('4. SSH connection dropped mid-run: no second process, completes with the agent’s own exit code', async () => {
    const { member, state } = await fleet.addSshMember(sshd);
    worker = await fleet.startWorker();
    const sampler = state.sampler(10);
    const job = await fleet.jobs.enqueue(member.id, { prompt: '@lines 2\n@sleep 2\n@lines 3', attempts: 3 });
    await waitFor(() => state.live().length === 1, { what: 'agent running' });
    await new Promise((r) => setTimeout(r, 500));
    expect(sshd.dropConnections()).toBeGreaterThan(0);
    const done = await fleet.waitJob(job.id ?? '');
    expect(await done.getState()).toBe('completed');
    expect(done.returnvalue).toMatchObject({ exitCode: 0, attempts: 1, result: 'done: 5 lines' });
    expect(state.started()).toBe(1);
    expect(sampler.stop()).toBe(1);
    expect(worker.logs.some((l) => String(l.msg).includes('stream dropped'))).toBe(true);
    const out = await fleet.redis.xrange(fleet.registry.keys.output(job.id ?? ''), '-', '+');
    const lines = out.map(([, f]) => f[3] ?? '').filter((l) => l.includes('"line '));
    expect(lines.map((l) => /"line (\d)"/.exec(l)?.[1])).toEqual(['1', '2', '3', '4', '5']);
  });

  it('5. worker SIGKILLed mid-run: a new worker adopts the live run; the job ends exactly once', async () => {
    const { member, state } = await fleet.addLocalMember();
    const a = await fleet.startWorker();
    const sampler = state.sampler(10);
    const job = await fleet.jobs.enqueue(member.id, { prompt: '@lines 1\n@sleep 4\n@lines 1' });
    await waitFor(async () => (await fleet.registry.getRun(member.id))?.startTime, { what: 'identity recorded' });
    await waitFor(() => state.live().length === 1, { what: 'agent running' });
    const agent = state.live()[0];
    a.kill('SIGKILL');
    await a.exited;
    expect(agent && isAlive(agent)).toBe(true);
    worker = await fleet.startWorker();
    const done = await fleet.waitJob(job.id ?? '');
    expect(await done.getState()).toBe('completed');
    expect(done.returnvalue.attempts).toBe(1);
    expect(state.started()).toBe(1);
    expect(sampler.stop()).toBe(1);
    expect(worker.logs.some((l) => l.msg === 'adopting our own run left by a previous worker')).toBe(true);
    expect(state.live()).toEqual([]);
  });

  it('6. a leftover run from a crashed worker is killed and confirmed gone before the new prompt spawns', async () => {
    const { member, state } = await fleet.addLocalMember();
    worker = await fleet.startWorker({ FLEET_SWEEP_INTERVAL_MS: '600000' });
    // A run started by a worker that crashed long ago: record in Redis, process alive, no fence, no job.
    const t = new LocalTransport();
    let ghostPid = 0;
    const ghost = runAgent({
      transport: t,
      runId: 'ghost-1',
      workFolder: member.workFolder,
      argv: [member.agentBinary ?? '', '-p', '--output-format', 'stream-json'],
      env: member.agentEnv,
      prompt: '@spawn-tree 60\n@sleep 60',
      hooks: {
        onStarted: async (h) => {
          ghostPid = h.pid;
          await fleet.redis.hset(fleet.registry.keys.run(member.id), {
            token: 'ghost:1:dead-worker',
            jobId: 'ghost',
            attempt: '1',
            workerId: 'dead-worker',
            state: 'running',
            runDir: h.runDir,
            pid: String(h.pid),
            bootId: h.bootId,
            startTime: h.startTime,
            startedAt: String(Date.now()),
            outOffset: '0',
          });
        },
      },
    });
    await waitFor(() => state.live().length === 1 && pidIn(state.dir, 'grandchild-setsid.pid') > 0, { what: 'ghost running' });
    const grandchild = pidIn(state.dir, 'grandchild-setsid.pid');
    await waitFor(() => procStat(grandchild)?.comm === 'sleep', { what: 'grandchild settled' });
    const sampler = state.sampler(5);
    const job = await fleet.jobs.enqueue(member.id, { prompt: '@lines 1' });
    const done = await fleet.waitJob(job.id ?? '');
    expect(await done.getState()).toBe('completed');
    expect(isAlive(ghostPid)).toBe(false);
    expect(isAlive(grandchild)).toBe(false);
    expect(sampler.stop()).toBe(1);
    expect(worker.logs.some((l) => l.msg === 'killed leftover run before spawning' && l.kill === 'killed')).toBe(true);
    expect((await ghost).kind).toBe('lost');
    expect(state.live()).toEqual([]);
  });

  it('7. two worker processes, 20 jobs on one member: never overlapping runs', async () => {
    const { member, state } = await fleet.addLocalMember();
    worker = await fleet.startWorker();
    const second = await fleet.startWorker();
    const sampler = state.sampler(5);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await fleet.jobs.enqueue(member.id, { prompt: `@sleep 0.1\n@lines 1` })).id ?? '');
    for (const id of ids) expect(await (await fleet.waitJob(id)).getState()).toBe('completed');
    expect(state.started()).toBe(20);
    expect(sampler.stop()).toBe(1);
    const served = new Set([worker, second].map((w) => w.logs.filter((l) => l.msg === 'job succeeded').length > 0));
    expect(served.has(true)).toBe(true);
    await second.stop();
    expect(state.live()).toEqual([]);
  });

  it('8. cancel an active job: the whole process tree is gone and the job failed as cancelled', async () => {
    const { member, state } = await fleet.addSshMember(sshd, 'ssh-cancel');
    worker = await fleet.startWorker();
    const job = await fleet.jobs.enqueue(member.id, { prompt: '@spawn-tree 60\n@sleep 60' });
    await waitFor(() => state.live().length === 1 && pidIn(state.dir, 'grandchild-setpgid.pid') > 0, { what: 'tree running' });
    const pg = pidIn(state.dir, 'grandchild-setpgid.pid');
    await waitFor(() => procStat(pg)?.comm === 'sleep', { what: 'grandchild settled' });
    const agent = state.live()[0] ?? 0;
    expect(await fleet.jobs.cancel(job.id ?? '')).toBe('signalled');
    const done = await fleet.waitJob(job.id ?? '');
    expect(await done.getState()).toBe('failed');
    expect(done.failedReason).toMatch(/^\[cancelled\]/);
    expect(isAlive(agent)).toBe(false);
    expect(isAlive(pg)).toBe(false);
    expect(await fleet.registry.getRun(member.id)).toBeUndefined();
    // A waiting job is simply removed.
    const blocker = await fleet.jobs.enqueue(member.id, { prompt: '@sleep 3' });
    const waiting = await fleet.jobs.enqueue(member.id, { prompt: '@lines 1' });
    await waitFor(async () => (await blocker.getState()) === 'active', { what: 'blocker active' });
    expect(await fleet.jobs.cancel(waiting.id ?? '')).toBe('removed');
    await fleet.jobs.cancel(blocker.id ?? '');
    await fleet.waitJob(blocker.id ?? '');
  });

  it('9. inactivity timeout and total deadline: killed, failed as timeout', async () => {
    const { member, state } = await fleet.addLocalMember();
    worker = await fleet.startWorker();
    const idle = await fleet.jobs.enqueue(member.id, { prompt: '@lines 1\n@sleep 60', inactivityTimeoutS: 1 });
    const d1 = await fleet.waitJob(idle.id ?? '');
    expect(d1.failedReason).toMatch(/^\[timeout\] no output for 1 s/);
    const chatty = Array.from({ length: 30 }, () => '@lines 1\n@sleep 0.3').join('\n');
    const total = await fleet.jobs.enqueue(member.id, { prompt: chatty, inactivityTimeoutS: 5, totalTimeoutS: 2 });
    const started = Date.now();
    const d2 = await fleet.waitJob(total.id ?? '');
    expect(d2.failedReason).toMatch(/^\[timeout\] total timeout/);
    expect(Date.now() - started).toBeLessThan(8_000);
    // Output keeps a run alive: 2.4 s of a line every 0.3 s with a 1 s inactivity limit completes.
    const steady = Array.from({ length: 8 }, () => '@lines 1\n@sleep 0.3').join('\n');
    const d3 = await fleet.waitJob((await fleet.jobs.enqueue(member.id, { prompt: steady, inactivityTimeoutS: 1 })).id ?? '');
    expect(await d3.getState()).toBe('completed');
    await waitFor(() => state.live().length === 0, { what: 'agents gone' });
  });

  it('10. PID reuse: a run record whose identity no longer matches is never killed', async () => {
    const { member, state } = await fleet.addLocalMember();
    worker = await fleet.startWorker({ FLEET_SWEEP_INTERVAL_MS: '600000' });
    // Someone else's process now holds the PID the record names (start time differs).
    const stranger = spawn('sleep', ['60'], { stdio: 'ignore', detached: true });
    const st = procStat(stranger.pid ?? 0);
    await fleet.redis.hset(fleet.registry.keys.run(member.id), {
      token: 'old:1:gone-worker',
      jobId: 'old',
      attempt: '1',
      workerId: 'gone-worker',
      state: 'running',
      runDir: join(member.workFolder, '.fleet/runs/old-1'),
      pid: String(stranger.pid),
      bootId: (await import('node:fs')).readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
      startTime: String(Number(st?.startTime) - 5),
      startedAt: String(Date.now()),
      outOffset: '0',
    });
    const job = await fleet.jobs.enqueue(member.id, { prompt: '@lines 1' });
    const done = await fleet.waitJob(job.id ?? '');
    expect(await done.getState()).toBe('completed');
    expect(isAlive(stranger.pid ?? 0)).toBe(true);
    expect(worker.logs.some((l) => l.msg === 'killed leftover run before spawning' && l.kill === 'identity_mismatch')).toBe(true);
    stranger.kill('SIGKILL');
    expect(state.live()).toEqual([]);
  });
});
