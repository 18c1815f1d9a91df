import type { RunHandle } from '../identity';

export type OsName = 'linux' | 'windows';

export interface StartRunOptions {
  runDir: string;
  workFolder: string;
  /** The agent's argv; argv[0] is the program. Every element is quoted by the OS layer. */
  argv: string[];
  /** Extra environment for the agent (names are validated). */
  env?: Record<string, string>;
}

export interface ReattachOptions {
  handle: RunHandle;
  /** Bytes of `out` already delivered; streaming resumes right after them. */
  offset: number;
  nonce: string;
}

export interface CheckMemberOptions {
  workFolder: string;
  /** A file just written into the work folder, to be found and removed; undefined if none. */
  probePath?: string;
  /** `file:<path under $HOME>` or `env:<NAME>`: where the agent's login may be. */
  credentials: readonly string[];
  /** The agent's program and its environment, as a run starts it. */
  argv: string[];
  env?: Record<string, string>;
}

export interface KillOptions {
  /** How long to keep killing and checking before reporting `timeout`. */
  timeoutMs: number;
}

/**
 * Everything that differs between member operating systems. Each method returns a script for the
 * member's shell (`shellCommand`), fed on stdin so that nothing of it shows in `ps`. Scripts print
 * the marker lines parsed by ./markers.ts.
 */
export interface OsCommands {
  readonly name: OsName;
  /** The command an SSH exec runs; the script arrives on its stdin. */
  readonly shellCommand: string;
  /** The same for a local spawn. */
  readonly shellArgv: readonly [string, ...string[]];
  runDir(workFolder: string, runId: string): string;
  joinPath(dir: string, name: string): string;
  /**
   * Creates the run directory (0700) and its prompt file (0600) in one control command; fails with
   * FLEET_ERR:workfolder_missing if the work folder does not exist.
   */
  prepareRunDirScript(workFolder: string, runDir: string, prompt: Buffer): string;
  /** Starts a run (a control command): prints its FLEET_PID and FLEET_ID, or FLEET_ERR:<reason>. */
  startRunScript(opts: StartRunOptions): string;
  /**
   * argv that starts the supervisor directly (for a local member: the caller starts it in a new
   * session itself and produces the wrapper's protocol in-process). Undefined where unsupported.
   */
  supervisorArgv?(opts: Omit<StartRunOptions, 'workFolder'>): string[];
  /**
   * A long-lived local shell that starts supervisors for us (fork + setsid + exec, off our event
   * loop) and prints `FLEET_SPAWNED:<id>:<pid>` per request; `spawnRequest` builds one request with
   * every argument quoted; with `cgroup`, the supervisor starts inside that (existing, empty) cgroup.
   * Undefined where unsupported (the caller then spawns itself).
   */
  readonly spawnHelperScript?: string;
  spawnRequest?(id: number, cwd: string, argv: readonly string[], cgroup?: string): string;
  /**
   * One request to the helper that starts a run without a supervisor exec: its answer is the PID of
   * the run's waiter, the leader's is in the record (see os/unix.ts). Undefined where unsupported.
   */
  runRequest?(id: number, cwd: string, opts: Omit<StartRunOptions, 'workFolder'>, cgroup?: string): string;
  reattachScript(opts: ReattachOptions): string;
  probeScript(handle: RunHandle): string;
  killScript(handle: RunHandle, opts: KillOptions): string;
  /**
   * One pass over the process table for many runs: prints `FLEET_TRIAGE:<index>:<state>:<inUse>` per
   * handle, where inUse = 1 if any live process still belongs to the run's session or group. Lets a
   * sweeper kill only what needs killing.
   */
  triageScript(handles: readonly RunHandle[]): string;
  readFileScript(path: string): string;
  /**
   * Writes a file through the control shell, for servers without SFTP: to a new temporary file named
   * with `suffix`, then renamed over `path`. Undefined where not implemented (SFTP is then required).
   */
  writeFileScript?(path: string, data: Buffer, mode: number, suffix: string): string;
  /** The last `bytes` bytes of a file (for result parsing after an adoption). */
  readFileTailScript(path: string, bytes: number): string;
  /**
   * Deletes the work folder's finished run directories that nothing changed for `retentionS`, except
   * those in `keep`; prints `FLEET_PRUNED:<count>`. Undefined where not implemented yet.
   */
  pruneRunDirsScript?(workFolder: string, retentionS: number, keep: readonly string[]): string;
  /**
   * What `fleet members check` reads off the member, as `key=value` lines: uid, user, work (ok |
   * missing | readonly), probe (the file at `probePath`, then removed), cred (each of `credentials`
   * present), bin and version of the agent command. Undefined where not implemented yet.
   */
  checkMemberScript?(opts: CheckMemberOptions): string;
  /**
   * For a run whose PID never reached Redis: prints `FLEET_CLAIM:record` and the supervisor's record
   * line if it started, else claims the record's place so that it never can (`FLEET_CLAIM:claimed`),
   * or `FLEET_CLAIM:pending` while its record is half written.
   */
  claimRunScript(runDir: string): string;
  /** Frame one command for a long-lived control shell: output, then a line `<endTag>:<status>`. */
  controlFrame(script: string, endTag: string): string;
}
