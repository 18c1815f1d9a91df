import type { RunHandle } from '../identity';
import { shQuote } from '../quote';
import { RUN_STEP_SCRIPTS, loadScripts } from './script-files';
import { assertEnvName, assertHelperRequest, assertNonce, assertRunId } from './paths';
import type { CheckMemberOptions, KillOptions, OsCommands, ReattachOptions, StartRunOptions } from './types';

/**
 * Linux members: POSIX sh (Debian's /bin/sh is dash), the scripts in ./linux/sh, each given its
 * variable parts as positional parameters (`set -- …` ahead of the constant text) and, where it
 * uses them, the shared functions of lib.sh.
 */
const SH = loadScripts(new URL('./linux/sh/', import.meta.url), '.sh', [
  ...RUN_STEP_SCRIPTS,
  'spawn-helper',
  'prune-run-dirs',
  'write-file',
  'check-member',
] as const);

type ShName = Exclude<keyof typeof SH, 'lib'>;

/** A script to run: its arguments (each quoted), the shared functions if it uses them, its text. */
function sh(name: ShName, args: readonly string[], withLib = false): string {
  const set = args.length > 0 ? `set -- ${args.join(' ')}\n` : '';
  return `${set}${withLib ? SH.lib : ''}${SH[name]}`;
}

/** The agent's command with its environment, as argv (`env K=V … program args…`). */
function agentCommand(opts: Pick<StartRunOptions, 'argv' | 'env'>): string[] {
  if (opts.argv.length === 0) throw new Error('empty argv');
  const env = Object.entries(opts.env ?? {});
  for (const [k, v] of env) {
    assertEnvName(k);
    if (v.includes('\0')) throw new Error(`environment value of ${k} contains a NUL byte`);
  }
  return [...(env.length > 0 ? ['env', ...env.map(([k, v]) => `${k}=${v}`)] : []), ...opts.argv];
}

function startRunScript(opts: StartRunOptions): string {
  const cmd = agentCommand(opts).map((a) => shQuote(a, 'argument'));
  return sh('start-run', [shQuote(opts.runDir, 'runDir'), shQuote(opts.workFolder, 'workFolder'), shQuote(SH.supervisor), ...cmd]);
}

/** One helper request line: `<fn> <id> <cwd> <cgroup|-> <args…>`, every field validated and quoted. */
function helperRequest(fn: string, id: number, cwd: string, cgroup: string | undefined, args: readonly string[]): string {
  assertHelperRequest(id, cgroup);
  return `${fn} ${id} ${shQuote(cwd, 'workFolder')} ${shQuote(cgroup ?? '-', 'cgroup')} ${args.join(' ')}\n`;
}

function runRequest(id: number, cwd: string, opts: Pick<StartRunOptions, 'runDir' | 'argv' | 'env'>, cgroup?: string): string {
  const argv = agentCommand(opts).map((a) => shQuote(a, 'argument'));
  return helperRequest('fleet_run', id, cwd, cgroup, [shQuote(opts.runDir, 'runDir'), ...argv]);
}

function spawnRequest(id: number, cwd: string, argv: readonly string[], cgroup?: string): string {
  if (argv.length === 0) throw new Error('empty argv');
  return helperRequest(
    'fleet_start',
    id,
    cwd,
    cgroup,
    argv.map((a) => shQuote(a, 'argument')),
  );
}

/** A run's identity as the scripts take it: run dir, pid, start time, boot id. */
function handleArgs(h: RunHandle): string[] {
  if (!Number.isSafeInteger(h.pid) || h.pid <= 1) throw new Error(`invalid pid ${h.pid}`);
  if (!/^\d+$/.test(h.startTime)) throw new Error('invalid start time');
  return [shQuote(h.runDir, 'runDir'), String(h.pid), h.startTime, shQuote(h.bootId, 'bootId')];
}

function reattachScript(opts: ReattachOptions): string {
  assertNonce(opts.nonce);
  if (!Number.isSafeInteger(opts.offset) || opts.offset < 0) throw new Error('invalid offset');
  return sh('reattach', [...handleArgs(opts.handle), opts.nonce, String(opts.offset)], true);
}

