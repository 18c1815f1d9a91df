import { randomBytes } from 'node:crypto';
import { type RedisClient, assertPrefixFits } from './connect';
import { script } from './commands/index';
import { Keys } from './keys';
import { type AttemptRecord, PERMISSION_MODES, type PermissionMode, decodeAttempt, encodeAttempt } from '@fleet/core';
import { type Member, MemberInput, MemberPatch, type MemberSecret, SECRET_FIELDS, permissionModeOf } from './schema';

/** `parked`: a finished run kept for its own attempt off the member (see parkRun). */
export type RunState = 'starting' | 'running' | 'killing' | 'parked';

/** What Redis knows about the process tree one attempt started on a member. */
export interface RunRecord {
  memberId: string;
  token: string;
  jobId: string;
  attempt: number;
  workerId: string;
  state: RunState;
  runDir: string;
  pid?: number;
  bootId?: string;
  startTime?: string;
  startedAt: number;
  /** When the PID was persisted (epoch ms). */
  pidAt?: number;
  /** Output bytes already published (resume point for an adopting attempt). */
  outOffset: number;
  adoptedFrom?: string;
  /** The session the run was started to resume (`--resume`), if any: what its attempt reports stale. */
  resumeId?: string;
}

/** What beginAttempt found. Only `ready` took the fence. */
export type AttemptStart =
  | { kind: 'cancelled' }
  | { kind: 'no_member' }
  | { kind: 'done'; result: Record<string, string> }
  | { kind: 'failed'; retryable: boolean; reason: string }
  | { kind: 'fenced'; holder: string; pttl: number }
  | {
      kind: 'ready';
      member: Member;
      /** The run record on the member (another attempt's, or this attempt's own after its worker died). */
      leftover?: RunRecord;
      /** This attempt's own finished run that another job's attempt moved off the member (parkRun). */
      parked?: RunRecord;
      /** The proposed run record was written with the fence (see beginAttempt): no writeRun needed. */
      recordWritten: boolean;
    };

/** The run record an attempt means to write: its fields, and where its run directory is. */
export interface NewRun {
  jobId: string;
  attempt: number;
  workerId: string;
  runDir: string;
  resumeId?: string;
}

export class FenceHeldError extends Error {
  override name = 'FenceHeldError';
  constructor(
    readonly holder: string,
    readonly pttl: number,
  ) {
    super(`member is fenced by ${holder} for ${pttl} ms more`);
  }
}

export class NotFoundError extends Error {
  override name = 'NotFoundError';
}

/** Fence token: names the attempt allowed to own the member. */
export function fenceToken(jobId: string, attempt: number, workerId: string): string {
  return `${jobId}:${attempt}:${workerId}`;
}

const bool = (v: string | undefined, dflt: boolean) => (v === undefined ? dflt : v === '1');
/** As long as BullMQ keeps a finished job (removeOnComplete / removeOnFail age). */
const JOB_KEPT_S = 7 * 86_400;
const int = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));
/** A member stored before permission modes had only the boolean `skipPermissions`. */
const decodePermissionMode = (h: Record<string, string>): PermissionMode =>
  (PERMISSION_MODES as readonly string[]).includes(h.permissionMode ?? '')
    ? (h.permissionMode as PermissionMode)
    : bool(h.skipPermissions, true)
      ? 'bypassPermissions'
      : 'default';

/**
 * Members and run records in Redis. Hash fields are human-readable (operators read them with
 * redis-cli, see docs/redis-keys.md). Secrets live in a separate hash that is never returned by
 * member reads and never logged.
 */
export class Registry {
  readonly keys: Keys;

  constructor(
    readonly redis: RedisClient,
    prefix = 'fleet',
  ) {
    assertPrefixFits(redis, prefix);
    this.keys = new Keys(prefix);
  }

  // ---- members -------------------------------------------------------------------------------

