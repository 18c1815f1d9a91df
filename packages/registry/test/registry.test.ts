import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ZodError } from 'zod';
import {
  CheckRequest,
  FenceHeldError,
  FleetJobs,
  MemberChecks,
  Registry,
  WORKER_LIVE_MS,
  WorkerPresence,
  idempotentJobId,
  memberOfJob,
  queueName,
} from '../src/index';
import { SCRIPTS } from '../src/commands/index';

const REDIS_URL = process.env.FLEET_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `fleet-test-${randomBytes(4).toString('hex')}`;
let redis: Redis;
let reg: Registry;

beforeAll(() => {
  redis = new Redis(REDIS_URL);
  reg = new Registry(redis, prefix);
});
afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

const local = { name: 'box', transport: 'local', workFolder: '/srv/work', provider: 'claude' };

describe('members', () => {
  it('stores readable hash fields, keeps secrets apart and never returns them', async () => {
    const m = await reg.addMember({
      name: 'gpu-1',
      transport: 'ssh',
      host: '10.0.0.5',
      port: 2222,
      username: 'dev',
      privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n-----END OPENSSH PRIVATE KEY-----\n',
      passphrase: 'hunter2',
      workFolder: '/home/dev/work',
      provider: 'claude',
      model: 'claude-sonnet-4-5',
      agentEnv: { FOO: 'bar' },
    });
    expect(m.id).toMatch(/^m[0-9a-f]{12}$/);
    expect(JSON.stringify(m)).not.toMatch(/secret|hunter2/);
    expect(m.hasSecret).toBe(true);
    const raw = await redis.hgetall(`${prefix}:member:${m.id}`);
    expect(raw).toMatchObject({ name: 'gpu-1', host: '10.0.0.5', port: '2222', provider: 'claude', 'env.FOO': 'bar' });
    expect(JSON.stringify(raw)).not.toMatch(/secret|hunter2/);
    expect(await reg.getSecret(m.id)).toEqual({ privateKey: expect.stringContaining('secret'), passphrase: 'hunter2' });
    expect(await reg.listMemberIds()).toContain(m.id);
    expect(JSON.stringify(await reg.listMembers())).not.toMatch(/hunter2/);
  });

  it('rejects bad input with field-level errors and writes nothing', async () => {
    const before = await redis.keys(`${prefix}:*`);
    const bad: unknown[] = [
      { ...local, workFolder: 'relative/path' },
      { ...local, workFolder: '/srv/work\n; rm -rf /' },
      { ...local, name: 'a\0b' },
      { ...local, provider: 'gpt' },
      { ...local, model: '--dangerously-skip-permissions' },
      { ...local, agentEnv: { 'BAD NAME': 'x' } },
      { ...local, extra: 1 },
      { name: 'x', transport: 'ssh', workFolder: '/w', provider: 'claude' },
      { name: 'x', transport: 'ssh', host: 'h; id', username: 'u', password: 'p', workFolder: '/w', provider: 'claude' },
      { name: 'x', transport: 'ssh', host: 'h', port: 70000, username: 'u', password: 'p', workFolder: '/w', provider: 'claude' },
      { ...local, workFolder: '/srv/../etc' },
      { ...local, os: 'windows', workFolder: '/unix/path' },
      { ...local, permissionMode: 'yolo' },
      { ...local, provider: 'gemini', permissionMode: 'dontAsk' },
      { ...local, permissionMode: 'plan', skipPermissions: true },
    ];
    for (const b of bad) await expect(reg.addMember(b), JSON.stringify(b)).rejects.toBeInstanceOf(ZodError);
    expect(await redis.keys(`${prefix}:*`)).toEqual(before);
  });

  it('updates, keeps the member valid, and removes', async () => {
    const m = await reg.addMember(local);
    const u = await reg.updateMember(m.id, { model: 'opus', maxTurns: 20 });
    expect(u).toMatchObject({ model: 'opus', maxTurns: 20 });
    await expect(reg.updateMember(m.id, { workFolder: 'rel' })).rejects.toBeInstanceOf(ZodError);
    // A patch changes what it names and nothing else: the defaults of a new member do not come back.
    const ssh = await reg.addMember({
      name: 'p',
      transport: 'ssh',
      host: 'h',
      port: 2222,
      username: 'u',
      password: 'p',
      workFolder: '/w',
      provider: 'claude',
      trustWorkspace: true,
    });
    expect(await reg.updateMember(ssh.id, { model: 'opus' })).toMatchObject({ port: 2222, trustWorkspace: true, model: 'opus' });
    expect(await reg.updateMember(ssh.id, { hostKeySha256: `SHA256:${'A'.repeat(43)}` })).toMatchObject({
      port: 2222,
      trustWorkspace: true,
    });
    expect(await reg.removeMember(m.id)).toBe(true);
    expect(await reg.getMember(m.id)).toBeUndefined();
  });

  it('permission modes: bypassPermissions by default, the deprecated boolean maps to a mode, members stored with it read back', async () => {
    const m = await reg.addMember(local);
    expect(m.permissionMode).toBe('bypassPermissions');
    expect(await redis.hget(`${prefix}:member:${m.id}`, 'permissionMode')).toBe('bypassPermissions');
    expect((await reg.updateMember(m.id, { permissionMode: 'acceptEdits' })).permissionMode).toBe('acceptEdits');
    expect((await reg.updateMember(m.id, { skipPermissions: true })).permissionMode).toBe('bypassPermissions');
    expect((await reg.addMember({ ...local, skipPermissions: false })).permissionMode).toBe('default');
    // A mode the member's provider lacks is refused on update too, and nothing changes.
    const g = await reg.addMember({ ...local, provider: 'gemini', permissionMode: 'plan' });
    await expect(reg.updateMember(g.id, { permissionMode: 'auto' })).rejects.toThrow(/permissionMode auto is not offered by gemini/);
    expect((await reg.getMember(g.id))?.permissionMode).toBe('plan');
    await expect(reg.updateMember(m.id, { provider: 'codex', permissionMode: 'dontAsk' })).rejects.toBeInstanceOf(ZodError);
    // A hash written with only the boolean (no permissionMode field).
    await redis.hdel(`${prefix}:member:${m.id}`, 'permissionMode');
    await redis.hset(`${prefix}:member:${m.id}`, 'skipPermissions', '0');
    expect((await reg.getMember(m.id))?.permissionMode).toBe('default');
    await redis.hset(`${prefix}:member:${m.id}`, 'skipPermissions', '1');
    expect((await reg.getMember(m.id))?.permissionMode).toBe('bypassPermissions');
  });
});

