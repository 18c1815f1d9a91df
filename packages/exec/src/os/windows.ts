import type { RunHandle } from '../identity';
import { psQuote, winQuoteArg } from '../quote';
import { assertEnvName, assertNonce, assertRunId } from './paths';
import type { KillOptions, OsCommands, ReattachOptions, WrapperOptions } from './types';

/**
 * Windows members (PowerShell 5.1+). No PowerShell exists on our build machines, so these scripts
 * are tested as text (structure, quoting) only — see docs/windows.md.
 *
 * Same protocol as Unix: a supervisor process (a hidden powershell started with Start-Process
 * -PassThru, so we know ITS pid, not the host's $PID) runs the agent with redirected files and writes
 * the exit code atomically; identity = LastBootUpTime ticks + the supervisor's StartTime ticks; the
 * kill is `taskkill /F /T /PID` after a StartTime check.
 */

const POLL_MS = 50;

function encodePs(script: string): string {
  return Buffer.from(script, 'utf16le').toString('base64');
}

const PRELUDE = `$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
function Fleet-Boot { ([Management.ManagementDateTimeConverter]::ToDateTime((Get-CimInstance Win32_OperatingSystem).LastBootUpTime.ToString('yyyyMMddHHmmss.ffffff+000'))).ToUniversalTime().Ticks.ToString() }
function Fleet-Start([int]$Id) { try { (Get-Process -Id $Id -ErrorAction Stop).StartTime.ToUniversalTime().Ticks.ToString() } catch { '' } }
function Fleet-Alive([int]$Id, [string]$S) { $s0 = Fleet-Start $Id; return ($s0 -ne '' -and $s0 -eq $S) }
`;

/** Streams $D\\out from $OFF until the exit file appears or the leader dies, then the end marker. */
const STREAM = `
$fs = [IO.File]::Open((Join-Path $D 'out'), 'OpenOrCreate', 'Read', 'ReadWrite')
[void]$fs.Seek([int64]$OFF, 'Begin')
$buf = New-Object byte[] 65536
$stdout = [Console]::OpenStandardOutput()
while ($true) {
  $done = (Test-Path -LiteralPath (Join-Path $D 'exit')) -or -not (Fleet-Alive $P $S)
  while (($n = $fs.Read($buf, 0, $buf.Length)) -gt 0) { $stdout.Write($buf, 0, $n); $stdout.Flush() }
  if ($done) { break }
  Start-Sleep -Milliseconds ${POLL_MS}
}
$fs.Close()
$errf = Join-Path $D 'err'
if ((Test-Path -LiteralPath $errf) -and -not $ATTACHED) { $e = [IO.File]::ReadAllBytes($errf); $stdout.Write($e, 0, $e.Length) }
$C = 'none'
$ef = Join-Path $D 'exit'
if (Test-Path -LiteralPath $ef) { $c0 = (Get-Content -LiteralPath $ef -Raw).Trim(); if ($c0 -match '^-?\\d+$') { $C = [string]([uint32]([int64]$c0 -band 0xffffffff)) } }
[Console]::Out.Write("FLEET_EXIT:$N:$C\`n")
`;