function killScript(h: RunHandle, opts: KillOptions): string {
  const rounds = Math.max(1, Math.ceil(opts.timeoutMs / 20));
  return sh('kill', [...handleArgs(h), String(rounds)], true);
}

function triageScript(handles: readonly RunHandle[]): string {
  const args = handles.flatMap((h, i) => {
    if (!Number.isSafeInteger(h.pid) || h.pid <= 1 || !/^\d+$/.test(h.startTime)) throw new Error('invalid handle');
    return [String(i), String(h.pid), h.startTime, shQuote(h.bootId, 'bootId')];
  });
  return sh('triage', args, true);
}

function checkMemberScript(o: CheckMemberOptions): string {
  for (const c of o.credentials) {
    if (c.startsWith('env:')) assertEnvName(c.slice(4));
    else if (!c.startsWith('file:')) throw new Error(`invalid credential spec ${JSON.stringify(c)}`);
  }
  const cmd = agentCommand({ argv: o.argv.slice(0, 1), env: o.env }).map((a) => shQuote(a, 'argument'));
  const creds = o.credentials.map((c) => shQuote(c, 'credential'));
  return sh('check-member', [
    shQuote(o.workFolder, 'workFolder'),
    shQuote(o.probePath ?? '-', 'path'),
    String(creds.length),
    ...creds,
    ...cmd,
  ]);
}

function pruneRunDirsScript(workFolder: string, retentionS: number, keep: readonly string[]): string {
  if (!Number.isSafeInteger(retentionS) || retentionS < 0) throw new Error('invalid retention');
  const root = `${workFolder.replace(/\/+$/, '')}/.fleet/runs`;
  return sh(
    'prune-run-dirs',
    [root, String(retentionS), ...keep].map((a) => shQuote(a, 'runDir')),
  );
}

function writeFileScript(path: string, data: Buffer, mode: number, suffix: string): string {
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) throw new Error('invalid file mode');
  assertNonce(suffix);
  return sh('write-file', [shQuote(path, 'path'), mode.toString(8), suffix, shQuote(data.toString('base64'), 'content')]);
}

export const unix: OsCommands = {
  name: 'linux',
  shellCommand: 'sh -s',
  shellArgv: ['sh', '-s'],
  runDir(workFolder, runId) {
    assertRunId(runId);
    return `${workFolder.replace(/\/+$/, '')}/.fleet/runs/${runId}`;
  },
  joinPath: (dir, name) => `${dir}/${name}`,
  prepareRunDirScript: (workFolder, runDir, prompt) =>
    sh('prepare-run-dir', [shQuote(workFolder, 'workFolder'), shQuote(runDir, 'runDir'), shQuote(prompt.toString('base64'), 'prompt')]),
  startRunScript,
  supervisorArgv: (opts) => ['sh', '-c', SH.supervisor, 'fleet-run', opts.runDir, ...agentCommand(opts)],
  spawnHelperScript: SH['spawn-helper'],
  spawnRequest,
  runRequest,
  reattachScript,
  probeScript: (h) => sh('probe', handleArgs(h), true),
  killScript,
  triageScript,
  readFileScript: (path) => sh('read-file', [shQuote(path, 'path')]),
  readFileTailScript: (path, bytes) => sh('read-file-tail', [shQuote(path, 'path'), String(Math.max(1, Math.floor(bytes)))]),
  pruneRunDirsScript,
  checkMemberScript,
  writeFileScript,
  claimRunScript: (runDir) => sh('claim-run', [shQuote(runDir, 'runDir')]),
  controlFrame(script, endTag) {
    // The script runs in a subshell of the control shell: a fork, not a shell to exec. Its stdin is
    // /dev/null, so nothing it runs can read the commands that follow; nothing of it shows in ps.
    return `(\n${script}\n) </dev/null 2>&1\nprintf '\\n%s:%s\\n' '${endTag}' "$?"\n`;
  },
};