  /** Validates and stores a new member; secrets go to their own hash. One MULTI: all or nothing. */
  async addMember(input: unknown, now = Date.now()): Promise<Member> {
    const spec = MemberInput.parse(input);
    const id = `m${randomBytes(6).toString('hex')}`;
    const fields: Record<string, string> = {
      id,
      name: spec.name,
      transport: spec.transport,
      port: String(spec.port),
      os: spec.os,
      workFolder: spec.workFolder,
      provider: spec.provider,
      permissionMode: permissionModeOf(spec),
      trustWorkspace: spec.trustWorkspace ? '1' : '0',
      tokensIn: '0',
      tokensOut: '0',
      createdAt: String(now),
      updatedAt: String(now),
    };
    for (const k of ['host', 'username', 'privateKeyPath', 'hostKeySha256', 'model', 'agentBinary'] as const) {
      const v = spec[k];
      if (v !== undefined) fields[k] = v;
    }
    if (spec.maxTurns !== undefined) fields.maxTurns = String(spec.maxTurns);
    for (const [k, v] of Object.entries(spec.agentEnv ?? {})) fields[`env.${k}`] = v;
    const secret: Record<string, string> = {};
    for (const k of SECRET_FIELDS) {
      const v = spec[k];
      if (v !== undefined) secret[k] = v;
    }
    const tx = this.redis.multi().hset(this.keys.member(id), fields).sadd(this.keys.members(), id);
    if (Object.keys(secret).length > 0) tx.hset(this.keys.secret(id), secret);
    await tx.exec();
    await this.redis.publish(this.keys.membersChannel(), `added ${id}`);
    return this.decodeMember(fields, Object.keys(secret).length > 0);
  }

  async getMember(id: string): Promise<Member | undefined> {
    const [[, h], [, hasSecret]] = (await this.redis.multi().hgetall(this.keys.member(id)).exists(this.keys.secret(id)).exec()) as [
      [null, Record<string, string>],
      [null, number],
    ];
    return h && Object.keys(h).length > 0 ? this.decodeMember(h, hasSecret === 1) : undefined;
  }

  async requireMember(id: string): Promise<Member> {
    const m = await this.getMember(id);
    if (!m) throw new NotFoundError(`member ${id} not found`);
    return m;
  }

  async listMemberIds(): Promise<string[]> {
    return (await this.redis.smembers(this.keys.members())).sort();
  }

  async listMembers(): Promise<Member[]> {
    const ids = await this.listMemberIds();
    const p = this.redis.pipeline();
    for (const id of ids) p.hgetall(this.keys.member(id)).exists(this.keys.secret(id));
    const res = (await p.exec()) ?? [];
    const out: Member[] = [];
    for (let i = 0; i < ids.length; i++) {
      const h = res[2 * i]?.[1] as Record<string, string> | undefined;
      if (h && Object.keys(h).length > 0) out.push(this.decodeMember(h, res[2 * i + 1]?.[1] === 1));
    }
    return out;
  }

  /** Secrets, for the worker's transport only. Never logged, never returned by the API. */
  async getSecret(id: string): Promise<MemberSecret> {
    const h = await this.redis.hgetall(this.keys.secret(id));
    const s: MemberSecret = {};
    for (const k of SECRET_FIELDS) if (h[k] !== undefined) s[k] = h[k];
    return s;
  }