describe('fence and run record transitions', () => {
  const member = 'mfence';
  const A = 'job1:1:wA';
  const B = 'job1:2:wB';

  it('acquireFence: one holder at a time; re-acquire by the holder; others get the holder and TTL', async () => {
    await reg.acquireFence(member, A, 5_000);
    await reg.acquireFence(member, A, 5_000);
    const err = await reg.acquireFence(member, B, 5_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FenceHeldError);
    expect((err as FenceHeldError).holder).toBe(A);
    expect((err as FenceHeldError).pttl).toBeGreaterThan(4_000);
  });

  it("renewFence / releaseFence only for the holder; a renewal reads the job's cancel mark", async () => {
    expect(await reg.renewFence(member, 'job1', B, 5_000)).toEqual({ held: false, cancelled: false });
    expect(await reg.renewFence(member, 'job1', A, 9_000)).toEqual({ held: true, cancelled: false });
    expect(await redis.pttl(`${prefix}:member:${member}:fence`)).toBeGreaterThan(8_000);
    await redis.set(`${prefix}:job:job1:cancelled`, '1');
    expect(await reg.renewFence(member, 'job1', A, 9_000)).toEqual({ held: true, cancelled: true });
    expect(await reg.renewFence(member, 'job1', B, 9_000)).toEqual({ held: false, cancelled: true });
    expect(await reg.renewFence(member, 'job2', A, 9_000)).toEqual({ held: true, cancelled: false });
    await redis.del(`${prefix}:job:job1:cancelled`);
    expect(await reg.releaseFence(member, B)).toBe(false);
    expect(await reg.fenceHolder(member)).toBe(A);
  });

  it('writeRun needs the fence and never overwrites another attempt’s record', async () => {
    expect(await reg.writeRun(member, B, { jobId: 'job1', attempt: 2, workerId: 'wB', runDir: '/w/r2' })).toBe('no_fence');
    expect(await reg.writeRun(member, A, { jobId: 'job1', attempt: 1, workerId: 'wA', runDir: '/w/r1' })).toBe('ok');
    expect(await reg.getRun(member)).toMatchObject({ token: A, state: 'starting', runDir: '/w/r1', attempt: 1, outOffset: 0 });
    // A takes over the fence after A's release but A's record is still there:
    expect(await reg.releaseFence(member, A)).toBe(true);
    await reg.acquireFence(member, B, 5_000);
    expect(await reg.writeRun(member, B, { jobId: 'job1', attempt: 2, workerId: 'wB', runDir: '/w/r2' })).toBe('run_exists');
  });

  it('setPid / setIdentity are compare-and-set on the token: a late attempt cannot overwrite a newer PID', async () => {
    expect(await reg.setPid(member, A, 4242)).toBe(true);
    expect(await reg.setIdentity(member, A, { pid: 4242, bootId: 'b', startTime: '777' })).toBe(true);
    expect(await reg.getRun(member)).toMatchObject({ pid: 4242, bootId: 'b', startTime: '777', state: 'running' });
    expect(Math.abs(((await reg.getRun(member))?.pidAt ?? 0) - Date.now())).toBeLessThan(5_000);
    expect(await reg.setPid(member, B, 9999)).toBe(false);
    expect((await reg.getRun(member))?.pid).toBe(4242);
    expect(await reg.setOutOffset(member, A, 123)).toBe(true);
    expect(await reg.setRunState(member, A, 'killing')).toBe(true);
  });

  it('deleteRun only for its token; then the next attempt can write', async () => {
    expect(await reg.deleteRun(member, B)).toBe(false);
    expect(await reg.getRun(member)).toBeDefined();
    expect(await reg.deleteRun(member, A)).toBe(true);
    expect(await reg.writeRun(member, B, { jobId: 'job1', attempt: 2, workerId: 'wB', runDir: '/w/r2' })).toBe('ok');
    // The late attempt A wakes up and tries to record its PID and delete "its" record: nothing happens.
    expect(await reg.setPid(member, A, 1111)).toBe(false);
    expect(await reg.deleteRun(member, A)).toBe(false);
    expect(await reg.getRun(member)).toMatchObject({ token: B });
  });

  it('adoptRun moves the record to the new token only under the new token’s fence', async () => {
    const C = 'job1:2:wC';
    expect(await reg.adoptRun(member, B, C, 'wC')).toBe(false); // C has no fence
    await reg.releaseFence(member, B);
    await reg.acquireFence(member, C, 5_000);
    expect(await reg.adoptRun(member, 'wrong', C, 'wC')).toBe(false);
    expect(await reg.adoptRun(member, B, C, 'wC')).toBe(true);
    expect(await reg.getRun(member)).toMatchObject({ token: C, workerId: 'wC', adoptedFrom: B });
    expect((await reg.listRuns()).length).toBe(0); // member not in the members set: not listed
  });

  it('a run record names the session its run resumes, and keeps it when the run is adopted', async () => {
    const m = await reg.addMember(local);
    const T = 'jobS:1:w1';
    await reg.acquireFence(m.id, T, 5_000);
    expect(await reg.writeRun(m.id, T, { jobId: 'jobS', attempt: 1, workerId: 'w1', runDir: '/w/s', resumeId: 'sess-9' })).toBe('ok');
    expect((await reg.getRun(m.id))?.resumeId).toBe('sess-9');
    await reg.releaseFence(m.id, T);
    await reg.acquireFence(m.id, 'jobS:1:w2', 5_000);
    expect(await reg.adoptRun(m.id, T, 'jobS:1:w2', 'w2')).toBe(true);
    expect(await reg.getRun(m.id)).toMatchObject({ token: 'jobS:1:w2', resumeId: 'sess-9' });
    // A run that resumes nothing names no session.
    expect(await reg.deleteRun(m.id, 'jobS:1:w2')).toBe(true);
    expect(await reg.writeRun(m.id, 'jobS:1:w2', { jobId: 'jobS', attempt: 1, workerId: 'w2', runDir: '/w/s2' })).toBe('ok');
    expect((await reg.getRun(m.id))?.resumeId).toBeUndefined();
  });

  it('recordSuccess updates session and usage, deletes the run and releases the fence atomically', async () => {
    const m = await reg.addMember(local);
    const T = 'job9:1:w';
    await reg.acquireFence(m.id, T, 5_000);
    await reg.writeRun(m.id, T, { jobId: 'job9', attempt: 1, workerId: 'w', runDir: '/w/r' });
    expect((await reg.listRuns()).find((r) => r.run.memberId === m.id)).toMatchObject({ fence: T });
    expect(await reg.recordSuccess(m.id, T, { sessionId: 's-1', tokensIn: 10, tokensOut: 5, durationMs: 1234 })).toEqual({
      runDeleted: true,
      fenceReleased: true,
    });
    expect(await reg.stats()).toMatchObject({ jobs_completed: 1, run_count: 1, run_ms_sum: 1234 });
    expect(await reg.getMember(m.id)).toMatchObject({ sessionId: 's-1', tokensIn: 10, tokensOut: 5 });
    expect(await reg.getRun(m.id)).toBeUndefined();
    expect(await reg.fenceHolder(m.id)).toBeNull();
    // clearSession is a CAS on the stale id.
    expect(await reg.clearSession(m.id, 'other')).toBe(false);
    expect(await reg.clearSession(m.id, 's-1')).toBe(true);
    expect((await reg.getMember(m.id))?.sessionId).toBeUndefined();
  });

  it('beginAttempt: cancel mark, member, recorded result, recorded failure, fence, leftover — in that order, fence taken only when ready', async () => {
    const m = await reg.addMember(local);
    const fence = `${prefix}:member:${m.id}:fence`;
    const T = 'jobB:1:w1';
    // Nothing is taken while the attempt may not run.
    await redis.set(`${prefix}:job:jobB:cancelled`, '1');
    expect(await reg.beginAttempt(m.id, 'jobB', 1, T, 5_000)).toEqual({ kind: 'cancelled' });
    await redis.del(`${prefix}:job:jobB:cancelled`);
    expect(await reg.beginAttempt('nope', 'jobB', 1, T, 5_000)).toEqual({ kind: 'no_member' });
    await redis.hset(`${prefix}:job:jobB:result`, 'result', 'r', 'exitCode', '0');
    expect(await reg.beginAttempt(m.id, 'jobB', 1, T, 5_000)).toEqual({ kind: 'done', result: { result: 'r', exitCode: '0' } });
    await redis.del(`${prefix}:job:jobB:result`);
    const at = Date.now();
    await reg.recordAttempt(
      'mB',
      'jobB',
      { attempt: 1, startedAt: at, endedAt: at, outcome: 'failed', retryable: true },
      '[overloaded] busy',
    );
    expect(await reg.beginAttempt(m.id, 'jobB', 1, T, 5_000)).toEqual({ kind: 'failed', retryable: true, reason: '[overloaded] busy' });
    expect(await redis.exists(fence)).toBe(0);
    // Attempt 2 has no recorded failure; another attempt holds the fence.
    await reg.acquireFence(m.id, 'other:1:w9', 5_000);
    const fenced = await reg.beginAttempt(m.id, 'jobB', 2, 'jobB:2:w1', 5_000);
    expect(fenced).toMatchObject({ kind: 'fenced', holder: 'other:1:w9' });
    expect(fenced.kind === 'fenced' && fenced.pttl).toBeGreaterThan(4_000);
    // Ready: the fence is ours, the member decoded (no secrets), no leftover; then one.
    await reg.releaseFence(m.id, 'other:1:w9');
    const ready = await reg.beginAttempt(m.id, 'jobB', 2, 'jobB:2:w1', 5_000);
    expect(ready).toEqual({ kind: 'ready', member: await reg.getMember(m.id), recordWritten: false });
    expect(await reg.fenceHolder(m.id)).toBe('jobB:2:w1');
    await reg.writeRun(m.id, 'jobB:2:w1', { jobId: 'jobB', attempt: 2, workerId: 'w1', runDir: '/w/b2' });
    await reg.releaseFence(m.id, 'jobB:2:w1');
    const next = await reg.beginAttempt(m.id, 'jobB', 3, 'jobB:3:w2', 5_000);
    expect(next.kind === 'ready' && next.leftover).toMatchObject({ token: 'jobB:2:w1', runDir: '/w/b2', attempt: 2 });
  });

  it('beginAttempt with a proposed record writes it with the fence, as writeRun would, only on a clean member with the expected work folder and OS', async () => {
    const m = await reg.addMember(local);
    const run = (attempt: number) => ({ jobId: 'jobR', attempt, workerId: 'w1', runDir: `/srv/work/.fleet/runs/jobR-${attempt}` });
    const propose = (attempt: number, over: { workFolder?: string; os?: string } = {}) => ({
      workFolder: '/srv/work',
      os: 'linux',
      ...over,
      run: run(attempt),
      now: 1_000,
    });
    // Clean and unchanged: the record is there, the same fields writeRun writes.
    const a = await reg.beginAttempt(m.id, 'jobR', 1, 'jobR:1:w1', 5_000, propose(1));
    expect(a).toMatchObject({ kind: 'ready', recordWritten: true });
    expect(a.kind === 'ready' && a.leftover).toBeFalsy();
    const viaBegin = await redis.hgetall(`${prefix}:member:${m.id}:run`);
    await reg.deleteRun(m.id, 'jobR:1:w1');
    expect(await reg.writeRun(m.id, 'jobR:1:w1', run(1), 1_000)).toBe('ok');
    expect(await redis.hgetall(`${prefix}:member:${m.id}:run`)).toEqual(viaBegin);
    expect(viaBegin).toMatchObject({ token: 'jobR:1:w1', state: 'starting', runDir: run(1).runDir, startedAt: '1000' });
    await reg.releaseFence(m.id, 'jobR:1:w1');
    // A record on the member (here the one above, left as if its worker died): not touched, returned.
    const b = await reg.beginAttempt(m.id, 'jobR', 2, 'jobR:2:w1', 5_000, propose(2));
    expect(b).toMatchObject({ kind: 'ready', recordWritten: false, leftover: { token: 'jobR:1:w1' } });
    expect((await reg.getRun(m.id))?.token).toBe('jobR:1:w1');
    await reg.deleteRun(m.id, 'jobR:1:w1');
    await reg.releaseFence(m.id, 'jobR:2:w1');
    // The member's work folder or OS is not the one the run directory was built from: nothing written.
    for (const over of [{ workFolder: '/srv/old' }, { os: 'windows' }]) {
      const c = await reg.beginAttempt(m.id, 'jobR', 2, 'jobR:2:w1', 5_000, propose(2, over));
      expect(c).toMatchObject({ kind: 'ready', recordWritten: false });
      expect(await reg.getRun(m.id)).toBeUndefined();
      await reg.releaseFence(m.id, 'jobR:2:w1');
    }
    // This attempt's parked run: not written either (the attempt takes the parked run back first).
    await redis.hset(`${prefix}:job:jobR:attempt:2:parked`, { token: 'jobR:2:old', jobId: 'jobR', attempt: '2', runDir: '/w/p' });
    const d = await reg.beginAttempt(m.id, 'jobR', 2, 'jobR:2:w1', 5_000, propose(2));
    expect(d).toMatchObject({ kind: 'ready', recordWritten: false, parked: { token: 'jobR:2:old' } });
    expect(await reg.getRun(m.id)).toBeUndefined();
    await reg.releaseFence(m.id, 'jobR:2:w1');
    // Fenced by another attempt: neither fence nor record.
    await reg.acquireFence(m.id, 'other:1:w9', 5_000);
    expect(await reg.beginAttempt(m.id, 'jobR', 3, 'jobR:3:w1', 5_000, propose(3))).toMatchObject({ kind: 'fenced' });
    expect(await reg.getRun(m.id)).toBeUndefined();
  });

  it('dropLeftover: only the fence holder drops another attempt’s record, and only that record', async () => {
    const m = 'mdrop';
    const old = 'jobD:1:dead';
    const T = 'jobE:1:w1';
    await redis.hset(`${prefix}:member:${m}:run`, { token: old, jobId: 'jobD', attempt: '1', runDir: '/w/d1' });
    // Without the fence (lost to a Redis restart, or held by another attempt): nothing is touched.
    expect(await reg.dropLeftover(m, T, old)).toBe('no_fence');
    await reg.acquireFence(m, 'jobF:1:w2', 5_000);
    expect(await reg.dropLeftover(m, T, old)).toBe('no_fence');
    expect((await reg.getRun(m))?.token).toBe(old);
    await reg.releaseFence(m, 'jobF:1:w2');
    await reg.acquireFence(m, T, 5_000);
    // The record is no longer the run this attempt settled: kept.
    expect(await reg.dropLeftover(m, T, 'jobD:1:other')).toBe('changed');
    expect(await reg.dropLeftover(m, T, old)).toBe('ok');
    expect(await reg.getRun(m)).toBeUndefined();
    expect(await reg.dropLeftover(m, T, old)).toBe('changed');
  });

  it('parkRun / adoptParked: another job’s finished run leaves the member for its own attempt, which takes it back — each only under the fence', async () => {
    const m = await reg.addMember(local);
    const old = 'jobP:1:dead';
    const rec = {
      token: old,
      memberId: m.id,
      jobId: 'jobP',
      attempt: '1',
      workerId: 'dead',
      state: 'running',
      runDir: '/w/p1',
      pid: '4321',
      bootId: 'b',
      startTime: '99',
      outOffset: '17',
    };
    await redis.hset(`${prefix}:member:${m.id}:run`, rec);
    const leftover = await reg.getRun(m.id);
    if (!leftover) throw new Error('no record');
    const K = 'jobK:1:w1';
    expect(await reg.parkRun(m.id, K, leftover)).toBe('no_fence');
    await reg.acquireFence(m.id, K, 5_000);
    expect(await reg.parkRun(m.id, K, { ...leftover, token: 'jobP:1:other' })).toBe('changed');
    expect(await reg.parkRun(m.id, K, leftover, 60)).toBe('ok');
    // The member is free for K; the parked record keeps every field of the run, for 60 s.
    expect(await reg.getRun(m.id)).toBeUndefined();
    expect(await reg.writeRun(m.id, K, { jobId: 'jobK', attempt: 1, workerId: 'w1', runDir: '/w/k1' })).toBe('ok');
    const parkedKey = `${prefix}:job:jobP:attempt:1:parked`;
    expect(await redis.ttl(parkedKey)).toBeGreaterThan(50);
    // The prune keeps what parked records name, found through the index (no SCAN: Cluster-safe).
    expect(await reg.listParkedRunDirs()).toEqual(['/w/p1']);
    expect(await reg.getParked(m.id, 'jobP', 1)).toMatchObject({
      token: old,
      pid: 4321,
      bootId: 'b',
      startTime: '99',
      outOffset: 17,
      state: 'parked',
    });

    // jobP's attempt 1, delivered again, sees it in beginAttempt (not another attempt of jobP).
    const P = 'jobP:1:w2';
    expect(await reg.adoptParked(m.id, P, leftover, 'w2')).toBe('no_fence');
    await reg.recordSuccess(m.id, K, { tokensIn: 0, tokensOut: 0 });
    const other = await reg.beginAttempt(m.id, 'jobP', 2, 'jobP:2:w2', 5_000);
    expect(other.kind === 'ready' && other.parked).toBe(undefined);
    await reg.releaseFence(m.id, 'jobP:2:w2');
    const ready = await reg.beginAttempt(m.id, 'jobP', 1, P, 5_000);
    expect(ready.kind === 'ready' && ready.parked).toMatchObject({ token: old, runDir: '/w/p1', pid: 4321 });
    // A run record on the member blocks it; so does a parked record that is not the one read.
    await redis.hset(`${prefix}:member:${m.id}:run`, { token: 'x:1:y' });
    expect(await reg.adoptParked(m.id, P, leftover, 'w2')).toBe('busy');
    await redis.del(`${prefix}:member:${m.id}:run`);
    expect(await reg.adoptParked(m.id, P, { ...leftover, token: 'jobP:1:other' }, 'w2')).toBe('changed');
    expect(await reg.adoptParked(m.id, P, leftover, 'w2')).toBe('ok');
    expect(await reg.getRun(m.id)).toMatchObject({
      token: P,
      workerId: 'w2',
      adoptedFrom: old,
      pid: 4321,
      outOffset: 17,
      state: 'running',
    });
    expect(await redis.ttl(`${prefix}:member:${m.id}:run`)).toBe(-1);
    expect(await redis.exists(parkedKey)).toBe(0);
    expect(await reg.listParkedRunDirs()).toEqual([]);
    expect(await redis.zcard(`${prefix}:parked`)).toBe(0);
  });

  it('parked index: an entry past its expiry, or whose record is gone, is dropped when read', async () => {
    const idx = `${prefix}:parked`;
    const now = Date.now();
    await redis.hset(`${prefix}:job:jobX:attempt:1:parked`, 'runDir', '/w/x1');
    await redis.hset(`${prefix}:job:jobY:attempt:1:parked`, 'runDir', '/w/y1');
    await redis.zadd(idx, now + 60_000, `${prefix}:job:jobX:attempt:1:parked`, now - 1, `${prefix}:job:jobY:attempt:1:parked`);
    await redis.zadd(idx, now + 60_000, `${prefix}:job:jobZ:attempt:1:parked`);
    expect(await reg.listParkedRunDirs(now)).toEqual(['/w/x1']);
    expect(await redis.zrange(idx, 0, -1)).toEqual([`${prefix}:job:jobX:attempt:1:parked`]);
    await redis.del(idx);
  });

  it('appendOutput: a batch in one call, one entry per line in order, capped, TTL set when asked', async () => {
    const key = `${prefix}:job:jobO:out`;
    const lines = Array.from({ length: 300 }, (_, i) => ({ type: 'output', data: `line ${i} 'q' "$(x)"\n` }));
    expect(await reg.appendOutput('jobO', [{ type: 'state', data: 'starting' }, ...lines], { maxEntries: 10_000, ttlS: 60 })).toBe(301);
    const all = await redis.xrange(key, '-', '+');
    expect(all.map(([, f]) => f)).toEqual([
      ['type', 'state', 'data', 'starting', 'n', '1'],
      ...lines.map((l, i) => ['type', l.type, 'data', l.data, 'n', String(i + 2)]),
    ]);
    expect(await redis.ttl(key)).toBeGreaterThan(50);
    // Without a TTL argument the TTL is left alone; the cap trims the oldest entries (approximately).
    expect(await reg.appendOutput('jobO', lines, { maxEntries: 100 })).toBe(601);
    expect(await redis.ttl(key)).toBeGreaterThan(50);
    // Numbers go on across batches; what the cap trimmed shows as a jump before the first kept entry.
    const kept = await redis.xrange(key, '-', '+');
    expect(Number(kept.at(-1)?.[1][5])).toBe(601);
    expect(Number(kept[0]?.[1][5])).toBe(601 - kept.length + 1);
    const len = await redis.xlen(key);
    expect(len).toBeGreaterThanOrEqual(100);
    expect(len).toBeLessThan(601);
    expect(await reg.appendOutput('jobO', [], { maxEntries: 100 })).toBe(0);
    expect(await redis.ttl(`${prefix}:job:jobO:out:n`)).toBeGreaterThan(50);
  });

  it('recordAttempt: the history in attempt order with a TTL; a failure is also the attempt’s recorded failure', async () => {
    const t = 1_700_000_000_000;
    const failed = {
      attempt: 1,
      startedAt: t,
      endedAt: t + 5,
      outcome: 'failed' as const,
      category: 'stale_session' as const,
      message: 'session s-old no longer exists',
      retryable: true,
      pid: 4242,
      exitCode: 1,
      kill: 'already_gone',
      sessionRequested: 's-old',
    };
    const ok = {
      attempt: 2,
      startedAt: t + 10,
      endedAt: t + 20,
      outcome: 'succeeded' as const,
      pid: 4343,
      exitCode: 0,
      sessionUsed: 's-new',
    };
    // Recorded out of order (a re-delivered attempt may end late): read back in order.
    await reg.recordAttempt('mH', 'jobH', ok);
    await reg.recordAttempt('mH', 'jobH', failed, '[stale_session] session s-old no longer exists');
    expect(await reg.attemptHistory('jobH')).toEqual([failed, ok]);
    expect(await redis.ttl(`${prefix}:job:jobH:attempts`)).toBeGreaterThan(6 * 86_400);
    expect(await redis.get(`${prefix}:job:jobH:attempt:1:failed`)).toBe('retryable [stale_session] session s-old no longer exists');
    expect(await redis.exists(`${prefix}:job:jobH:attempt:2:failed`)).toBe(0);
    // A corrupt entry is skipped, not thrown; an unknown job has an empty history.
    await redis.hset(`${prefix}:job:jobH:attempts`, '3', '{not json');
    expect(await reg.attemptHistory('jobH')).toHaveLength(2);
    expect(await reg.attemptHistory('nope')).toEqual([]);
  });

  it('recordAttempt: each attempt’s cost is added to its member’s total once (a replaced entry is not counted again); no member, no total', async () => {
    const m = await reg.addMember({ ...local, name: 'cost-box' });
    const at = Date.now();
    const failed = { attempt: 1, startedAt: at, endedAt: at, outcome: 'failed' as const, retryable: true, costUsd: 0.125 };
    await reg.recordAttempt(m.id, `${m.id}.j1`, failed, '[max_turns] stopped');
    await reg.recordAttempt(m.id, `${m.id}.j1`, failed, '[max_turns] stopped'); // the same attempt reported again
    await reg.recordAttempt(m.id, `${m.id}.j1`, { ...failed, attempt: 2, outcome: 'succeeded', costUsd: 0.5 });
    await reg.recordAttempt(m.id, `${m.id}.j2`, { ...failed, outcome: 'succeeded', costUsd: undefined });
    expect((await reg.getMember(m.id))?.costUsd).toBe(0.625);
    await reg.recordAttempt('m0000000000ff', 'm0000000000ff.j', { ...failed, outcome: 'succeeded' });
    expect(await redis.exists(`${prefix}:member:m0000000000ff`)).toBe(0);
  });

  it('writeRun refuses once the job ended: an earlier worker of the same attempt recorded its success, or this attempt’s failure', async () => {
    const m = await reg.addMember(local);
    const old = 'jobE:1:w1';
    const now = 'jobE:1:w2';
    const run = (workerId: string) => ({ jobId: 'jobE', attempt: 1, workerId, runDir: '/w/e1' });
    await reg.acquireFence(m.id, old, 5_000);
    await reg.writeRun(m.id, old, run('w1'));
    // w1 loses the fence to w2 (same attempt, re-delivered); w2 finds w1's record and settles it while
    // w1's run ends and w1 records the success without the fence: the result is kept, nothing else.
    await redis.del(`${prefix}:member:${m.id}:fence`);
    await reg.acquireFence(m.id, now, 5_000);
    expect(await reg.recordSuccess(m.id, old, { tokensIn: 0, tokensOut: 0, jobId: 'jobE', result: { result: 'r', exitCode: 0 } })).toEqual({
      runDeleted: true,
      fenceReleased: false,
    });
    expect(await reg.writeRun(m.id, now, run('w2'))).toBe('ended');
    expect(await reg.getRun(m.id)).toBeUndefined();
    expect(await reg.fenceHolder(m.id)).toBe(now);
    await redis.del(`${prefix}:job:jobE:result`);
    const at = Date.now();
    await reg.recordAttempt(
      m.id,
      'jobE',
      { attempt: 1, startedAt: at, endedAt: at, outcome: 'failed', retryable: true },
      '[overloaded] busy',
    );
    expect(await reg.writeRun(m.id, now, run('w2'))).toBe('ended');
    // Another attempt's failure does not stop this one.
    expect(await reg.writeRun(m.id, now, { ...run('w2'), attempt: 2 })).toBe('ok');
    await reg.removeMember(m.id);
  });

  it('the fence expires by itself (a dead worker cannot hold a member forever)', async () => {
    await reg.acquireFence('mttl', 'j:1:w', 50);
    await new Promise((r) => setTimeout(r, 120));
    await reg.acquireFence('mttl', 'j:2:w2', 5_000);
    expect(await reg.fenceHolder('mttl')).toBe('j:2:w2');
  });
});

