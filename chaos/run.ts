/**
 * `npm run chaos` — prove the invariant under the faults real fleets see, and measure.
 *
 *   npm run chaos -- [--seed N] [--members 20] [--jobs 2000] [--ssh 6] [--netns 3] [--workers 3] [--quick]
 *
 * A fleet of local members, SSH members on loopback sshd instances and SSH members inside network
 * namespaces (partitioned by cutting their link: hanging TCP, not a reset), served by several worker
 * processes and one API process, on a private Redis with AOF. Jobs (fake agent: mixed durations and
 * outputs, stale-session resumes, overloads, auth errors, SIGTERM-ignoring agents with grandchildren,
 * timeouts) go in through the HTTP API while faults are injected at random: worker SIGKILL and
 * restart, SSH drops, netns partitions, Redis restart and brief unavailability, API restarts, cancels.
 *
 * An independent checker samples the live agents of every member every 25 ms from the agents' own
 * PID records and the process table. Exit code 1 on any violation: more than one live agent on a
 * member, an agent alive after the run, a job whose agents started more often than its attempts
 * allow, or a lost job.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, createWriteStream, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type Member, Registry } from '@fleet/registry';
import {
  AgentState,
  FAKE_AGENT,
  type NetnsHost,
  type PrivateRedis,
  type PrivateSshd,
  createNetnsHost,
  freePort,
  isAlive,
  startRedis,
  sshMemberFields,
  startSshd,
  stopChild,
  tempDir,
} from '@fleet/testkit';
import { Redis } from 'ioredis';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values: args } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    members: { type: 'string' },
    jobs: { type: 'string' },
    ssh: { type: 'string' },
    netns: { type: 'string' },
    workers: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'max-minutes': { type: 'string' },
    'window-s': { type: 'string' },
  },
});
const quick = args.quick === true;
const SEED = Number(args.seed);
const MEMBERS = Number(args.members ?? 20);
const JOBS = Number(args.jobs ?? (quick ? 300 : 2000));
const SSH = Number(args.ssh ?? 6);
const NETNS = Number(args.netns ?? (quick ? 2 : 3));
const WORKERS = Number(args.workers ?? (quick ? 2 : 3));
const MAX_MS = Number(args['max-minutes'] ?? (quick ? 6 : 40)) * 60_000;
/** Draining ends when no job has ended for this long (what is still open then is lost)... */
const DRAIN_STALL_MS = 90_000;
/** ...or this long after the run's own budget, whichever comes first. */
const DRAIN_EXTRA_MS = 180_000;
/** Submissions are spread over this window so that faults land on running jobs. */
const WINDOW_MS = Number(args['window-s'] ?? (quick ? 90 : 900)) * 1000;

