# The supervisor (a hidden powershell started with Start-Process -PassThru, so its pid is known):
# records pid:boot:start (moved into place, never over a claim), runs the agent ($Exe $ArgLine in
# $Wd, with $AgentEnv) with redirected files, then writes the exit code atomically. Set: $d.
Set-Content -LiteralPath (Join-Path $d 'pid.tmp') -Value "$($PID):$(Fleet-Boot):$(Fleet-Start $PID)"
try { Move-Item -ErrorAction Stop -LiteralPath (Join-Path $d 'pid.tmp') -Destination (Join-Path $d 'pid') } catch { exit 96 }
foreach ($k in $AgentEnv.Keys) { [Environment]::SetEnvironmentVariable($k, $AgentEnv[$k]) }
$a = Start-Process -FilePath $Exe -ArgumentList $ArgLine -WorkingDirectory $Wd -RedirectStandardInput (Join-Path $d 'prompt') -RedirectStandardOutput (Join-Path $d 'out') -RedirectStandardError (Join-Path $d 'err') -NoNewWindow -PassThru
$null = $a.Handle
$a.WaitForExit()
Set-Content -LiteralPath (Join-Path $d 'exit.tmp') -Value $a.ExitCode
Move-Item -Force -LiteralPath (Join-Path $d 'exit.tmp') -Destination (Join-Path $d 'exit')
