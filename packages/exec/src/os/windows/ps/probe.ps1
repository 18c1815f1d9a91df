# A run's state: FLEET_PROBE:<state>:<exit code or empty>:<output bytes>. Set: $D $P $S $B.
$ST = Fleet-Classify
$C = ''
$ef = Join-Path $D 'exit'
if (Test-Path -LiteralPath $ef) { $C = (Get-Content -LiteralPath $ef -Raw).Trim() }
$Z = 0
$of = Join-Path $D 'out'
if (Test-Path -LiteralPath $of) { $Z = (Get-Item -LiteralPath $of).Length }
[Console]::Out.Write("FLEET_PROBE:$($ST):$($C):$Z`n")