/** mulberry32: a small seeded PRNG, so a run can be replayed. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = prng(SEED);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
const between = (lo: number, hi: number) => lo + rnd() * (hi - lo);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (s: string) => process.stderr.write(`[chaos ${((Date.now() - T0) / 1000).toFixed(1)}s] ${s}\n`);
const T0 = Date.now();

interface ChaosMember {
  member: Member;
  state: AgentState;
  kind: 'local' | 'ssh' | 'netns';
  sshd?: PrivateSshd;
  host?: NetnsHost;
}

interface Submitted {
  tag: string;
  jobId: string;
  memberId: string;
  attempts: number;
  kind: string;
}

// ---------------------------------------------------------------------------------------------
// The independent checker: live agents per member, from PID records + /proc, every 25 ms.

class Checker {
  maxLive = new Map<string, number>();
  violations: string[] = [];
  samples = 0;
  private known = new Map<string, Map<string, string>>(); // member -> pid file -> "pid start"
  private dead = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly members: ChaosMember[]) {}

  start(): void {
    this.timer = setInterval(() => this.sample(), 25);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  live(m: ChaosMember): number[] {
    const dir = join(m.state.dir, 'pids');
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {}
    const known = this.known.get(m.member.id) ?? new Map<string, string>();
    this.known.set(m.member.id, known);
    const out: number[] = [];
    for (const n of names) {
      const key = `${m.member.id}/${n}`;
      if (this.dead.has(key)) continue;
      let rec = known.get(n);
      if (rec === undefined) {
        try {
          rec = readFileSync(join(dir, n), 'utf8').trim();
          known.set(n, rec);
        } catch {
          continue;
        }
      }
      const [pid, start] = rec.split(' ');
      if (isAlive(Number(pid), start)) out.push(Number(pid));
      else this.dead.add(key);
    }
    return out;
  }

  sample(): void {
    this.samples++;
    for (const m of this.members) {
      const live = this.live(m);
      const prev = this.maxLive.get(m.member.id) ?? 0;
      if (live.length > prev) this.maxLive.set(m.member.id, live.length);
      if (live.length > 1)
        this.violations.push(
          `${((Date.now() - T0) / 1000).toFixed(2)}s member ${m.member.name}: ${live.length} live agents (${live.join(',')})`,
        );
    }
  }
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const tmp = tempDir('fleet-chaos-');
  const tag = `c${(SEED % 9000) + 1000}`.slice(0, 5);
  const redis: PrivateRedis = await startRedis({ appendonly: true });
  const prefix = 'chaos';
  const client = new Redis(redis.url, { maxRetriesPerRequest: null });
  client.on('error', () => {});
  const registry = new Registry(client, prefix);
  const sshds: PrivateSshd[] = [];
  const hosts: NetnsHost[] = [];
  const members: ChaosMember[] = [];
  const procs = new Set<ChildProcess>();
  /** Processes the harness itself stops (their exit is expected); `finished` once the run ends. */
  const stopping = new Set<ChildProcess>();
  const tails = new Map<ChildProcess, () => string>();
  let finished = false;
  const faults = new Map<string, number>();
  /** Every fault and heal with its time: the last ones are printed when the API stops answering, all kept as evidence. */
  const faultLog: string[] = [];
  const timeline = (what: string) => faultLog.push(`${((Date.now() - T0) / 1000).toFixed(2)}s ${what}`);
  const fault = (k: string, detail = '') => {
    faults.set(k, (faults.get(k) ?? 0) + 1);
    timeline(`${k} ${detail}`);
  };
  const killMs: number[] = [];
  const env = {
    ...process.env,
    REDIS_URL: redis.url,
    FLEET_PREFIX: prefix,
    FLEET_API_TOKEN: 'chaos-token-0123456789abcdef',
    FLEET_FENCE_TTL_MS: '4000',
    FLEET_LOCK_DURATION_MS: '4000',
    FLEET_STALLED_INTERVAL_MS: '1000',
    FLEET_SWEEP_INTERVAL_MS: '3000',
    FLEET_MEMBER_REFRESH_MS: '2000',
    FLEET_SHUTDOWN_GRACE_MS: '500',
    FLEET_LOG_LEVEL: 'info',
  };
  try {
    // --- fleet -------------------------------------------------------------------------------
    const loopbackSshd = Math.max(0, Math.min(3, SSH - NETNS));
    for (let i = 0; i < loopbackSshd; i++) sshds.push(await startSshd());
    // Address block per seed, so two harness runs at once never share a subnet.
    const base = (SEED % 30) * 8;
    for (let i = 1; i <= NETNS; i++) {
      const h = await createNetnsHost(base + i, tag);
      hosts.push(h);
      sshds.push(await startSshd({ listenAddress: h.ip, netns: h.ns }));
    }
    for (let i = 0; i < MEMBERS; i++) {
      const dir = join(tmp.path, `m${i}`);
      mkdirSync(join(dir, 'work'), { recursive: true });
      const state = new AgentState(join(dir, 'agent'));
      const base = {
        provider: 'claude',
        workFolder: join(dir, 'work'),
        agentBinary: FAKE_AGENT,
        agentEnv: { FAKE_AGENT_STATE: state.dir },
      };
      let cm: ChaosMember;
      if (i < SSH && sshds.length > 0) {
        const netnsIdx = i < NETNS ? i : -1;
        const sshd =
          netnsIdx >= 0 ? (sshds[loopbackSshd + netnsIdx] as PrivateSshd) : (sshds[i % Math.max(1, loopbackSshd)] as PrivateSshd);
        const member = await registry.addMember({
          ...base,
          name: `${netnsIdx >= 0 ? 'netns' : 'ssh'}-${i}`,
          ...sshMemberFields(sshd),
        });
        cm = netnsIdx >= 0 ? { member, state, kind: 'netns', sshd, host: hosts[netnsIdx] } : { member, state, kind: 'ssh', sshd };
      } else {
        cm = { member: await registry.addMember({ ...base, name: `local-${i}`, transport: 'local' }), state, kind: 'local' };
      }
      members.push(cm);
    }
    log(
      `fleet: ${members.filter((m) => m.kind === 'local').length} local, ${members.filter((m) => m.kind === 'ssh').length} ssh (loopback), ${members.filter((m) => m.kind === 'netns').length} ssh in netns; redis ${redis.url}; seed ${SEED}`,
    );

    // --- processes ---------------------------------------------------------------------------
    const start = (script: string, extra: Record<string, string> = {}) => {
      const c = spawn(process.execPath, ['--import', 'tsx', join(ROOT, script)], {
        cwd: ROOT,
        env: { ...env, ...extra },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      procs.add(c);
      let buf = '';
      c.stdout?.on('data', (d: Buffer) => {
        buf += d.toString();
        let i = buf.indexOf('\n');
        while (i !== -1) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          i = buf.indexOf('\n');
          if (line.includes('"killMs"')) {
            const m = /"killMs":(\d+)/.exec(line);
            if (m && line.includes('"kill":"killed"')) killMs.push(Number(m[1]));
          }
        }
      });
      // The last output of each process, printed if it ends without being told to (a finding).
      let tail = '';
      // Every process's whole output is kept in a file: the evidence if the run finds a violation.
      mkdirSync(join(tmp.path, 'logs'), { recursive: true });
      const file = createWriteStream(join(tmp.path, 'logs', `${basename(dirname(dirname(script)))}-${c.pid}.log`));
      const keep = (d: Buffer) => {
        tail = (tail + d.toString()).slice(-4000);
        file.write(d);
      };
      c.on('close', () => file.end());
      c.stdout?.on('data', keep);
      c.stderr?.on('data', keep);
      tails.set(c, () => tail);
      c.on('exit', (code, signal) => {
        procs.delete(c);
        if (!stopping.has(c) && !finished)
          log(`${script} (pid ${c.pid}) exited on its own: code ${code}, signal ${signal}; last output:\n${tail}`);
      });
      return c;
    };
    const apiPort = await freePort();
    let api = start('apps/api/src/main.ts', { PORT: String(apiPort) });
    const workers: ChildProcess[] = [];
    for (let i = 0; i < WORKERS; i++) workers.push(start('apps/worker/src/main.ts', { FLEET_WORKER_ID: `chaos-w${i}` }));
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    const http = async (
      method: string,
      path: string,
      body?: unknown,
      headers: Record<string, string> = {},
    ): Promise<{ status: number; json: Record<string, unknown> }> => {
      // An API restart takes 2 s on an idle machine and 10-20 s on a loaded 2-core one (tsx compiles
      // it at each start): wait up to 2 minutes for it, by the clock, not by a count of tries.
      const giveUpAt = Date.now() + 120_000;
      for (let i = 0; ; i++) {
        try {
          const r = await fetch(`${apiUrl}${path}`, {
            method,
            headers: {
              authorization: `Bearer ${env.FLEET_API_TOKEN}`,
              ...(body ? { 'content-type': 'application/json' } : {}),
              ...headers,
            },
            ...(body ? { body: JSON.stringify(body) } : {}),
            signal: AbortSignal.timeout(10_000),
          });
          const text = await r.text();
          if (r.status >= 500 && i < 50) throw new Error(`status ${r.status}`);
          return { status: r.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
        } catch (err) {
          if (Date.now() >= giveUpAt) {
            const cause = (err as { cause?: { code?: string; message?: string } }).cause;
            log(
              `API unreachable (${(err as Error).message}: ${cause?.code ?? cause?.message ?? '?'}); API pid ${api.pid} (alive: ${isAlive(api.pid ?? 0)}); last faults: ${faultLog.slice(-12).join(', ')}; API's last output:\n${tails.get(api)?.() ?? ''}`,
            );
            throw err;
          }
          await sleep(200);
        }
      }
    };
    await http('GET', '/healthz');

    const checker = new Checker(members);
    checker.start();

    // --- jobs --------------------------------------------------------------------------------
    const submitted: Submitted[] = [];
    /** Submits whose retry was answered with the job an earlier try had made (its answer was lost). */
    let resubmits = 0;
    let submitting = true;
    const submitter = (async () => {
      try {
        for (let n = 0; n < JOBS && Date.now() - T0 < MAX_MS * 0.6; n++) {
          const m = pick(members);
          const t = `t${n}`;
          const r = rnd();
          let prompt: string;
          let kind: string;
          const body: Record<string, unknown> = { attempts: 3 };
          if (r < 0.4) {
            kind = 'short';
            prompt = `@lines ${1 + Math.floor(rnd() * 20)}\n@sleep ${between(0.02, 0.3).toFixed(2)}`;
          } else if (r < 0.5) {
            kind = 'medium';
            prompt = `@lines 3\n@sleep ${between(1, 3).toFixed(1)}\n@lines 3`;
          } else if (r < 0.6) {
            kind = 'resume';
            if (rnd() < 0.5)
              await client.hset(registry.keys.member(m.member.id), 'sessionId', `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`);
            prompt = '@lines 2\n@sleep 0.2';
            body.resume = true;
          } else if (r < 0.7) {
            kind = 'overloaded';
            prompt = `@overloaded-times ${1 + Math.floor(rnd() * 2)} ${t}\n@lines 1`;
          } else if (r < 0.75) {
            kind = 'auth';
            prompt = '@auth';
          } else if (r < 0.82) {
            kind = 'stubborn';
            // The agent waits for its tree (node keeps a child's handle): it runs as long as the tree.
            prompt = `@ignore-term\n@spawn-tree ${Math.round(between(4, 10))}\n@lines 2\n@sleep ${between(0.5, 2.5).toFixed(1)}\n@lines 1`;
          } else if (r < 0.87) {
            kind = 'timeout';
            prompt = '@lines 1\n@sleep 20';
            body.inactivityTimeoutS = 1;
          } else if (r < 0.92) {
            kind = 'exit3';
            prompt = '@lines 2\n@exit 3';
          } else {
            kind = 'chatty';
            prompt = `@lines ${200 + Math.floor(rnd() * 800)}`;
          }
          // The POST is retried when its answer is lost (an API restart, a Redis stall): the key makes
          // the retry return the job the first try made, instead of a second job with the same tag.
          const res = await http(
            'POST',
            `/v1/members/${m.member.id}/prompts`,
            { prompt: `@tag ${t}\n${prompt}`, ...body },
            {
              'idempotency-key': `chaos-${SEED}-${t}`,
            },
          );
          if (res.status !== 202 && res.status !== 200) {
            log(`submit failed: ${res.status} ${JSON.stringify(res.json)}`);
            continue;
          }
          // As the API stores it (a resumed prompt gets at least 2: one retry without the stale session).
          const attempts = body.resume ? Math.max(2, Number(body.attempts)) : Number(body.attempts);
          if (res.json.created === false) resubmits++;
          submitted.push({ tag: t, jobId: String(res.json.jobId), memberId: m.member.id, attempts, kind });
          // Keep a bounded number in flight so the run lasts (and faults land on running jobs).
          await sleep(between(0.5, 1.5) * (WINDOW_MS / JOBS));
          if (n % 50 === 0)
            log(`submitted ${n}/${JOBS}; checker samples ${checker.samples}; faults ${JSON.stringify(Object.fromEntries(faults))}`);
        }
      } finally {
        submitting = false;
      }
    })();

    // --- faults ------------------------------------------------------------------------------
    const partitioned = new Set<NetnsHost>();
    const heals = new Set<Promise<void>>();
    const faulter = (async () => {
      await sleep(2_000);
      while (submitting) {
        await sleep(between(700, 2_500));
        if (!submitting) break;
        const f = pick([
          'worker_kill',
          'worker_kill',
          'ssh_drop',
          'ssh_drop',
          'partition',
          'redis_restart',
          'redis_pause',
          'api_restart',
          'cancel',
          'cancel',
        ]);
        try {
          if (f === 'worker_kill') {
            const i = Math.floor(rnd() * workers.length);
            if (workers[i]) stopping.add(workers[i]);
            workers[i]?.kill('SIGKILL');
            fault('worker SIGKILL+restart', `chaos-w${i} pid ${workers[i]?.pid}`);
            await sleep(between(300, 2_000));
            workers[i] = start('apps/worker/src/main.ts', { FLEET_WORKER_ID: `chaos-w${i}-${Date.now()}` });
          } else if (f === 'ssh_drop') {
            const s = pick(sshds);
            s.dropConnections();
            fault('ssh connection drop', `${s.host}:${s.port}`);
          } else if (f === 'partition' && hosts.length > 0) {
            const h = pick(hosts);
            if (partitioned.has(h)) continue;
            partitioned.add(h);
            await h.partition();
            fault('netns partition', h.ns);
            const ms = between(2_000, 8_000);
            const healing = sleep(ms)
              .then(async () => {
                await h.heal();
                partitioned.delete(h);
                timeline(`healed ${h.ns}`);
              })
              .catch((err: Error) => {
                log(`heal of ${h.ns} failed: ${err.message}`);
              })
              .finally(() => heals.delete(healing));
            heals.add(healing);
          } else if (f === 'redis_restart') {
            await redis.restart({ downMs: between(300, 1_500) });
            fault('redis restart (AOF)');
          } else if (f === 'redis_pause') {
            const pid = Number((await client.info('server')).match(/process_id:(\d+)/)?.[1]);
            if (pid) {
              process.kill(pid, 'SIGSTOP');
              await sleep(between(300, 1_500));
              process.kill(pid, 'SIGCONT');
              fault('redis unavailable (SIGSTOP)');
            }
          } else if (f === 'api_restart') {
            stopping.add(api);
            await stopChild(api, 2_000);
            api = start('apps/api/src/main.ts', { PORT: String(apiPort) });
            fault('api restart');
          } else if (f === 'cancel') {
            const recent = submitted.slice(-20);
            if (recent.length > 0) {
              const j = pick(recent);
              const r = await http('POST', `/v1/jobs/${j.jobId}/cancel`);
              if (r.status === 202) fault('cancel', j.jobId);
            }
          }
        } catch (err) {
          log(`fault ${f} failed: ${(err as Error).message}`);
        }
      }
      for (const h of partitioned) await h.heal();
    })();

    // Both end before anything else happens, even if the submitter failed: no fault or heal may run
    // into the cleanup below (a heal racing the namespace's removal used to crash the harness and
    // leave namespaces behind).
    const [sub, flt] = await Promise.allSettled([submitter, faulter]);
    await Promise.all(heals);
    if (sub.status === 'rejected') throw sub.reason;
    if (flt.status === 'rejected') throw flt.reason;
    log(`submitted ${submitted.length}; draining`);

    // --- drain -------------------------------------------------------------------------------
    const final = new Map<string, { state: string; category?: string; attempts?: number; message?: string }>();
    // Queues drain at the pace of the machine: a slow one is given time as long as jobs keep ending.
    // A job is lost when nothing has ended for DRAIN_STALL_MS (a hang), or at the hard deadline.
    const drainDeadline = Date.now() + Math.max(60_000, MAX_MS - (Date.now() - T0)) + DRAIN_EXTRA_MS;
    let lastEnd = Date.now();
    while (Date.now() < drainDeadline && Date.now() - lastEnd < DRAIN_STALL_MS) {
      const before = final.size;
      for (const j of submitted) {
        if (final.has(j.jobId)) continue;
        const r = await http('GET', `/v1/jobs/${j.jobId}`);
        const st = String(r.json.state);
        if (st === 'completed' || st === 'failed') {
          const e = r.json.error as { category?: string; message?: string } | undefined;
          final.set(j.jobId, { state: st, category: e?.category, attempts: Number(r.json.attempts), message: e?.message?.slice(0, 160) });
        } else if (r.status === 404) {
          final.set(j.jobId, { state: 'removed', category: 'cancelled' });
        }
      }
      if (final.size === submitted.length) break;
      if (final.size > before) lastEnd = Date.now();
      await sleep(1_000);
    }
    if (final.size < submitted.length)
      log(
        `drain stopped with ${submitted.length - final.size} job(s) open: ${Date.now() - lastEnd >= DRAIN_STALL_MS ? `no job ended for ${DRAIN_STALL_MS / 1000} s` : 'hard deadline'}`,
      );
    // Give the sweeper one period, then count what is still alive.
    await sleep(4_000);
    checker.stop();
    checker.sample();
    const orphans = members.flatMap((m) => checker.live(m).map((pid) => `${m.member.name}:${pid}`));

    // --- double runs: agent starts per job (from the agents' own prompt records) vs attempts ---
    const starts = new Map<string, number>();
    for (const m of members) {
      const dir = join(m.state.dir, 'prompts');
      let files: string[] = [];
      try {
        files = readdirSync(dir);
      } catch {}
      for (const f of files) {
        const t = /^@tag (t\d+)$/m.exec(readFileSync(join(dir, f), 'utf8'))?.[1];
        if (t) starts.set(t, (starts.get(t) ?? 0) + 1);
      }
    }
    const doubleRuns = submitted
      .filter((j) => (starts.get(j.tag) ?? 0) > j.attempts)
      .map((j) => `${j.jobId} (${j.kind}): ${starts.get(j.tag)} starts > ${j.attempts} attempts`);
    const lost = submitted.filter((j) => !final.has(j.jobId)).map((j) => `${j.jobId} (${j.kind})`);
    // Diagnostics for lost jobs: what their member looks like in Redis right now.
    const stuck = new Set(submitted.filter((j) => !final.has(j.jobId)).map((j) => j.memberId));
    for (const id of stuck) {
      const m = members.find((x) => x.member.id === id);
      const q = `${prefix}:q:member-${id}`;
      const counts = await Promise.all(['wait', 'active', 'paused'].map((k) => client.llen(`${q}:${k}`)));
      const delayed = await client.zcard(`${q}:delayed`);
      const prioritized = await client.zcard(`${q}:prioritized`);
      const runRec = await client.hgetall(registry.keys.run(id));
      const lostStates = await Promise.all(
        submitted
          .filter((j) => j.memberId === id && !final.has(j.jobId))
          .slice(0, 3)
          .map(async (j) => (await http('GET', `/v1/jobs/${j.jobId}`)).json),
      );
      log(
        `stuck member ${m?.member.name} (${m?.kind}): run ${JSON.stringify(runRec)} fence ${await client.get(registry.keys.fence(id))} pttl ${await client.pttl(registry.keys.fence(id))} wait/active/paused ${counts} delayed ${delayed} prioritized ${prioritized} global-concurrency ${await client.hget(`${q}:meta`, 'concurrency')} jobs ${JSON.stringify(lostStates).slice(0, 600)}`,
      );
      // What the stuck jobs' workers last said, and what is on the member (the CI keeps only stdout).
      for (const j of submitted.filter((x) => x.memberId === id && !final.has(x.jobId)).slice(0, 3)) {
        log(`worker log of ${j.jobId}:\n${jobLogLines(join(tmp.path, 'logs'), j.jobId, 25).join('\n')}`);
      }
      if (runRec.runDir) log(`member side of ${runRec.runDir}:\n${runDirEvidence(runRec.runDir, Number(runRec.pid)).join('\n')}`);
    }

    // --- report ------------------------------------------------------------------------------
    const byCat = new Map<string, number>();
    let completed = 0;
    for (const f of final.values()) {
      if (f.state === 'completed') completed++;
      else byCat.set(f.category ?? 'unknown', (byCat.get(f.category ?? 'unknown') ?? 0) + 1);
    }
    const pct = (p: number) => {
      const s = [...killMs].sort((a, b) => a - b);
      return s.length ? (s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0) : 0;
    };
    const maxLive = Math.max(0, ...checker.maxLive.values());
    // How often the run protocol's recovery paths ran (from every worker's log): a run that exercised
    // none of them proves little about them.
    const events = countLogEvents(join(tmp.path, 'logs'), {
      adopted: 'adopting our own run left by a previous worker',
      'leftovers killed': 'killed leftover run before spawning',
      parked: "parked another job's finished run for that job (its result is kept)",
      'fence lost before spawn (same attempt delayed)': 'leaving the member and delaying this attempt',
      detached: 'aborting run: detach',
      'orphans swept': 'sweeper: removed a run no live job owns',
    });
    const rows: Array<[string, string]> = [
      ['seed', String(SEED)],
      [
        'members (local / ssh / netns)',
        `${members.filter((m) => m.kind === 'local').length} / ${members.filter((m) => m.kind === 'ssh').length} / ${members.filter((m) => m.kind === 'netns').length}`,
      ],
      ['worker processes', String(WORKERS)],
      ['jobs submitted (of which a retried POST found the job made by a try whose answer was lost)', `${submitted.length} (${resubmits})`],
      ['jobs completed', String(completed)],
      [
        'jobs failed by category',
        [...byCat.entries()]
          .sort()
          .map(([k, v]) => `${k} ${v}`)
          .join(', ') || '-',
      ],
      ['jobs lost', String(lost.length)],
      ['max live agents on one member (any sample)', String(maxLive)],
      ['checker samples (every 25 ms, all members)', String(checker.samples)],
      ['agents alive after the run (orphans)', String(orphans.length)],
      ['jobs with more agent starts than attempts (double runs)', String(doubleRuns.length)],
      [
        'run-protocol recoveries (worker logs)',
        Object.entries(events)
          .map(([k, v]) => `${k} ${v}`)
          .join(', '),
      ],
      ['kill latency p50 / p99 (ms, confirmed kills)', `${pct(50)} / ${pct(99)} (n=${killMs.length})`],
      ['faults injected', [...faults.entries()].map(([k, v]) => `${k} ${v}`).join(', ') || '-'],
      ['duration', `${((Date.now() - T0) / 1000).toFixed(0)} s`],
    ];
    const table = ['| measure | value |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n');
    process.stdout.write(`\n${table}\n\n`);
    const violations = [
      ...checker.violations.slice(0, 20).map((v) => `overlap: ${v}`),
      ...orphans.map((o) => `orphan: ${o}`),
      ...doubleRuns.map((d) => `double run: ${d}`),
      ...lost.slice(0, 50).map((l) => `lost: ${l}`),
    ];
    const byKind: Record<string, Record<string, number>> = {};
    const samples: Record<string, string[]> = {};
    for (const j of submitted) {
      const f = final.get(j.jobId);
      const k = f ? (f.state === 'completed' ? 'completed' : `failed:${f.category}`) : 'lost';
      byKind[j.kind] ??= {};
      const kind = byKind[j.kind] as Record<string, number>;
      kind[k] = (kind[k] ?? 0) + 1;
      const key = `${j.kind}/${k}`;
      const list = samples[key] ?? [];
      if (f?.message && list.length < 3) list.push(f.message);
      samples[key] = list;
    }
    process.stdout.write(`outcomes by job kind: ${JSON.stringify(byKind)}\n`);
    mkdirSync(join(ROOT, 'chaos/results'), { recursive: true });
    writeFileSync(
      join(ROOT, 'chaos/results', `seed-${SEED}${quick ? '-quick' : ''}.json`),
      `${JSON.stringify({ seed: SEED, quick, rows: Object.fromEntries(rows), byKind, samples, violations }, null, 2)}\n`,
    );
    if (violations.length > 0 || maxLive > 1) {
      // Keep the evidence: every process's log, each member's agent records, the fault timeline.
      const evidence = join(ROOT, 'chaos/results', `evidence-seed-${SEED}`);
      rmSync(evidence, { recursive: true, force: true });
      cpSync(join(tmp.path, 'logs'), join(evidence, 'logs'), { recursive: true });
      for (const m of members) cpSync(m.state.dir, join(evidence, 'agents', m.member.name), { recursive: true });
      writeFileSync(join(evidence, 'faults.txt'), `${faultLog.join('\n')}\n`);
      process.stdout.write(`evidence kept in ${evidence}\n`);
      process.stdout.write(`VIOLATIONS (${violations.length}):\n${violations.join('\n')}\n`);
      return 1;
    }
    process.stdout.write('no violations\n');
    return 0;
  } finally {
    finished = true;
    for (const c of procs) c.kill('SIGKILL');
    // Nothing we started may survive the harness: kill every recorded agent still alive.
    for (const m of members) for (const pid of m.state.live()) process.kill(pid, 'SIGKILL');
    for (const s of sshds) await s.stop().catch(() => undefined);
    for (const h of hosts) await h.destroy().catch(() => undefined);
    client.disconnect();
    await redis.stop();
    tmp.remove();
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`chaos: ${err.stack}\n`);
    process.exit(2);
  },
);

