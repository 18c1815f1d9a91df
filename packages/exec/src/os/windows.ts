import type { RunHandle } from '../identity';
import { psQuote, winQuoteArg } from '../quote';
import { assertEnvName, assertNonce, assertRunId } from './paths';
import { RUN_STEP_SCRIPTS, loadScripts } from './script-files';
import type { KillOptions, OsCommands, ReattachOptions, StartRunOptions } from './types';

/**
 * Windows members (PowerShell 5.1+), the scripts in ./windows/ps. Each is given its variable parts
 * as assignments of quoted literals ahead of its constant text, and the shared functions of lib.ps1.
 * No PowerShell exists on our build machines, so these are tested as text (structure, quoting)
 * only — see docs/windows.md.
 *
 * Same protocol as Unix: a supervisor process (a hidden powershell started with Start-Process
 * -PassThru, so we know ITS pid, not the host's $PID) runs the agent with redirected files and writes
 * the exit code atomically; identity = LastBootUpTime ticks + the supervisor's StartTime ticks; the
 * kill is `taskkill /F /T /PID` after a StartTime check.
 */
const PS = loadScripts(new URL('./windows/ps/', import.meta.url), '.ps1', RUN_STEP_SCRIPTS);

type PsName = Exclude<keyof typeof PS, 'lib'>;

/** A script to run: `$Name = <literal>` per variable (each already a quoted literal), lib.ps1, its text. */
function ps(name: PsName, vars: Record<string, string>, withLib = true): string {
  const set = Object.entries(vars).map(([k, v]) => `$${k} = ${v}\n`);
  return `${set.join('')}${withLib ? PS.lib : ''}${PS[name]}`;
}

function encodePs(script: string): string {
  return Buffer.from(script, 'utf16le').toString('base64');
}

function startRunScript(opts: StartRunOptions): string {
  const [exe, ...args] = opts.argv;
  if (exe === undefined) throw new Error('empty argv');
  const env = Object.entries(opts.env ?? {}).map(([k, v]) => {
    assertEnvName(k);
    return `${psQuote(k)} = ${psQuote(v)}`;
  });
  const argLine = args.map((a) => winQuoteArg(a, 'argument')).join(' ');
  const d = psQuote(opts.runDir, 'runDir');
  const supervisor = ps('supervisor', {
    d,
    Exe: psQuote(exe, 'program'),
    ArgLine: psQuote(argLine),
    Wd: psQuote(opts.workFolder, 'workFolder'),
    AgentEnv: `@{ ${env.join('; ')} }`,
  });
  return ps('start-run', { D: d, W: psQuote(opts.workFolder, 'workFolder'), SupB64: `'${encodePs(supervisor)}'` });
}

/** A run's identity as the scripts take it: $D $P $S $B. */
function handleVars(h: RunHandle): Record<string, string> {
  if (!Number.isSafeInteger(h.pid) || h.pid <= 0) throw new Error(`invalid pid ${h.pid}`);
  if (!/^\d+$/.test(h.startTime)) throw new Error('invalid start time');
  return { D: psQuote(h.runDir, 'runDir'), P: String(h.pid), S: `'${h.startTime}'`, B: psQuote(h.bootId, 'bootId') };
}

function reattachScript(opts: ReattachOptions): string {
  assertNonce(opts.nonce);
  if (!Number.isSafeInteger(opts.offset) || opts.offset < 0) throw new Error('invalid offset');
  return ps('reattach', { ...handleVars(opts.handle), N: `'${opts.nonce}'`, OFF: String(opts.offset) });
}

function killScript(h: RunHandle, opts: KillOptions): string {
  return ps('kill', { ...handleVars(h), TimeoutMs: String(Math.max(1, Math.floor(opts.timeoutMs))) });
}

function triageScript(handles: readonly RunHandle[]): string {
  const runs = handles.map((h, i) => {
    if (!Number.isSafeInteger(h.pid) || h.pid <= 0 || !/^\d+$/.test(h.startTime)) throw new Error('invalid handle');
    return `@{ I = ${i}; P = ${h.pid}; S = '${h.startTime}'; B = ${psQuote(h.bootId, 'bootId')} }`;
  });
  return ps('triage', { Runs: `@(${runs.join(', ')})` });
}

export const windows: OsCommands = {
  name: 'windows',
  shellCommand: 'powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -Command -',
  shellArgv: ['powershell.exe', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-Command', '-'],
  runDir(workFolder, runId) {
    assertRunId(runId);
    return `${workFolder.replace(/[\\/]+$/, '')}\\.fleet\\runs\\${runId}`;
  },
  joinPath: (dir, name) => `${dir}\\${name}`,
  prepareRunDirScript: (workFolder, runDir, prompt) =>
    ps('prepare-run-dir', { W: psQuote(workFolder, 'workFolder'), D: psQuote(runDir, 'runDir'), Prompt: `'${prompt.toString('base64')}'` }),
  startRunScript,
  reattachScript,
  probeScript: (h) => ps('probe', handleVars(h)),
  killScript,
  triageScript,
  readFileScript: (path) => ps('read-file', { Path: psQuote(path, 'path') }, false),
  readFileTailScript: (path, bytes) =>
    ps('read-file-tail', { Path: psQuote(path, 'path'), Bytes: String(Math.max(1, Math.floor(bytes))) }, false),
  claimRunScript: (runDir) => ps('claim-run', { d: psQuote(runDir, 'runDir') }, false),
  controlFrame(script, endTag) {
    return `& { powershell.exe -NoProfile -NonInteractive -EncodedCommand ${encodePs(script)} 2>&1 | Out-String -Stream }; [Console]::Out.Write("\`n${endTag}:$LASTEXITCODE\`n")\n`;
  },
};
