import { execFileSync } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalTransport, type RunOutcome, getProvider, runAgent } from '@fleet/exec';
import { encodeResult } from '@fleet/core';
import type { Member } from '@fleet/registry';
import { type PrivateSshd, isAlive, startSshd, waitFor } from '@fleet/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Fleet, startFleet } from './harness';

/** A run record left by an attempt whose worker is gone (job `<memberId>.…<tag>`, attempt 1). */
function deadAttemptRecord(memberId: string, tag: string, fields: Record<string, string>): Record<string, string> & { token: string } {
  return {
    token: `${memberId}.00000000-0000-4000-8000-0000000000${tag}:1:dead`,
    jobId: `${memberId}.00000000-0000-4000-8000-0000000000${tag}`,
    attempt: '1',
    workerId: 'dead',
    state: 'running',
    startedAt: String(Date.now()),
    outOffset: '0',
    ...fields,
  };
}

/**
 * Starts an agent (`@sleep 60`) on a local member whose run record names a dead attempt: an orphan no
 * live job owns. Resolves once that record holds its PID and identity.
 */
async function startOrphan(member: Member, runId: string, tag: string): Promise<{ pid: number; run: Promise<RunOutcome> }> {
  let pid = 0;
  const run = runAgent({
    transport: new LocalTransport(),
    runId,
    workFolder: member.workFolder,
    argv: [member.agentBinary ?? '', '-p'],
    env: member.agentEnv,
    prompt: '@sleep 60',
    hooks: {
      onStarted: async (h) => {
        await fleet.redis.hset(
          fleet.registry.keys.run(member.id),
          deadAttemptRecord(member.id, tag, { runDir: h.runDir, pid: String(h.pid), bootId: h.bootId, startTime: h.startTime }),
        );
        pid = h.pid;
      },
    },
  });
  await waitFor(() => pid > 0, { what: `orphan ${runId} recorded` });
  return { pid, run };
}

/**
 * Runs an agent to its end on a local member under a record naming attempt 1 of `jobId` on a dead
 * worker: as if that attempt's worker had died and its run finished with nobody watching. With
 * `resume`, the run was started to resume that session (`--resume`, named by its record).
 */
async function finishedRun(member: Member, jobId: string, prompt: string, resume?: string): Promise<{ pid: number; runDir: string }> {
  let rec: { pid: number; runDir: string } | undefined;
  const outcome = await runAgent({
    transport: new LocalTransport(),
    runId: `${jobId}-1-dead00`,
    workFolder: member.workFolder,
    // As the worker starts it (the result comes as a JSON event).
    argv: getProvider(member.provider).buildArgv({
      binary: member.agentBinary,
      permissionMode: member.permissionMode,
      trustWorkspace: member.trustWorkspace,
      ...(resume ? { resumeSessionId: resume } : {}),
    }),
    env: member.agentEnv,
    prompt,
    hooks: {
      onStarted: async (h) => {
        await fleet.redis.hset(fleet.registry.keys.run(member.id), {
          token: `${jobId}:1:dead`,
          memberId: member.id,
          jobId,
          attempt: '1',
          workerId: 'dead',
          state: 'running',
          startedAt: String(Date.now()),
          outOffset: '0',
          runDir: h.runDir,
          pid: String(h.pid),
          bootId: h.bootId,
          startTime: h.startTime,
          ...(resume ? { resumeId: resume } : {}),
        });
        rec = { pid: h.pid, runDir: h.runDir };
      },
    },
  });
  if (outcome.kind !== 'exited' || (outcome.exitCode !== 0 && !resume) || !rec) throw new Error(`finishedRun: ${JSON.stringify(outcome)}`);
  return rec;
}

/**
 * Makes a run's `pid` file a FIFO: whoever reads the run's record waits until `release()` hands it
 * the record and puts the file back as it was. A script that reads the record again (as the probe
 * does) may open the FIFO again before the file is back: it is handed the record too.
 */
function holdRecord(runDir: string): { release(): Promise<void> } {
  const pidFile = join(runDir, 'pid');
  const content = readFileSync(pidFile);
  rmSync(pidFile);
  execFileSync('mkfifo', ['-m', '600', pidFile]);
  writeFileSync(`${pidFile}.back`, content);
  return {
    async release() {
      await writeFile(pidFile, content); // the held reader gets the record…
      renameSync(pidFile, `${pidFile}.held`);
      renameSync(`${pidFile}.back`, pidFile); // …and the run directory is as it was
      // A reader that opened the FIFO again in between (no writer: ENXIO while none is there).
      for (const end = Date.now() + 300; Date.now() < end; await new Promise((r) => setTimeout(r, 5))) {
        try {
          const fd = openSync(`${pidFile}.held`, constants.O_WRONLY | constants.O_NONBLOCK);
          writeSync(fd, content);
          closeSync(fd);
        } catch {}
      }
      rmSync(`${pidFile}.held`);
    },
  };
}