/** Lines of the logs in `dir` whose pino `msg` is (or ends with) each message, by name. */
function countLogEvents(dir: string, messages: Record<string, string>): Record<string, number> {
  const counts = Object.fromEntries(Object.keys(messages).map((k) => [k, 0]));
  let files: string[] = [];
  try {
    files = readdirSync(dir);
  } catch {}
  for (const f of files) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue;
      let msg: unknown;
      try {
        msg = (JSON.parse(line) as { msg?: unknown }).msg;
      } catch {
        continue;
      }
      if (typeof msg !== 'string') continue;
      for (const [k, m] of Object.entries(messages)) if (msg === m || msg.endsWith(m)) counts[k] = (counts[k] ?? 0) + 1;
    }
  }
  return counts;
}

/** The last `n` worker log lines that name `jobId`, shortened to what tells the story. */
function jobLogLines(dir: string, jobId: string, n: number): string[] {
  const hits: Array<{ time: number; text: string }> = [];
  let files: string[] = [];
  try {
    files = readdirSync(dir);
  } catch {}
  for (const f of files.filter((x) => x.startsWith('worker-'))) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (!line.includes(jobId)) continue;
      try {
        const { time, msg, level, pid: _p, hostname: _h, jobId: _j, memberId: _m, ...rest } = JSON.parse(line) as Record<string, unknown>;
        hits.push({
          time: Number(time),
          text: `${new Date(Number(time)).toISOString().slice(11, 23)} ${f} ${level} ${String(msg)} ${JSON.stringify(rest)}`,
        });
      } catch {
        hits.push({ time: 0, text: `${f} ${line.slice(0, 300)}` });
      }
    }
  }
  return hits
    .sort((a, b) => a.time - b.time)
    .slice(-n)
    .map((h) => `  ${h.text.slice(0, 400)}`);
}

/** The run directory's files and every live process of the run's session or naming its directory. */
function runDirEvidence(runDir: string, sid: number): string[] {
  const out: string[] = [];
  try {
    for (const f of readdirSync(runDir)) {
      const p = join(runDir, f);
      const body = readFileSync(p);
      out.push(`  ${f}: ${body.length} bytes${f === 'pid' || f === 'exit' ? ` ${JSON.stringify(body.toString())}` : ''}`);
    }
  } catch (err) {
    out.push(`  run dir: ${(err as Error).message}`);
  }
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ').replace(/\s+/g, ' ');
      if (Number(f[3]) === sid || cmd.includes(runDir))
        out.push(`  process ${d} state ${f[0]} ppid ${f[1]} sid ${f[3]}: ${cmd.slice(0, 200)}`);
    } catch {}
  }
  return out;
}
