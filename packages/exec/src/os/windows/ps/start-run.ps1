# A run's start, one control command: starts the supervisor ($SupB64, base64 UTF-16) and prints
# FLEET_PID and FLEET_ID; its output is then followed with reattach.ps1 from byte 0.
# Set: $D (run dir), $W (work folder), $SupB64.
try { Set-Location -LiteralPath $W } catch { [Console]::Out.Write("FLEET_ERR:workfolder_missing`n"); exit 97 }
if (-not (Test-Path -LiteralPath (Join-Path $D 'prompt'))) { [Console]::Out.Write("FLEET_ERR:prompt_missing`n"); exit 97 }
Remove-Item -Force -ErrorAction SilentlyContinue -LiteralPath (Join-Path $D 'exit'), (Join-Path $D 'exit.tmp')
[IO.File]::WriteAllBytes((Join-Path $D 'out'), [byte[]]@())
$sup = Start-Process -FilePath 'powershell.exe' -ArgumentList '-NoProfile','-NonInteractive','-WindowStyle','Hidden','-EncodedCommand',$SupB64 -WindowStyle Hidden -PassThru
$P = $sup.Id
$S = Fleet-Start $P
[Console]::Out.Write("FLEET_PID:$P`n")
[Console]::Out.Write("FLEET_ID:$(Fleet-Boot):$S`n")