  async updateMember(id: string, patchInput: unknown, now = Date.now()): Promise<Member> {
    const patch = MemberPatch.parse(patchInput);
    const cur = await this.requireMember(id);
    // Validate the merged member as a whole (e.g. workFolder stays absolute for its OS).
    const merged = { ...this.toSpec(cur), ...patch, ...(cur.hasSecret || patch.privateKey || patch.password ? { password: 'x' } : {}) };
    if (patch.permissionMode !== undefined || patch.skipPermissions !== undefined) {
      merged.permissionMode = permissionModeOf(patch);
      delete merged.skipPermissions;
    }
    MemberInput.parse(merged);
    const set: Record<string, string> = { updatedAt: String(now) };
    const secret: Record<string, string> = {};
    if (patch.permissionMode !== undefined || patch.skipPermissions !== undefined) set.permissionMode = permissionModeOf(patch);
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined || k === 'permissionMode' || k === 'skipPermissions') continue;
      if ((SECRET_FIELDS as readonly string[]).includes(k)) secret[k] = String(v);
      else if (k === 'agentEnv') for (const [ek, ev] of Object.entries(v as Record<string, string>)) set[`env.${ek}`] = ev;
      else if (typeof v === 'boolean') set[k] = v ? '1' : '0';
      else set[k] = String(v);
    }
    const tx = this.redis.multi().hset(this.keys.member(id), set);
    if (Object.keys(secret).length > 0) tx.hset(this.keys.secret(id), secret);
    await tx.exec();
    await this.redis.publish(this.keys.membersChannel(), `changed ${id}`);
    return this.requireMember(id);
  }

  async removeMember(id: string): Promise<boolean> {
    const res = await this.redis.multi().srem(this.keys.members(), id).del(this.keys.member(id), this.keys.secret(id)).exec();
    await this.redis.publish(this.keys.membersChannel(), `removed ${id}`);
    return res?.[0]?.[1] === 1;
  }

  /** Trust-on-first-use: pin the host key seen at the first connection (only if none is pinned). */
  async pinHostKey(id: string, sha256: string): Promise<boolean> {
    return (await this.redis.hsetnx(this.keys.member(id), 'hostKeySha256', sha256)) === 1;
  }

  // ---- fence and run record ------------------------------------------------------------------

  async acquireFence(memberId: string, token: string, ttlMs: number): Promise<void> {
    const [ok, holder, pttl] = (await script(this.redis, 'acquireFence')(this.keys.fence(memberId), token, ttlMs)) as [
      number,
      string,
      number,
    ];
    if (ok !== 1) throw new FenceHeldError(holder, pttl);
  }

  /**
   * Extends the fence if `token` still holds it, and reads the job's cancel mark in the same round
   * trip (the cancel message can be lost; an attempt learns of its cancel at its next renewal).
   */
  async renewFence(memberId: string, jobId: string, token: string, ttlMs: number): Promise<{ held: boolean; cancelled: boolean }> {
    const [held, cancelled] = (await script(this.redis, 'renewFence')(
      this.keys.fence(memberId),
      this.keys.cancelled(jobId),
      token,
      ttlMs,
    )) as [number, number];
    return { held: held === 1, cancelled: cancelled === 1 };
  }

  async releaseFence(memberId: string, token: string): Promise<boolean> {
    return (await script(this.redis, 'releaseFence')(this.keys.fence(memberId), token)) === 1;
  }

  async fenceHolder(memberId: string): Promise<string | null> {
    return this.redis.get(this.keys.fence(memberId));
  }

  /**
   * Record first: state=starting is written before the command is sent. 'ended': the job's result
   * or this attempt's failure is already recorded (beginAttempt reports which), so nothing may start.
   */
  async writeRun(memberId: string, token: string, rec: NewRun, now = Date.now()): Promise<'ok' | 'no_fence' | 'run_exists' | 'ended'> {
    return (await script(this.redis, 'writeRun')(
      this.keys.fence(memberId),
      this.keys.run(memberId),
      this.keys.result(rec.jobId),
      this.keys.attemptFailure(rec.jobId, rec.attempt),
      token,
      ...newRunFields(memberId, rec, now),
    )) as 'ok' | 'no_fence' | 'run_exists' | 'ended';
  }

  /** The PID, the moment its line arrives (compare-and-set on the token); with its identity when known as well. */
  setPid(memberId: string, token: string, pid: number, identity?: { bootId: string; startTime: string }): Promise<boolean> {
    const id: Record<string, string> = identity ? { bootId: identity.bootId, startTime: identity.startTime } : {};
    return this.updateRun(memberId, token, { pid: String(pid), pidAt: String(Date.now()), ...id, state: 'running' });
  }

  setIdentity(memberId: string, token: string, id: { pid: number; bootId: string; startTime: string }): Promise<boolean> {
    return this.updateRun(memberId, token, { pid: String(id.pid), bootId: id.bootId, startTime: id.startTime, state: 'running' });
  }

  setRunState(memberId: string, token: string, state: RunState): Promise<boolean> {
    return this.updateRun(memberId, token, { state });
  }

  setOutOffset(memberId: string, token: string, offset: number): Promise<boolean> {
    return this.updateRun(memberId, token, { outOffset: String(offset) });
  }

  private async updateRun(memberId: string, token: string, fields: Record<string, string>): Promise<boolean> {
    const args = Object.entries(fields).flat();
    return (await script(this.redis, 'updateRun')(this.keys.run(memberId), token, ...args)) === 1;
  }

  async deleteRun(memberId: string, token: string): Promise<boolean> {
    return (await script(this.redis, 'deleteRun')(this.keys.run(memberId), token)) === 1;
  }

  async adoptRun(memberId: string, oldToken: string, newToken: string, workerId: string): Promise<boolean> {
    return (await script(this.redis, 'adoptRun')(this.keys.fence(memberId), this.keys.run(memberId), oldToken, newToken, workerId)) === 1;
  }

  /**
   * Drops another attempt's record after its run was confirmed gone: only by the fence holder, only
   * if the record is still that run (dropLeftover.lua).
   */
  async dropLeftover(memberId: string, token: string, leftoverToken: string): Promise<'ok' | 'no_fence' | 'changed'> {
    return (await script(this.redis, 'dropLeftover')(this.keys.fence(memberId), this.keys.run(memberId), token, leftoverToken)) as
      | 'ok'
      | 'no_fence'
      | 'changed';
  }

  /**
   * Moves another job's finished run off the member to its attempt's parked key, for that attempt to
   * take back (parkRun.lua): only by the fence holder, only if the record is still that run.
   */
  async parkRun(
    memberId: string,
    token: string,
    leftover: RunRecord,
    ttlS = 7 * 86_400,
    now = Date.now(),
  ): Promise<'ok' | 'no_fence' | 'changed'> {
    return (await this.moveParked('parkRun', memberId, token, leftover, Math.max(1, Math.floor(ttlS)), now)) as
      | 'ok'
      | 'no_fence'
      | 'changed';
  }

  /** An attempt takes its parked run back onto the member under its own token (adoptParked.lua). */
  async adoptParked(memberId: string, token: string, parked: RunRecord, workerId: string): Promise<'ok' | 'no_fence' | 'busy' | 'changed'> {
    return (await this.moveParked('adoptParked', memberId, token, parked, workerId)) as 'ok' | 'no_fence' | 'busy' | 'changed';
  }

  /** The two moves between a member's run record and a parked one share their keys and first arguments. */
  private moveParked(
    name: 'parkRun' | 'adoptParked',
    memberId: string,
    token: string,
    rec: RunRecord,
    ...last: (string | number)[]
  ): Promise<unknown> {
    return script(this.redis, name)(
      this.keys.fence(memberId),
      this.keys.run(memberId),
      this.keys.parked(rec.jobId, rec.attempt),
      this.keys.parkedIndex(),
      token,
      rec.token,
      ...last,
    );
  }

  async getParked(memberId: string, jobId: string, attempt: number): Promise<RunRecord | undefined> {
    return decodeRun(memberId, await this.redis.hgetall(this.keys.parked(jobId, attempt)));
  }

  async getRun(memberId: string): Promise<RunRecord | undefined> {
    return decodeRun(memberId, await this.redis.hgetall(this.keys.run(memberId)));
  }

  /**
   * The run directories every parked record names (their attempts will take their results from
   * them): the parked index, less what expired, then one read per record.
   */
  async listParkedRunDirs(now = Date.now()): Promise<string[]> {
    const index = this.keys.parkedIndex();
    const [, [, keys]] = (await this.redis.multi().zremrangebyscore(index, '-inf', now).zrange(index, 0, -1).exec()) as [
      unknown,
      [unknown, string[]],
    ];
    if (keys.length === 0) return [];
    const p = this.redis.pipeline();
    for (const k of keys) p.hget(k, 'runDir');
    const dirs = ((await p.exec()) ?? []).map((r) => r[1]);
    // A record gone before its time (deleted by hand): forget it.
    const gone = keys.filter((_, i) => typeof dirs[i] !== 'string');
    if (gone.length > 0) await this.redis.zrem(index, ...gone);
    return dirs.filter((d): d is string => typeof d === 'string' && d !== '');
  }

  /** Every run record with its member's fence holder (two round trips whatever the fleet size). */
  async listRuns(): Promise<Array<{ run: RunRecord; fence: string | null }>> {
    const ids = await this.listMemberIds();
    const p = this.redis.pipeline();
    for (const id of ids) p.hgetall(this.keys.run(id)).get(this.keys.fence(id));
    const res = (await p.exec()) ?? [];
    const out: Array<{ run: RunRecord; fence: string | null }> = [];
    ids.forEach((id, i) => {
      const run = decodeRun(id, res[2 * i]?.[1] as Record<string, string>);
      if (run) out.push({ run, fence: (res[2 * i + 1]?.[1] as string | null) ?? null });
    });
    return out;
  }

  /** Success: new session id + usage on the member, job result recorded, run record deleted, fence released. */
  async recordSuccess(
    memberId: string,
    token: string,
    r: {
      sessionId?: string;
      tokensIn: number;
      tokensOut: number;
      jobId?: string;
      durationMs?: number;
      result?: Record<string, string | number | undefined>;
    },
    now = Date.now(),
  ): Promise<{ runDeleted: boolean; fenceReleased: boolean }> {
    const fields = Object.entries(r.result ?? {})
      .filter(([, v]) => v !== undefined)
      .flatMap(([k, v]) => [k, String(v)]);
    const [run, fence] = (await script(this.redis, 'recordSuccess')(
      this.keys.member(memberId),
      this.keys.run(memberId),
      this.keys.fence(memberId),
      this.keys.result(r.jobId ?? '-'),
      this.keys.stats(),
      token,
      r.sessionId ?? '',
      Math.max(0, Math.floor(r.tokensIn)),
      Math.max(0, Math.floor(r.tokensOut)),
      now,
      7 * 86_400,
      Math.max(0, Math.round(r.durationMs ?? 0)),
      ...(r.jobId ? fields : []),
    )) as [number, number];
    return { runDeleted: run === 1, fenceReleased: fence === 1 };
  }

  /**
   * The start of an attempt in one round trip (beginAttempt.lua): cancel mark, member, the job's
   * recorded result, this attempt's recorded failure, then the fence, then any leftover run record
   * and this attempt's parked run. With `propose`, the run record writeRun would write is written
   * in the same step if the member is clean (no record, no parked run) and still has the work
   * folder and OS its run directory was built from (`recordWritten` says whether it was).
   */
  async beginAttempt(
    memberId: string,
    jobId: string,
    attempt: number,
    token: string,
    ttlMs: number,
    propose?: { workFolder: string; os: string; run: NewRun; now?: number },
  ): Promise<AttemptStart> {
    const proposal = propose ? [propose.workFolder, propose.os, ...newRunFields(memberId, propose.run, propose.now ?? Date.now())] : [];
    const r = (await script(this.redis, 'beginAttempt')(
      this.keys.cancelled(jobId),
      this.keys.member(memberId),
      this.keys.secret(memberId),
      this.keys.result(jobId),
      this.keys.attemptFailure(jobId, attempt),
      this.keys.fence(memberId),
      this.keys.run(memberId),
      this.keys.parked(jobId, attempt),
      token,
      ttlMs,
      ...proposal,
    )) as [string, ...unknown[]];
    switch (r[0]) {
      case 'cancelled':
      case 'no_member':
        return { kind: r[0] };
      case 'done':
        return { kind: 'done', result: pairs(r[1] as string[]) };
      case 'failed':
        return { kind: 'failed', ...decodeFailure(r[1] as string) };
      case 'fenced':
        return { kind: 'fenced', holder: r[1] as string, pttl: Number(r[2]) };
      case 'ready': {
        const member = this.decodeMember(pairs(r[1] as string[]), r[2] === 1);
        const ready: AttemptStart = { kind: 'ready', member, recordWritten: r[5] === 1 };
        const leftover = decodeRun(memberId, pairs(r[3] as string[]));
        if (leftover) ready.leftover = leftover;
        // (A job belongs to one member's queue: its parked run was on this member.)
        const parked = decodeRun(memberId, pairs(r[4] as string[]));
        if (parked) ready.parked = parked;
        return ready;
      }
      default:
        throw new Error(`beginAttempt: unexpected reply ${String(r[0])}`);
    }
  }

  /**
   * Appends output entries (lines and events, in order) to a job's stream in one round trip
   * (appendOutput.lua); each entry gets its number `n`. Returns the number of the last one (0 if none).
   */
  async appendOutput(
    jobId: string,
    entries: ReadonlyArray<{ type: string; data: string }>,
    opts: { maxEntries: number; ttlS?: number },
  ): Promise<number> {
    if (entries.length === 0) return 0;
    return (await script(this.redis, 'appendOutput')(
      this.keys.output(jobId),
      this.keys.outputCount(jobId),
      Math.max(1, Math.floor(opts.maxEntries)),
      Math.max(0, Math.floor(opts.ttlS ?? 0)),
      ...entries.flatMap((e) => [e.type, e.data]),
    )) as number;
  }

  /**
   * An attempt's end in its job's history (recordAttempt.lua): a failure also becomes the attempt's
   * recorded failure, which a re-delivery of the same attempt reports again instead of running it
   * twice, and what the attempt cost is added to its member's total once.
   */
  async recordAttempt(memberId: string, jobId: string, r: AttemptRecord, failureReason?: string): Promise<void> {
    const failure = r.outcome === 'failed' && failureReason !== undefined ? `${r.retryable ? 'retryable' : 'final'} ${failureReason}` : '';
    // A delayed attempt runs again under the same number: its entry is kept beside the one to come.
    const field = r.outcome === 'delayed' ? `${r.attempt}:delayed:${r.startedAt}` : String(r.attempt);
    await script(this.redis, 'recordAttempt')(
      this.keys.attempts(jobId),
      this.keys.attemptFailure(jobId, r.attempt),
      this.keys.member(memberId),
      field,
      encodeAttempt(r),
      JOB_KEPT_S,
      failure,
      r.costUsd !== undefined && Number.isFinite(r.costUsd) ? String(r.costUsd) : '',
    );
  }

  /** The job's attempts in order (those that ended; a running one is not there yet). */
  async attemptHistory(jobId: string): Promise<AttemptRecord[]> {
    const h = await this.redis.hgetall(this.keys.attempts(jobId));
    return Object.values(h)
      .map(decodeAttempt)
      .filter((r): r is AttemptRecord => r !== undefined)
      .sort((x, y) => x.attempt - y.attempt || x.startedAt - y.startedAt);
  }

  async clearSession(memberId: string, staleSessionId: string, now = Date.now()): Promise<boolean> {
    return (await script(this.redis, 'clearSession')(this.keys.member(memberId), staleSessionId, now)) === 1;
  }

  async incrStat(field: string, by = 1): Promise<void> {
    await this.redis.hincrby(this.keys.stats(), field, by);
  }

  async stats(): Promise<Record<string, number>> {
    const h = await this.redis.hgetall(this.keys.stats());
    return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Number(v)]));
  }

  // ---- encoding ------------------------------------------------------------------------------

  private decodeMember(h: Record<string, string>, hasSecret: boolean): Member {
    const agentEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(h)) if (k.startsWith('env.')) agentEnv[k.slice(4)] = v;
    const m: Member = {
      id: h.id ?? '',
      name: h.name ?? '',
      transport: h.transport === 'ssh' ? 'ssh' : 'local',
      port: Number(h.port ?? 22),
      os: h.os === 'windows' ? 'windows' : 'linux',
      workFolder: h.workFolder ?? '',
      provider: (h.provider ?? 'shell') as Member['provider'],
      agentEnv,
      permissionMode: decodePermissionMode(h),
      trustWorkspace: bool(h.trustWorkspace, false),
      tokensIn: Number(h.tokensIn ?? 0),
      tokensOut: Number(h.tokensOut ?? 0),
      costUsd: Number(h.costUsd ?? 0),
      hasSecret,
      createdAt: Number(h.createdAt ?? 0),
      updatedAt: Number(h.updatedAt ?? 0),
    };
    for (const k of ['host', 'username', 'privateKeyPath', 'hostKeySha256', 'model', 'agentBinary', 'sessionId'] as const) {
      if (h[k] !== undefined && h[k] !== '') m[k] = h[k];
    }
    const mt = int(h.maxTurns);
    if (mt !== undefined) m.maxTurns = mt;
    return m;
  }

  private toSpec(m: Member): Record<string, unknown> {
    const { id: _id, sessionId: _s, tokensIn: _i, tokensOut: _o, costUsd: _$, hasSecret: _h, createdAt: _c, updatedAt: _u, ...spec } = m;
    return spec;
  }
}