describe('idempotency keys', () => {
  it('one key names one job id per member: stable, UUID-shaped, and read back as that member’s job', () => {
    const a = idempotentJobId('m0123456789ab', 'req-1');
    expect(a).toBe(idempotentJobId('m0123456789ab', 'req-1'));
    expect(a).toMatch(/^m0123456789ab\.[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(memberOfJob(a)).toBe('m0123456789ab');
    expect(idempotentJobId('m0123456789ab', 'req-2')).not.toBe(a);
    expect(idempotentJobId('mba9876543210', 'req-1')).not.toBe(a.replace('m0123456789ab', 'mba9876543210'));
  });
});

describe('member queues', () => {
  it('each is serialised (global concurrency 1); a lost setting is restored by an enqueue after the recheck window', async () => {
    const bullPrefix = `${prefix}-bull`;
    const jobs = new FleetJobs(redis, { connection: redis, bullPrefix, concurrencyRecheckMs: 200 }, prefix);
    try {
      const m = await reg.addMember(local);
      const meta = `${bullPrefix}:${queueName(m.id)}:meta`;
      await jobs.enqueue(m.id, { prompt: 'one' });
      expect(await redis.hget(meta, 'concurrency')).toBe('1');
      // Lost (a Redis restarted without persistence keeps no meta key): trusted within the window…
      await redis.hdel(meta, 'concurrency');
      await jobs.enqueue(m.id, { prompt: 'two' });
      expect(await redis.hget(meta, 'concurrency')).toBeNull();
      // …and set again by the first enqueue after it.
      await new Promise((r) => setTimeout(r, 250));
      await jobs.enqueue(m.id, { prompt: 'three' });
      expect(await redis.hget(meta, 'concurrency')).toBe('1');
      // A removed member's queue is gone, and forgotten: nothing of it is trusted any more.
      await jobs.removeQueue(m.id);
      expect(await redis.exists(meta)).toBe(0);
      await jobs.ensureQueue(m.id);
      expect(await redis.hget(meta, 'concurrency')).toBe('1');
    } finally {
      await jobs.close();
      const keys = await redis.keys(`${bullPrefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
    }
  });
});

/** Redis server time (ms): heartbeats are scored by it. */
async function serverMs(): Promise<number> {
  const [sec, usec] = await redis.time();
  return Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
}

describe('worker presence (heartbeats scored by the Redis clock)', () => {
  it('beatWorker / liveWorkers: a beat counts for WORKER_LIVE_MS, leave ends it at once, a long-silent id is forgotten', async () => {
    const p = new WorkerPresence(redis, reg.keys);
    const key = reg.keys.workers();
    await redis.del(key);
    expect(await p.live()).toBe(0);
    await p.beat('w1');
    await p.beat('w2');
    expect(await p.live()).toBe(2);
    const score = Number(await redis.zscore(key, 'w1'));
    expect(Math.abs(score - (await serverMs()))).toBeLessThan(1_000);
    await p.leave('w2');
    expect(await p.live()).toBe(1);
    // A worker that stopped without leaving: past WORKER_LIVE_MS it no longer counts; past an hour it is dropped.
    await redis.zadd(key, (await serverMs()) - WORKER_LIVE_MS - 1, 'w1', (await serverMs()) - 3_600_001, 'old');
    expect(await p.live()).toBe(0);
    await p.beat('w3');
    expect(await redis.zrange(key, 0, -1)).toEqual(['w1', 'w3']);
    await redis.del(key);
  });
});

describe('member checks (API asks on pub/sub, one worker answers)', () => {
  const report = (memberId: string) => ({
    memberId,
    ok: true,
    checkedAt: 1,
    durationMs: 2,
    workerId: 'w1',
    lines: [{ check: 'connect', status: 'ok', detail: 'answered' }] as [{ check: 'connect'; status: 'ok'; detail: string }],
  });
  const checks = () => new MemberChecks(redis, reg.keys);
  const presence = () => new WorkerPresence(redis, reg.keys);
  /** A subscriber that answers each request after `delayMs`, through `claims` claimers racing for it. */
  async function listener(delayMs = 0, claimers = 1, skipFirst = false) {
    const sub = redis.duplicate();
    const claims: boolean[] = [];
    let skipped = !skipFirst;
    sub.on('message', (_channel, message) => {
      const req = CheckRequest.parse(JSON.parse(message));
      if (!skipped) {
        skipped = true;
        return;
      }
      void (async () => {
        await new Promise((r) => setTimeout(r, delayMs));
        const won = await Promise.all(Array.from({ length: claimers }, () => checks().claim(req.id)));
        claims.push(...won);
        if (won.some(Boolean)) await checks().saveReport(req.id, report(req.memberId));
      })();
    });
    await sub.subscribe(reg.keys.checkChannel());
    return { claims, stop: () => sub.disconnect() };
  }
  afterAll(async () => {
    await redis.del(reg.keys.workers());
  });

  it('no worker heartbeat: no_worker at once, even with a listener; with one, exactly one of two claims wins and its report reaches the requester', async () => {
    await redis.del(reg.keys.workers());
    const l = await listener(0, 2);
    try {
      const t0 = Date.now();
      expect(await checks().request('m000000000001', 10_000)).toBe('no_worker');
      expect(Date.now() - t0).toBeLessThan(1_000);
      await presence().beat('w1');
      const r = await checks().request('m000000000001', 5_000);
      expect(r).toMatchObject({ memberId: 'm000000000001', ok: true, lines: [{ check: 'connect' }] });
      expect(l.claims.sort()).toEqual([false, true]);
      const [id] = (await redis.keys(`${prefix}:check:*:claim`)).map((k) => k.split(':').at(-2));
      expect(await redis.ttl(reg.keys.check(id ?? ''))).toBeGreaterThan(200);
    } finally {
      l.stop();
    }
  });

  it('a busy worker (its claim comes late) is not an absent one: the report arrives', async () => {
    await presence().beat('w1');
    const l = await listener(4_500);
    try {
      expect(await checks().request('m000000000002', 10_000)).toMatchObject({ memberId: 'm000000000002', ok: true });
    } finally {
      l.stop();
    }
  }, 15_000);

  it('a request the worker did not hear is published again; one that nobody claims ends as no_worker once the last heartbeat ages', async () => {
    await presence().beat('w1');
    const l = await listener(0, 1, true);
    try {
      expect(await checks().request('m000000000003', 10_000)).toMatchObject({ memberId: 'm000000000003', ok: true });
    } finally {
      l.stop();
    }
    // The worker stopped without leaving: its heartbeat ages out while the request waits.
    await redis.zadd(reg.keys.workers(), (await serverMs()) - WORKER_LIVE_MS + 1_000, 'w1');
    const t0 = Date.now();
    expect(await checks().request('m000000000004', 10_000)).toBe('no_worker');
    expect(Date.now() - t0).toBeGreaterThan(500);
    expect(Date.now() - t0).toBeLessThan(5_000);
  }, 20_000);
});

describe('Lua transitions', () => {
  it('every .lua file in src/commands is registered, and Redis compiles each', async () => {
    const dir = fileURLToPath(new URL('../src/commands/', import.meta.url));
    const files = readdirSync(dir).filter((f) => f.endsWith('.lua'));
    expect(files.map((f) => f.slice(0, -4)).sort()).toEqual(Object.keys(SCRIPTS).sort());
    for (const f of files) expect(await redis.script('LOAD', readFileSync(join(dir, f), 'utf8'))).toMatch(/^[0-9a-f]{40}$/);
  });
});
