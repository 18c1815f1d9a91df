# Kills a run's process tree (taskkill /F /T) after its StartTime matched, and confirms it gone
# within $TimeoutMs: FLEET_KILL:<result>:<count>. Set: $D $P $S $B $TimeoutMs.
$ST = Fleet-Classify
if ($ST -eq 'rebooted' -or $ST -eq 'gone') { [Console]::Out.Write("FLEET_KILL:already_gone:0`n"); exit 0 }
if ($ST -eq 'mismatch') { [Console]::Out.Write("FLEET_KILL:identity_mismatch:0`n"); exit 0 }
$kids = @(Get-CimInstance Win32_Process | Where-Object { $_.ParentProcessId -eq $P }).Count + 1
& taskkill.exe /F /T /PID $P | Out-Null
$deadline = (Get-Date).AddMilliseconds($TimeoutMs)
while ((Fleet-Alive $P $S) -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 20 }
if (Fleet-Alive $P $S) { [Console]::Out.Write("FLEET_KILL:timeout:1`n") } else { [Console]::Out.Write("FLEET_KILL:killed:$kids`n") }