/** A flat HGETALL reply from Lua (`[k1, v1, k2, v2, …]`) as an object. */
function pairs(flat: string[]): Record<string, string> {
  const o: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) o[flat[i] as string] = flat[i + 1] as string;
  return o;
}

function decodeFailure(v: string): { retryable: boolean; reason: string } {
  const i = v.indexOf(' ');
  return { retryable: v.slice(0, i) === 'retryable', reason: v.slice(i + 1) };
}

function decodeRun(memberId: string, h: Record<string, string> | undefined): RunRecord | undefined {
  if (!h?.token) return undefined;
  const r: RunRecord = {
    memberId,
    token: h.token,
    jobId: h.jobId ?? '',
    attempt: Number(h.attempt ?? 0),
    workerId: h.workerId ?? '',
    state: (h.state ?? 'starting') as RunState,
    runDir: h.runDir ?? '',
    startedAt: Number(h.startedAt ?? 0),
    outOffset: Number(h.outOffset ?? 0),
  };
  const pid = int(h.pid);
  if (pid !== undefined) r.pid = pid;
  const pidAt = int(h.pidAt);
  if (pidAt !== undefined) r.pidAt = pidAt;
  if (h.bootId) r.bootId = h.bootId;
  if (h.startTime) r.startTime = h.startTime;
  if (h.adoptedFrom) r.adoptedFrom = h.adoptedFrom;
  if (h.resumeId) r.resumeId = h.resumeId;
  return r;
}

/** A new run record's fields (state starting, no PID yet), as writeRun and beginAttempt write them. */
function newRunFields(memberId: string, rec: NewRun, now: number): string[] {
  return [
    'memberId',
    memberId,
    'jobId',
    rec.jobId,
    'attempt',
    String(rec.attempt),
    'workerId',
    rec.workerId,
    'state',
    'starting',
    'runDir',
    rec.runDir,
    'startedAt',
    String(now),
    'outOffset',
    '0',
    ...(rec.resumeId ? ['resumeId', rec.resumeId] : []),
  ];
}