let fleet: Fleet;
let sshd: PrivateSshd;
beforeAll(async () => {
  fleet = await startFleet();
  sshd = await startSshd();
});
afterEach(() => fleet.stopWorkers());
afterAll(async () => {
  await fleet.close();
  await sshd.stop();
});

describe('worker lifecycle', () => {
  it('sweeper at start kills an orphan run no job owns (identity-checked), counts and logs it', async () => {
    const { member, state } = await fleet.addLocalMember();
    const { pid, run: orphan } = await startOrphan(member, 'orphan-1', '00');
    await waitFor(() => state.live().length === 1, { what: 'orphan running' });
    const before = (await fleet.registry.stats()).orphans_killed ?? 0;
    const w = await fleet.startWorker();
    await waitFor(() => !isAlive(pid), { what: 'orphan killed' });
    expect((await orphan).kind).toBe('lost');
    expect(await fleet.registry.getRun(member.id)).toBeUndefined();
    expect((await fleet.registry.stats()).orphans_killed).toBe(before + 1);
    expect(w.logs.some((l) => l.msg === 'sweeper: removed a run no live job owns' && l.kill === 'killed' && l.pid === pid)).toBe(true);
    await w.stop();
  });

  it('sweeper at start handles many stale records at once: kills each live orphan, removes every stale record, leaves an owned one', async () => {
    // Three live orphans, each on its own member.
    const live: Array<{ pid: number; memberId: string; run: Promise<unknown> }> = [];
    for (let i = 0; i < 3; i++) {
      const { member } = await fleet.addLocalMember(`orphan-${i}`);
      const { pid, run } = await startOrphan(member, `many-orphan-${i}`, `a${i}`);
      await waitFor(() => isAlive(pid), { what: `orphan ${i} running` });
      live.push({ pid, memberId: member.id, run });
    }
    // Forty stale records of runs long gone (dead PIDs of this boot).
    const bootId = (await import('node:fs')).readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const dead: string[] = [];
    for (let i = 0; i < 40; i++) {
      const { member } = await fleet.addLocalMember(`dead-${i}`);
      await fleet.redis.hset(
        fleet.registry.keys.run(member.id),
        deadAttemptRecord(member.id, `${10 + i}`, {
          runDir: join(member.workFolder, '.fleet/runs/gone-1'),
          pid: String(4_000_000 + i),
          bootId,
          startTime: '1',
        }),
      );
      dead.push(member.id);
    }
    // One record whose fence its own attempt holds: a live attempt owns it, the sweeper must not touch it.
    const { member: owned } = await fleet.addLocalMember('owned');
    const ownedRec = deadAttemptRecord(owned.id, '99', {
      runDir: join(owned.workFolder, '.fleet/runs/x-1'),
      pid: '4100000',
      bootId,
      startTime: '1',
    });
    await fleet.redis.hset(fleet.registry.keys.run(owned.id), ownedRec);
    await fleet.redis.set(fleet.registry.keys.fence(owned.id), ownedRec.token, 'PX', 60_000);

    const before = (await fleet.registry.stats()).orphans_killed ?? 0;
    const w = await fleet.startWorker();
    for (const o of live) await waitFor(() => !isAlive(o.pid), { what: `orphan ${o.pid} killed` });
    await waitFor(
      async () => (await Promise.all([...dead, ...live.map((o) => o.memberId)].map((id) => fleet.registry.getRun(id)))).every((r) => !r),
      {
        what: 'every stale record removed',
      },
    );
    // All of it in the startup sweep itself, not left to the periodic ones.
    const startup = await waitFor(() => w.logs.find((l) => l.msg === 'sweep done' && l.why === 'startup'), { what: 'startup sweep' });
    expect(startup).toMatchObject({ killed: 3, removed: 43 });
    expect((await fleet.registry.stats()).orphans_killed).toBe(before + 3);
    expect(
      w.logs
        .filter((l) => l.msg === 'sweeper: removed a run no live job owns' && l.kill === 'killed')
        .map((l) => l.pid)
        .sort(),
    ).toEqual(live.map((o) => o.pid).sort());
    expect((await fleet.registry.getRun(owned.id))?.token).toBe(ownedRec.token);
    await w.stop();
    await fleet.redis.del(fleet.registry.keys.fence(owned.id), fleet.registry.keys.run(owned.id));
    await Promise.all(live.map((o) => o.run));
  });

  it('a run whose PID never reached Redis and that starts late (after the next attempt looked) never runs beside the next one', async () => {
    // A worker recorded a run and sent its start, then died before the PID came back; over SSH the
    // start can land half a second later (the login shell). The next attempt on the member must not
    // take "no record on the member yet" as "never started".
    const { member, state } = await fleet.addLocalMember('late-start');
    const lateId = `late-${process.pid}`;
    const transport = new LocalTransport();
    const lateDir = transport.os.runDir(member.workFolder, lateId);
    await fleet.redis.hset(fleet.registry.keys.run(member.id), deadAttemptRecord(member.id, '77', { state: 'starting', runDir: lateDir }));
    const sampler = state.sampler(10);
    const w = await fleet.startWorker();
    const job = await fleet.jobs.enqueue(member.id, { prompt: '@lines 1\n@sleep 1.5' });
    await waitFor(() => state.live().length === 1, { what: 'the next attempt running' });
    // Now the old start arrives: the same run directory, its supervisor started.
    const late = await runAgent({
      transport,
      runId: lateId,
      workFolder: member.workFolder,
      argv: [member.agentBinary ?? '', '-p'],
      env: member.agentEnv,
      prompt: '@sleep 5',
    });
    expect(late.kind).not.toBe('exited');
    expect(await (await fleet.waitJob(job.id ?? '')).getState()).toBe('completed');
    expect(sampler.stop()).toBe(1);
    expect(state.started()).toBe(1);
    expect(readFileSync(join(lateDir, 'pid'), 'utf8')).toBe('abandoned\n');
    await transport.close();
    await w.stop();
  });

  it('a run aborted before its PID came back (a slow spawn) is claimed, not dropped: its late start never runs', async () => {
    // The run's session starts late (its `setsid` held until the job has failed): the start gives
    // up waiting for it, and the inactivity abort (1 s) comes while it waits. That run must not be
    // dropped as "never started" and then start: it is claimed, and the late spawn never runs.
    const slow = await startSshd({ spawnGate: true });
    try {
      const { member, state } = await fleet.addSshMember(slow, 'slow-spawn');
      const w = await fleet.startWorker();
      const warm = await fleet.jobs.enqueue(member.id, { prompt: '@lines 1' });
      expect(await (await fleet.waitJob(warm.id ?? '')).getState()).toBe('completed');
      slow.holdSpawns(true);
      const started = state.started();
      const job = await fleet.jobs.enqueue(member.id, { prompt: '@lines 1\n@sleep 20', inactivityTimeoutS: 1, attempts: 1 });
      const done = await fleet.waitJob(job.id ?? '', 60_000);
      expect(await done.getState()).toBe('failed');
      expect(done.failedReason).toMatch(/^\[timeout\]/);
      // The late start lands: it never runs an agent, none runs now.
      slow.holdSpawns(false);
      await waitFor(() => slow.spawnsLetGo() >= 1, { what: 'the held spawn to go on' });
      await new Promise((r) => setTimeout(r, 2_000));
      expect(state.live()).toEqual([]);
      expect(state.started()).toBe(started);
      expect(await fleet.registry.getRun(member.id)).toBeUndefined();
      // The path under test: aborted while the PID was unknown (no pid in the abort's log line).
      const aborted = w.logs.find((l) => l.msg === 'run aborted' && l.jobId === job.id);
      expect(aborted).toMatchObject({ category: 'inactivity' });
      expect(aborted?.pid).toBeUndefined();
      await w.stop();
    } finally {
      await slow.stop();
    }
  }, 120_000);

  it('a job limit that ends the attempt before the spawn fails the job as it would after, instead of retrying it', async () => {
    // The member's first login takes 3 s: the 1 s inactivity limit ends the attempt while its run
    // directory is still being prepared. That is the job's timeout, not a start to try again.
    const slow = await startSshd({ loginDelayS: 3 });
    try {
      const { member, state } = await fleet.addSshMember(slow, 'slow-login');
      const w = await fleet.startWorker();
      const job = await fleet.jobs.enqueue(member.id, { prompt: '@lines 1', inactivityTimeoutS: 1, attempts: 3 });
      const done = await fleet.waitJob(job.id ?? '', 60_000);
      expect(await done.getState()).toBe('failed');
      expect(done.failedReason).toMatch(/^\[timeout\] no output for 1 s/);
      expect(done.attemptsMade).toBe(1);
      expect(state.started()).toBe(0);
      await w.stop();
    } finally {
      await slow.stop();
    }
  }, 60_000);

  it('members added after start are served without a restart', async () => {
    const w = await fleet.startWorker();
    const { member, state } = await fleet.addLocalMember('late');
    const job = await fleet.jobs.enqueue(member.id, { prompt: '@lines 1' });
    expect(await (await fleet.waitJob(job.id ?? '')).getState()).toBe('completed');
    expect(state.started()).toBe(1);
    await w.stop();
  });

  it("a member's work folder changed between two jobs: the second runs in the new one, its record names a run directory there", async () => {
    const w = await fleet.startWorker();
    const { member, state } = await fleet.addLocalMember('moved');
    const first = await fleet.waitJob((await fleet.jobs.enqueue(member.id, { prompt: '@lines 1' })).id ?? '');
    expect(first.returnvalue?.runDir.startsWith(`${member.workFolder}/`)).toBe(true);
    // (The worker proposes the next record from where it found the member last: here, stale.)
    const moved = join(fleet.dir, 'moved-work');
    mkdirSync(moved);
    await fleet.registry.updateMember(member.id, { workFolder: moved });
    const job = await fleet.jobs.enqueue(member.id, { prompt: '@lines 1\n@sleep 1' });
    await waitFor(async () => (await fleet.registry.getRun(member.id))?.pid, { what: 'pid recorded' });
    expect((await fleet.registry.getRun(member.id))?.runDir.startsWith(`${moved}/`)).toBe(true);
    const second = await fleet.waitJob(job.id ?? '');
    expect(await second.getState()).toBe('completed');
    expect(second.returnvalue?.runDir.startsWith(`${moved}/`)).toBe(true);
    expect(state.started()).toBe(2);
    await w.stop();
  });

  it('SIGTERM: stops taking jobs, leaves the running agent alive and adoptable; the next worker finishes it once', async () => {
    const { member, state } = await fleet.addLocalMember('graceful');
    const a = await fleet.startWorker({ FLEET_SHUTDOWN_GRACE_MS: '300' });
    const sampler = state.sampler(10);
    const job = await fleet.jobs.enqueue(member.id, { prompt: '@lines 1\n@sleep 3\n@lines 1' });
    await waitFor(async () => (await fleet.registry.getRun(member.id))?.startTime && state.live().length === 1, { what: 'running' });
    const agent = state.live()[0] ?? 0;
    a.kill('SIGTERM');
    await a.exited;
    expect(a.logs.some((l) => l.msg === 'shutdown grace over; leaving running agents to be adopted')).toBe(true);
    expect(isAlive(agent)).toBe(true);
    expect(await fleet.registry.getRun(member.id)).toBeDefined();
    const b = await fleet.startWorker();
    const done = await fleet.waitJob(job.id ?? '');
    expect(await done.getState()).toBe('completed');
    expect(state.started()).toBe(1);
    expect(b.logs.some((l) => l.msg === 'adopting our own run left by a previous worker')).toBe(true);
    expect(sampler.stop()).toBe(1);
    await b.stop();
  });

  it('a run that finished while no worker watched is adopted (its exit code and output), not run again', async () => {
    const { member, state } = await fleet.addLocalMember('finished-unwatched');
    const a = await fleet.startWorker({ FLEET_SHUTDOWN_GRACE_MS: '200' });
    const job = await fleet.jobs.enqueue(member.id, { prompt: '@lines 1\n@sleep 1\n@lines 2' });
    await waitFor(async () => (await fleet.registry.getRun(member.id))?.startTime && state.live().length === 1, { what: 'running' });
    a.kill('SIGTERM');
    await a.exited;
    // Let the agent finish on its own with nobody watching.
    await waitFor(() => state.live().length === 0, { what: 'agent finished' });
    const b = await fleet.startWorker();
    const done = await fleet.waitJob(job.id ?? '');
    expect(await done.getState()).toBe('completed');
    expect(done.returnvalue.result).toBe('done: 3 lines');
    expect(state.started()).toBe(1);
    expect(b.logs.some((l) => l.msg === 'adopting our own run left by a previous worker' && l.runState === 'gone')).toBe(true);
    await b.stop();
  });

  it('an adopted run that reported its resumed session stale, when the member no longer names that session, is retried fresh as stale_session', async () => {
    const { member, state } = await fleet.addLocalMember('stale-adopted');
    const job = await fleet.jobs.enqueue(member.id, { prompt: '@lines 2', resume: true, attempts: 3 });
    // Attempt 1 resumed a session the agent does not know; its worker saw the report, cleared the
    // member's session and died before it recorded the failure. The member names no session now.
    const stale = '11111111-2222-4333-8444-666666666666';
    await finishedRun(member, job.id ?? '', '@lines 2', stale);
    const w = await fleet.startWorker();
    const done = await fleet.waitJob(job.id ?? '');
    // (BullMQ keeps the reason of the attempt that failed.)
    expect(done.failedReason).toMatch(/^\[stale_session\] session 1111.* no longer exists/);
    expect(await done.getState()).toBe('completed');
    expect(done.returnvalue.attempts).toBe(2);
    expect(done.data.resume).toBe(false);
    expect(w.logs.some((l) => l.msg === 'adopting our own run left by a previous worker' && l.runState === 'gone')).toBe(true);
    // The stale run and the fresh one.
    expect(state.started()).toBe(2);
    expect((await fleet.registry.getMember(member.id))?.sessionId).toBe(done.returnvalue.sessionId);
    await w.stop();
  });

  it('adoption after the result line was already delivered still parses the result (agent lingering on its children)', async () => {
    const { member, state } = await fleet.addLocalMember('lingering');
    const a = await fleet.startWorker();
    const job = await fleet.jobs.enqueue(member.id, { prompt: '@spawn-tree 4\n@lines 2' });
    // The result line is out and published; the agent now waits for its children.
    await waitFor(
      async () =>
        (await fleet.redis.xrange(fleet.registry.keys.output(job.id ?? ''), '-', '+')).some(([, f]) =>
          (f[3] ?? '').includes('"type":"result"'),
        ),
      { what: 'result published' },
    );
    await waitFor(async () => Number((await fleet.registry.getRun(member.id))?.outOffset) > 0, { what: 'offset persisted' });
    a.kill('SIGKILL');
    await a.exited;
    const b = await fleet.startWorker();
    const done = await fleet.waitJob(job.id ?? '');
    expect(done.failedReason).toBeUndefined();
    expect(await done.getState()).toBe('completed');
    expect(done.returnvalue.result).toBe('done: 2 lines');
    expect(state.started()).toBe(1);
    await b.stop();
  });

  it('an attempt whose failure was lost with its lock is reported again, not run a second time', async () => {
    const { member, state } = await fleet.addLocalMember('lost-failure');
    const job = await fleet.jobs.enqueue(member.id, { prompt: '@lines 1', attempts: 3 });
    // As if attempt 1 had run, failed as overloaded, and BullMQ never heard of it (lock lost).
    const at = Date.now();
    await fleet.registry.recordAttempt(
      member.id,
      job.id ?? '',
      { attempt: 1, startedAt: at, endedAt: at, outcome: 'failed', category: 'overloaded', retryable: true },
      '[overloaded] API Error: 529',
    );
    const w = await fleet.startWorker();
    const done = await fleet.waitJob(job.id ?? '');
    expect(await done.getState()).toBe('completed');
    expect(done.returnvalue.attempts).toBe(2);
    expect(state.started()).toBe(1);
    expect(w.logs.some((l) => l.msg === 'attempt already failed (its failure was lost with the lock); reporting it again')).toBe(true);
    await w.stop();
  });

  /** Starts a long job on a fresh local member and returns its run record once its identity is in Redis. */
  const runningJob = async (name: string, prompt = '@lines 1\n@sleep 8\n@lines 1') => {
    const { member, state } = await fleet.addLocalMember(name);
    const w = await fleet.startWorker();
    const job = await fleet.jobs.enqueue(member.id, { prompt });
    const rec = await waitFor(
      async () => {
        const r = await fleet.registry.getRun(member.id);
        return r?.startTime && r.pid ? r : undefined;
      },
      { what: 'run identity in redis' },
    );
    return { member, state, w, job, rec, pid: rec.pid as number };
  };
  const aborted = (w: { logs: Array<Record<string, unknown>> }) => w.logs.find((l) => String(l.msg).startsWith('aborting run'));

  it('a Redis error while the worker checks its expired fence kills neither the run nor the worker; the fence is taken back and the job finishes once', async () => {
    const { member, state, w, job } = await runningJob('fence-error', '@lines 1\n@sleep 6\n@lines 1');
    const runKey = fleet.registry.keys.run(member.id);
    const record = await fleet.redis.hgetall(runKey);
    // The fence expired (as after Redis was away longer than its TTL), and reading the run record
    // fails meanwhile (a real Redis error: WRONGTYPE).
    await fleet.redis.multi().del(fleet.registry.keys.fence(member.id)).del(runKey).set(runKey, 'not a hash').exec();
    const checked = () => w.logs.some((l) => l.msg === 'fence check failed (will retry)' || String(l.msg).startsWith('aborting run'));
    await waitFor(() => checked() || w.child.exitCode !== null, { what: 'the worker to check its fence' });
    await fleet.redis.multi().del(runKey).hset(runKey, record).exec();
    expect(w.child.exitCode, 'the worker died').toBeNull();
    const done = await fleet.waitJob(job.id ?? '');
    expect(await done.getState()).toBe('completed');
    expect(done.returnvalue.result).toBe('done: 2 lines');
    expect(w.child.exitCode).toBeNull();
    expect(w.logs.some((l) => l.msg === 'fence had expired; re-acquired it')).toBe(true);
    expect(w.logs.some((l) => String(l.msg).startsWith('aborting run'))).toBe(false);
    expect(state.started()).toBe(1);
    await w.stop();
  });

  it('a Redis error while the worker starts serving a member queue does not end the worker; the queue is served once it clears', async () => {
    const { member, state } = await fleet.addLocalMember('queue-error');
    const job = await fleet.jobs.enqueue(member.id, { prompt: '@lines 1' });
    // The queue's meta hash reads as an error (a real one: WRONGTYPE) when the worker looks at it.
    const meta = `${fleet.prefix}:q:member-${member.id}:meta`;
    const saved = await fleet.redis.hgetall(meta);
    await fleet.redis.multi().del(meta).set(meta, 'not a hash').exec();
    const w = await fleet.startWorker();
    const failed = () => w.logs.some((l) => l.msg === 'cannot serve the member queue yet (will retry)');
    await waitFor(() => failed() || w.child.exitCode !== null, { what: 'the worker to try the queue' });
    await new Promise((r) => setTimeout(r, 300));
    expect(w.child.exitCode, 'the worker died').toBeNull();
    await fleet.redis.multi().del(meta).hset(meta, saved).exec();
    const done = await fleet.waitJob(job.id ?? '');
    expect(await done.getState()).toBe('completed');
    expect(state.started()).toBe(1);
    await w.stop();
  });

  it('the expired fence taken by a re-delivery of the same attempt: the old worker detaches and kills nothing (that attempt adopts the run)', async () => {
    const { member, state, w, job, rec, pid } = await runningJob('redelivered');
    // As after a Redis stall past both the job lock and the fence TTL: a re-delivery of this attempt
    // on another worker has taken the fence, and has not adopted the run yet.
    await fleet.redis.set(fleet.registry.keys.fence(member.id), `${rec.jobId}:${rec.attempt}:other-worker`, 'PX', 2_000);
    await waitFor(() => aborted(w), { what: 'the worker to see its fence taken' });
    expect(aborted(w)?.msg).toBe('aborting run: detach');
    expect(isAlive(pid, rec.startTime), 'the old worker killed the run the re-delivery was about to adopt').toBe(true);
    expect((await fleet.registry.getRun(member.id))?.token, 'the record is left for the fence holder').toBe(rec.token);
    // Nobody adopts here (there is no other worker): the next attempt, once the fence expires, kills
    // the leftover before it spawns, and the job still ends once.
    const done = await fleet.waitJob(job.id ?? '');
    expect(await done.getState()).toBe('completed');
    expect(w.logs.some((l) => l.msg === 'killed leftover run before spawning' && l.pid === pid)).toBe(true);
    expect(isAlive(pid, rec.startTime)).toBe(false);
    expect(state.started()).toBe(2);
    await w.stop();
  });

  it('the expired fence taken by another job: the worker kills its run (it can no longer vouch for the member)', async () => {
    const { member, state, w, job, rec, pid } = await runningJob('fenced-out');
    await fleet.redis.set(fleet.registry.keys.fence(member.id), 'another-job:1:other-worker', 'PX', 2_000);
    await waitFor(() => aborted(w), { what: 'the worker to see its fence taken' });
    expect(aborted(w)?.msg).toBe('aborting run: fence_lost');
    await waitFor(() => !isAlive(pid, rec.startTime), { what: 'the run to be killed' });
    const done = await fleet.waitJob(job.id ?? '');
    expect(await done.getState()).toBe('completed');
    expect(state.started()).toBe(2);
    await w.stop();
  });

  it('a cancel whose message was lost (only its mark is in Redis) still stops the run at the next fence renewal', async () => {
    const { member, state, w, job, rec, pid } = await runningJob('cancel-mark', '@lines 1\n@sleep 30\n@lines 1');
    // What the API's cancel writes, without the pub/sub message (lost: a subscriber reconnecting, or a
    // message that arrived before the attempt registered itself).
    await fleet.redis.set(fleet.registry.keys.cancelled(job.id ?? ''), String(Date.now()));
    const done = await fleet.waitJob(job.id ?? '');
    expect(await done.getState()).toBe('failed');
    expect(done.failedReason).toContain('cancelled');
    expect(aborted(w)?.msg).toBe('aborting run: cancelled');
    expect(
      w.logs.some((l) => l.msg === 'cancel requested'),
      'no cancel message was sent',
    ).toBe(false);
    expect(isAlive(pid, rec.startTime)).toBe(false);
    expect(await fleet.registry.getRun(member.id)).toBeUndefined();
    expect(state.started()).toBe(1);
    await w.stop();
  });

  it("another job's finished run left on the member is kept for that job: its attempt takes the result, the agent runs once", async () => {
    const { member, state } = await fleet.addLocalMember('parked');
    const other = await fleet.jobs.enqueue(member.id, { prompt: '@lines 1' });
    const job = await fleet.jobs.enqueue(member.id, { prompt: '@lines 2' });
    // `job`'s attempt 1 ran on a worker that died; its run finished. `other` is delivered first.
    const run = await finishedRun(member, job.id ?? '', '@lines 2');
    const w = await fleet.startWorker();
    const otherDone = await fleet.waitJob(other.id ?? '');
    const done = await fleet.waitJob(job.id ?? '');
    expect(await otherDone.getState()).toBe('completed');
    expect(done.failedReason).toBeUndefined();
    expect(await done.getState()).toBe('completed');
    expect(done.returnvalue).toMatchObject({ result: 'done: 2 lines', pid: run.pid, attempts: 1, runDir: run.runDir });
    // The finished run and `other`'s: `job`'s agent was not started again.
    expect(state.started()).toBe(2);
    expect(w.logs.some((l) => l.msg === "parked another job's finished run for that job (its result is kept)" && l.pid === run.pid)).toBe(
      true,
    );
    expect(w.logs.some((l) => l.msg === 'adopting our own run left by a previous worker' && l.parked === true)).toBe(true);
    expect(await fleet.registry.getParked(member.id, job.id ?? '', 1)).toBeUndefined();
    expect((await fleet.registry.stats()).leftovers_parked).toBeGreaterThanOrEqual(1);
    expect(await fleet.registry.getRun(member.id)).toBeUndefined();
    await w.stop();
  });

  /**
   * A job's attempt 1 that finished on a fresh local member while no worker watched, and a worker
   * whose look at that run (it reads the run's pid file, a FIFO until `held.release()`) is held once
   * its attempt 1 has taken the fence.
   */
  const heldAtOwnFinishedRun = async (name: string) => {
    const { member, state } = await fleet.addLocalMember(name);
    const job = await fleet.jobs.enqueue(member.id, { prompt: '@lines 2', attempts: 3 });
    const run = await finishedRun(member, job.id ?? '', '@lines 2');
    const held = holdRecord(run.runDir);
    const w = await fleet.startWorker();
    await waitFor(async () => (await fleet.registry.fenceHolder(member.id))?.startsWith(`${job.id}:1:`), {
      what: 'attempt 1 to take the fence',
    });
    return { member, state, job, run, held, w };
  };

  it('an attempt that loses the fence while it looks at its own finished run leaves it, spends no attempt, and takes its result when delivered again', async () => {
    // The look is held until the fence is gone, as when Redis restarted meanwhile.
    const { member, state, job, run, held, w } = await heldAtOwnFinishedRun('fence-lost-leftover');
    await fleet.redis.del(fleet.registry.keys.fence(member.id));
    await held.release();
    const done = await fleet.waitJob(job.id ?? '');
    expect(done.failedReason).toBeUndefined();
    expect(await done.getState()).toBe('completed');
    expect(done.returnvalue).toMatchObject({ result: 'done: 2 lines', pid: run.pid, attempts: 1 });
    expect(done.attemptsMade).toBe(1);
    expect(state.started()).toBe(1);
    expect(w.logs.some((l) => String(l.msg).endsWith('leaving the member and delaying this attempt'))).toBe(true);
    await w.stop();
  });

  it('an earlier worker of the same attempt that records the success after losing the fence: the attempt holding it now spawns nothing and returns that result', async () => {
    const { member, state, job, run, held, w } = await heldAtOwnFinishedRun('late-success');
    // While the new worker looks at the run, the earlier one (its fence gone) saw the run end and
    // records the success, as recordSuccess lets it: the result is kept and the record goes with it.
    const result = { result: 'done: 2 lines', exitCode: 0, attempts: 1, pid: run.pid, runDir: run.runDir, durationMs: 5 };
    await fleet.registry.recordSuccess(member.id, `${job.id}:1:dead`, {
      tokensIn: 0,
      tokensOut: 0,
      jobId: job.id,
      result: encodeResult(result),
    });
    await held.release();
    const done = await fleet.waitJob(job.id ?? '');
    expect(done.failedReason).toBeUndefined();
    expect(await done.getState()).toBe('completed');
    expect(done.returnvalue).toMatchObject({ result: 'done: 2 lines', pid: run.pid, attempts: 1 });
    expect(state.started()).toBe(1);
    expect(w.logs.some((l) => l.msg === 'job already succeeded (its lock was lost before completion); returning the recorded result')).toBe(
      true,
    );
    await w.stop();
  });

  it('a job cancelled while its attempt looks at the run left on the member fails as cancelled before it spawns anything', async () => {
    const { member, state } = await fleet.addLocalMember('cancel-leftover');
    const job = await fleet.jobs.enqueue(member.id, { prompt: '@lines 1', attempts: 3 });
    const owner = await fleet.jobs.enqueue(member.id, { prompt: '@lines 2' });
    // `owner`'s attempt 1 ran on a worker that died and its run finished; `job` is delivered first, and
    // its look at that run (a read of the run's pid file) is held on a FIFO until `job` is cancelled.
    const run = await finishedRun(member, owner.id ?? '', '@lines 2');
    const held = holdRecord(run.runDir);
    const w = await fleet.startWorker();
    await waitFor(async () => (await fleet.registry.fenceHolder(member.id))?.startsWith(`${job.id}:1:`), {
      what: 'attempt 1 to take the fence',
    });
    // What the API's cancel writes (its message can't reach an attempt that is not running yet).
    await fleet.redis.set(fleet.registry.keys.cancelled(job.id ?? ''), String(Date.now()));
    await held.release();
    const done = await fleet.waitJob(job.id ?? '');
    expect(await done.getState()).toBe('failed');
    expect(done.failedReason).toContain('cancelled before it started');
    // The run it looked at is left for its owner, which takes its result; no agent was started.
    const ownerDone = await fleet.waitJob(owner.id ?? '');
    expect(await ownerDone.getState()).toBe('completed');
    expect(ownerDone.returnvalue).toMatchObject({ result: 'done: 2 lines', pid: run.pid, attempts: 1 });
    expect(state.started(), 'the cancelled job spawned its agent').toBe(1);
    await w.stop();
  });

  it('secrets never reach the logs, even on SSH errors', async () => {
    const { member } = await fleet.addSshMember(sshd, 'secretive');
    const w = await fleet.startWorker();
    const job = await fleet.jobs.enqueue(member.id, { prompt: '@lines 1' });
    expect(await (await fleet.waitJob(job.id ?? '')).getState()).toBe('completed');
    // A member whose key is wrong: an auth failure is logged, the key is not.
    const bad = await fleet.registry.addMember({
      name: 'bad-key',
      transport: 'ssh',
      host: sshd.host,
      port: sshd.port,
      username: sshd.username,
      password: 'sup3r-s3cret-pw',
      hostKeySha256: sshd.hostKeySha256,
      workFolder: member.workFolder,
      provider: 'shell',
    });
    const failing = await fleet.jobs.enqueue(bad.id, { prompt: 'echo hi', attempts: 1 });
    const d = await fleet.waitJob(failing.id ?? '');
    expect(await d.getState()).toBe('failed');
    const all = JSON.stringify(w.logs);
    expect(all).not.toContain('PRIVATE KEY');
    expect(all).not.toContain(sshd.privateKey.split('\n')[1] ?? 'x');
    expect(all).not.toContain('sup3r-s3cret-pw');
    expect(JSON.stringify(d.data)).not.toContain('sup3r-s3cret-pw');
    expect(existsSync(join(member.workFolder, '.fleet/runs'))).toBe(true);
    await w.stop();
  });
});
