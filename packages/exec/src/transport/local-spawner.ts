import { type ChildProcess, spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { HELPER_LINE, SPAWNED_LINE } from '../os/markers';
import type { OsCommands, StartRunOptions } from '../os/types';

/** What a run is: its directory and the agent's command. */
export type RunSpec = Pick<StartRunOptions, 'runDir' | 'argv' | 'env'>;

/** The outcome of one start request: the PID of what was started, or why nothing was. */
export type SpawnResult = { pid: number } | { error: 'workfolder_missing' | 'spawn_failed' };

/**
 * Starts runs (and, for tests, any command) in their own sessions. Through the OS's spawn helper
 * when it has one (a small long-lived shell: the fork happens there, not in this process, whose
 * fork blocks the event loop for a time that grows with its memory); otherwise, or if the helper
 * cannot be used, with a detached child_process.spawn. A request whose answer is lost with the
 * helper is `spawn_failed` only as far as we know: the caller recovers the truth from the run
 * directory.
 */
export class LocalSpawner {
  private helper: ChildProcess | undefined;
  private ready: Promise<boolean> | undefined;
  private readonly waiting = new Map<number, (r: SpawnResult) => void>();
  private seq = 0;
  private disabled = false;
  private closed = false;

  constructor(private readonly os: OsCommands) {}

  /** `cgroup`: an existing empty cgroup the supervisor starts in (helper only; see os/linux-cgroup.ts). */
  async start(argv: readonly string[], cwd: string, cgroup?: string): Promise<SpawnResult> {
    const viaHelper = await this.request((id) => this.os.spawnRequest?.(id, cwd, argv, cgroup));
    return viaHelper ?? spawnDirect(argv, cwd);
  }

  /**
   * Starts a run. Through the helper: its waiter waits for the agent and records its exit code, and
   * the waiter's child writes the record and becomes the agent (see os/unix.ts); the answer is the
   * waiter's PID, the leader is in the record. Without the helper: the supervisor, started directly.
   */
  async startRun(run: RunSpec, cwd: string, cgroup?: string): Promise<SpawnResult> {
    const viaHelper = await this.request((id) => this.os.runRequest?.(id, cwd, run, cgroup));
    if (viaHelper) return viaHelper;
    if (!this.os.supervisorArgv) return { error: 'spawn_failed' };
    return spawnDirect(this.os.supervisorArgv(run), cwd);
  }

  /**
   * One request to the helper, if it can take one: `build` encodes it (validating and quoting every
   * field; it may throw).
   */
  private async request(build: (id: number) => string | undefined): Promise<SpawnResult | undefined> {
    if (!this.os.spawnHelperScript || this.disabled || !(await this.helperReady())) return undefined;
    const h = this.helper;
    if (!h?.stdin?.writable) return undefined;
    const id = ++this.seq;
    const request = build(id);
    if (request === undefined) return undefined;
    const answer = new Promise<SpawnResult>((resolve) => this.waiting.set(id, resolve));
    (h.stdout as Socket | null)?.ref();
    h.stdin.write(request);
    return answer;
  }

  private helperReady(): Promise<boolean> {
    this.ready ??= this.startHelper();
    return this.ready;
  }

  private async startHelper(): Promise<boolean> {
    if (this.closed) return false;
    // Its own session: the runs' waiters are its children, and must outlive a signal to our group.
    const h = spawn('sh', ['-s'], { stdio: ['pipe', 'pipe', 'ignore'], detached: true });
    this.helper = h;
    const ready = new Promise<boolean>((resolve) => {
      let buf = '';
      h.stdout?.setEncoding('utf8');
      h.stdout?.on('data', (chunk: string) => {
        buf += chunk;
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          const ready = HELPER_LINE.exec(line);
          if (ready) {
            if (ready[1] !== 'ready') this.disabled = true;
            resolve(ready[1] === 'ready');
            continue;
          }
          const m = SPAWNED_LINE.exec(line);
          const done = m && this.waiting.get(Number(m[1]));
          if (!m || !done) continue;
          this.waiting.delete(Number(m[1]));
          if (this.waiting.size === 0) (h.stdout as Socket | null)?.unref();
          done(
            /^\d+$/.test(m[2] ?? '')
              ? { pid: Number(m[2]) }
              : { error: m[2] === 'workfolder_missing' ? 'workfolder_missing' : 'spawn_failed' },
          );
        }
      });
      const gone = () => {
        resolve(false);
        if (this.helper === h) {
          this.helper = undefined;
          this.ready = undefined;
        }
        // Unanswered requests may or may not have started a supervisor: the caller looks at the run directory.
        for (const done of this.waiting.values()) done({ error: 'spawn_failed' });
        this.waiting.clear();
      };
      h.on('error', gone);
      h.on('exit', gone);
      h.stdin?.on('error', () => {});
    });
    h.stdin?.write(this.os.spawnHelperScript ?? '');
    // The helper must never keep this process alive.
    h.unref();
    (h.stdin as Socket | null)?.unref();
    (h.stdout as Socket | null)?.unref();
    return ready;
  }

  /** The helper's PID while one runs (for tests and diagnostics). */
  get helperPid(): number | undefined {
    return this.helper?.pid;
  }

  close(): void {
    this.closed = true;
    this.helper?.stdin?.end();
    this.helper = undefined;
    this.ready = undefined;
  }
}

function spawnDirect(argv: readonly string[], cwd: string): Promise<SpawnResult> {
  const [cmd, ...args] = argv;
  const child = spawn(cmd ?? 'sh', args, { cwd, detached: true, stdio: 'ignore' });
  return new Promise((resolve) => {
    child.once('spawn', () => resolve(child.pid === undefined ? { error: 'spawn_failed' } : { pid: child.pid }));
    child.once('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code === 'ENOENT' ? 'workfolder_missing' : 'spawn_failed' }));
  });
}
