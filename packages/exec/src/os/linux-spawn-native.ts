import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { assertHelperRequest } from './paths';

/**
 * The native spawn helper (linux-spawn-helper.c): the shell helper's job without its process
 * executions (per run, the shell helper forks twice and execs setsid(1) before the agent's own exec;
 * the native one forks the waiter, vforks the run and execs the agent). It is compiled on first use
 * with the machine's C compiler (`$CC`, else `cc`) into the package's `build/` folder, named after
 * its source's hash; where that cannot be done (no compiler, a read-only install, another OS) the
 * shell helper is used, with the same answers and the same run records.
 */

const SOURCE = fileURLToPath(new URL('./linux-spawn-helper.c', import.meta.url));
const run = promisify(execFile);

let built: Promise<string | undefined> | undefined;

/** The helper's executable, built once per process (and once per machine); undefined if it cannot be. */
export function nativeSpawnHelper(): Promise<string | undefined> {
  built ??= buildSpawnHelper({
    dir: process.env.FLEET_SPAWN_HELPER_DIR || join(dirname(SOURCE), '..', '..', 'build'),
    cc: process.env.CC || 'cc',
  }).catch(() => undefined);
  return built;
}

/**
 * Builds the helper into `dir` unless it is there already (named after its source's hash), and
 * returns its path; undefined where it cannot be built or trusted. Rejects on a compiler error.
 */
export async function buildSpawnHelper(opts: { dir: string; cc: string }): Promise<string | undefined> {
  if (process.platform !== 'linux') return undefined;
  const source = await readFile(SOURCE);
  const hash = createHash('sha256').update(source).update(process.arch).digest('hex').slice(0, 16);
  const exe = join(opts.dir, `fleet-spawn-${hash}`);
  if (await trusted(exe)) return exe;
  await mkdir(opts.dir, { recursive: true, mode: 0o755 });
  const tmp = `${exe}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await run(opts.cc, ['-O2', '-o', tmp, SOURCE], { timeout: 20_000 });
    await rename(tmp, exe); // atomic: concurrent builders each rename a complete file
  } finally {
    await rm(tmp, { force: true });
  }
  return (await trusted(exe)) ? exe : undefined;
}

/** A regular file we will execute: ours (or root's) and writable by no one else, its folder too. */
async function trusted(path: string): Promise<boolean> {
  const uid = process.getuid?.();
  const ok = (s: { uid: number; mode: number }) => (s.uid === uid || s.uid === 0) && (s.mode & 0o022) === 0;
  try {
    const [file, folder] = await Promise.all([lstat(path), stat(dirname(path))]);
    return file.isFile() && ok(file) && ok(folder);
  } catch {
    return false;
  }
}

/** NUL-terminated fields; no field may hold a NUL (nothing else needs escaping: no shell reads them). */
function fields(list: readonly string[]): string {
  for (const f of list) if (f.includes('\0')) throw new Error('a spawn request field contains a NUL byte');
  return list.map((f) => `${f}\0`).join('');
}

function header(kind: 'run' | 'start', id: number, cwd: string, cgroup: string | undefined): string[] {
  assertHelperRequest(id, cgroup);
  return [kind, String(id), cwd, cgroup ?? '-'];
}

/** A run: the waiter's PID is the answer, the leader's is in `<runDir>/pid` (see the C source). */
export function nativeRunRequest(id: number, cwd: string, runDir: string, argv: readonly string[], cgroup?: string): string {
  if (argv.length === 0) throw new Error('empty argv');
  return fields([...header('run', id, cwd, cgroup), runDir, String(argv.length), ...argv]);
}

/** Any command in a new session; its PID is the answer. */
export function nativeSpawnRequest(id: number, cwd: string, argv: readonly string[], cgroup?: string): string {
  if (argv.length === 0) throw new Error('empty argv');
  return fields([...header('start', id, cwd, cgroup), String(argv.length), ...argv]);
}