function wrapperScript(opts: WrapperOptions): string {
  assertNonce(opts.nonce);
  const [exe, ...args] = opts.argv;
  if (exe === undefined) throw new Error('empty argv');
  const envLines = Object.entries(opts.env ?? {}).map(([k, v]) => {
    assertEnvName(k);
    return `[Environment]::SetEnvironmentVariable(${psQuote(k)}, ${psQuote(v)})`;
  });
  const argLine = args.map((a) => winQuoteArg(a, 'argument')).join(' ');
  const d = psQuote(opts.runDir, 'runDir');
  const supervisor = `${PRELUDE}
$d = ${d}
Set-Content -LiteralPath (Join-Path $d 'pid.tmp') -Value "$($PID):$(Fleet-Boot):$(Fleet-Start $PID)"
try { Move-Item -ErrorAction Stop -LiteralPath (Join-Path $d 'pid.tmp') -Destination (Join-Path $d 'pid') } catch { exit 96 }
${envLines.join('\n')}
$a = Start-Process -FilePath ${psQuote(exe, 'program')} -ArgumentList ${psQuote(argLine)} -WorkingDirectory ${psQuote(opts.workFolder, 'workFolder')} -RedirectStandardInput (Join-Path $d 'prompt') -RedirectStandardOutput (Join-Path $d 'out') -RedirectStandardError (Join-Path $d 'err') -NoNewWindow -PassThru
$null = $a.Handle
$a.WaitForExit()
Set-Content -LiteralPath (Join-Path $d 'exit.tmp') -Value $a.ExitCode
Move-Item -Force -LiteralPath (Join-Path $d 'exit.tmp') -Destination (Join-Path $d 'exit')
`;
  return `${PRELUDE}
$D = ${d}
$N = '${opts.nonce}'
$OFF = 0
$ATTACHED = $false
try { Set-Location -LiteralPath ${psQuote(opts.workFolder, 'workFolder')} } catch { [Console]::Out.Write("FLEET_ERR:workfolder_missing\`n"); exit 97 }
if (-not (Test-Path -LiteralPath (Join-Path $D 'prompt'))) { [Console]::Out.Write("FLEET_ERR:prompt_missing\`n"); exit 97 }
Remove-Item -Force -ErrorAction SilentlyContinue -LiteralPath (Join-Path $D 'exit'), (Join-Path $D 'exit.tmp')
[IO.File]::WriteAllBytes((Join-Path $D 'out'), [byte[]]@())
$sup = Start-Process -FilePath 'powershell.exe' -ArgumentList '-NoProfile','-NonInteractive','-WindowStyle','Hidden','-EncodedCommand','${encodePs(supervisor)}' -WindowStyle Hidden -PassThru
$P = $sup.Id
$S = Fleet-Start $P
[Console]::Out.Write("FLEET_PID:$P\`n")
[Console]::Out.Write("FLEET_ID:$(Fleet-Boot):$S\`n")
${STREAM}`;
}

function handleVars(h: RunHandle): string {
  if (!Number.isSafeInteger(h.pid) || h.pid <= 0) throw new Error(`invalid pid ${h.pid}`);
  if (!/^\d+$/.test(h.startTime)) throw new Error('invalid start time');
  return `$D = ${psQuote(h.runDir, 'runDir')}
$P = ${h.pid}
$S = '${h.startTime}'
$B = ${psQuote(h.bootId, 'bootId')}`;
}

const CLASSIFY = `
$s0 = Fleet-Start $P
if ((Fleet-Boot) -ne $B) { $ST = 'rebooted' }
elseif ($s0 -eq '') { $ST = 'gone' }
elseif ($s0 -ne $S) { $ST = 'mismatch' }
else { $ST = 'alive' }
`;

function reattachScript(opts: ReattachOptions): string {
  assertNonce(opts.nonce);
  if (!Number.isSafeInteger(opts.offset) || opts.offset < 0) throw new Error('invalid offset');
  return `${PRELUDE}
${handleVars(opts.handle)}
$N = '${opts.nonce}'
$OFF = ${opts.offset}
$ATTACHED = $false
${CLASSIFY}
[Console]::Out.Write("FLEET_ATTACH:$ST\`n")
if ($ST -ne 'alive') { $S = 'gone' }
${STREAM}`;
}

function probeScript(h: RunHandle): string {
  return `${PRELUDE}
${handleVars(h)}
${CLASSIFY}
$C = ''
$ef = Join-Path $D 'exit'
if (Test-Path -LiteralPath $ef) { $C = (Get-Content -LiteralPath $ef -Raw).Trim() }
$Z = 0
$of = Join-Path $D 'out'
if (Test-Path -LiteralPath $of) { $Z = (Get-Item -LiteralPath $of).Length }
[Console]::Out.Write("FLEET_PROBE:$($ST):$($C):$Z\`n")
`;
}

function killScript(h: RunHandle, opts: KillOptions): string {
  return `${PRELUDE}
${handleVars(h)}
${CLASSIFY}
if ($ST -eq 'rebooted' -or $ST -eq 'gone') { [Console]::Out.Write("FLEET_KILL:already_gone:0\`n"); exit 0 }
if ($ST -eq 'mismatch') { [Console]::Out.Write("FLEET_KILL:identity_mismatch:0\`n"); exit 0 }
$kids = @(Get-CimInstance Win32_Process | Where-Object { $_.ParentProcessId -eq $P }).Count + 1
& taskkill.exe /F /T /PID $P | Out-Null
$deadline = (Get-Date).AddMilliseconds(${opts.timeoutMs})
while ((Fleet-Alive $P $S) -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 20 }
if (Fleet-Alive $P $S) { [Console]::Out.Write("FLEET_KILL:timeout:1\`n") } else { [Console]::Out.Write("FLEET_KILL:killed:$kids\`n") }
`;
}

