# Shared functions, put ahead of the scripts that use them (never run alone). Identity is the
# boot time (LastBootUpTime ticks) + the process's StartTime ticks. The callers set $D (run dir),
# and for a run's supervisor $P (pid), $S (start ticks), $B (boot ticks). Names are
# case-insensitive: no local may reuse one of these (or $N, the nonce).
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
function Fleet-Boot { ([Management.ManagementDateTimeConverter]::ToDateTime((Get-CimInstance Win32_OperatingSystem).LastBootUpTime.ToString('yyyyMMddHHmmss.ffffff+000'))).ToUniversalTime().Ticks.ToString() }
function Fleet-Start([int]$Id) { try { (Get-Process -Id $Id -ErrorAction Stop).StartTime.ToUniversalTime().Ticks.ToString() } catch { '' } }
function Fleet-Alive([int]$Id, [string]$S) { $s0 = Fleet-Start $Id; return ($s0 -ne '' -and $s0 -eq $S) }

# The recorded supervisor's state: alive | gone | rebooted | mismatch (PID reused).
function Fleet-Classify {
  $s0 = Fleet-Start $P
  if ((Fleet-Boot) -ne $B) { 'rebooted' }
  elseif ($s0 -eq '') { 'gone' }
  elseif ($s0 -ne $S) { 'mismatch' }
  else { 'alive' }
}

# Streams $D\out from byte $OFF until the exit file appears or the supervisor is gone, then the
# nonce'd end marker with the exit code (or none).
function Fleet-Stream {
  $fs = [IO.File]::Open((Join-Path $D 'out'), 'OpenOrCreate', 'Read', 'ReadWrite')
  [void]$fs.Seek([int64]$OFF, 'Begin')
  $buf = New-Object byte[] 65536
  $stdout = [Console]::OpenStandardOutput()
  while ($true) {
    $done = (Test-Path -LiteralPath (Join-Path $D 'exit')) -or -not (Fleet-Alive $P $S)
    while (($got = $fs.Read($buf, 0, $buf.Length)) -gt 0) { $stdout.Write($buf, 0, $got); $stdout.Flush() }
    if ($done) { break }
    Start-Sleep -Milliseconds 50
  }
  $fs.Close()
  $errf = Join-Path $D 'err'
  if ((Test-Path -LiteralPath $errf) -and -not $ATTACHED) { $e = [IO.File]::ReadAllBytes($errf); $stdout.Write($e, 0, $e.Length) }
  $C = 'none'
  $ef = Join-Path $D 'exit'
  if (Test-Path -LiteralPath $ef) { $c0 = (Get-Content -LiteralPath $ef -Raw).Trim(); if ($c0 -match '^-?\d+$') { $C = [string]([uint32]([int64]$c0 -band 0xffffffff)) } }
  [Console]::Out.Write("FLEET_EXIT:$N:$C`n")
}