function triageScript(handles: readonly RunHandle[]): string {
  const calls = handles.map((h, i) => {
    if (!Number.isSafeInteger(h.pid) || h.pid <= 0 || !/^\d+$/.test(h.startTime)) throw new Error('invalid handle');
    return `Fleet-Triage ${i} ${h.pid} '${h.startTime}' ${psQuote(h.bootId, 'bootId')}`;
  });
  return `${PRELUDE}
$FB = Fleet-Boot
function Fleet-Triage([int]$I, [int]$P, [string]$S, [string]$B) {
  $s0 = Fleet-Start $P
  if ($FB -ne $B) { $ST = 'rebooted' } elseif ($s0 -eq '') { $ST = 'gone' } elseif ($s0 -ne $S) { $ST = 'mismatch' } else { $ST = 'alive' }
  $U = if ($ST -eq 'alive') { 1 } else { 0 }
  [Console]::Out.Write("FLEET_TRIAGE:$($I):$($ST):$U\`n")
}
${calls.join('\n')}
`;
}

/** See OsCommands.claimRunScript. The supervisor moves its record into place (never over one). */
function claimRunScript(runDir: string): string {
  return `$d = ${psQuote(runDir, 'runDir')}
$w = Split-Path -Parent (Split-Path -Parent (Split-Path -Parent $d))
if (-not (Test-Path -LiteralPath $w -PathType Container)) { [Console]::Out.Write("FLEET_CLAIM:claimed\`n"); exit 0 }
New-Item -ItemType Directory -Force -Path $d | Out-Null
$p = Join-Path $d 'pid'
try {
  $f = [IO.File]::Open($p, 'CreateNew', 'Write')
  $b = [Text.Encoding]::ASCII.GetBytes("abandoned\`n"); $f.Write($b, 0, $b.Length); $f.Close()
  [Console]::Out.Write("FLEET_CLAIM:claimed\`n"); exit 0
} catch {}
for ($i = 0; $i -lt 40; $i++) {
  $t = ''
  try { $t = [IO.File]::ReadAllText($p) } catch {}
  if ($t -match '^abandoned') { [Console]::Out.Write("FLEET_CLAIM:claimed\`n"); exit 0 }
  if ($t -match '^[^\r\n]+\r?\n') { [Console]::Out.Write("FLEET_CLAIM:record\`n$t"); exit 0 }
  Start-Sleep -Milliseconds 50
}
[Console]::Out.Write("FLEET_CLAIM:pending\`n")
`;
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
  prepareRunDirScript: (workFolder, runDir) =>
    `if (-not (Test-Path -LiteralPath ${psQuote(workFolder, 'workFolder')} -PathType Container)) { [Console]::Out.Write("FLEET_ERR:workfolder_missing\`n"); exit 0 }
New-Item -ItemType Directory -Force -Path ${psQuote(runDir, 'runDir')} | Out-Null
if (Test-Path -LiteralPath (Join-Path ${psQuote(runDir)} 'pid')) { [Console]::Out.Write("FLEET_ERR:rundir_used\`n"); exit 0 }
[Console]::Out.Write("FLEET_OK\`n")\n`,
  wrapperScript,
  reattachScript,
  probeScript,
  killScript,
  triageScript,
  readFileScript: (path) =>
    `if (Test-Path -LiteralPath ${psQuote(path, 'path')}) { [Console]::Out.Write([IO.File]::ReadAllText(${psQuote(path)})) }\n`,
  readFileTailScript: (path, bytes) =>
    `if (Test-Path -LiteralPath ${psQuote(path, 'path')}) { $f = [IO.File]::Open(${psQuote(path)}, 'Open', 'Read', 'ReadWrite'); [void]$f.Seek([Math]::Max(0, $f.Length - ${Math.max(1, Math.floor(bytes))}), 'Begin'); $r = New-Object IO.StreamReader($f); [Console]::Out.Write($r.ReadToEnd()); $f.Close() }\n`,
  claimRunScript,
  controlFrame(script, endTag) {
    return `& { powershell.exe -NoProfile -NonInteractive -EncodedCommand ${encodePs(script)} 2>&1 | Out-String -Stream }; [Console]::Out.Write("\`n${endTag}:$LASTEXITCODE\`n")\n`;
  },
};
