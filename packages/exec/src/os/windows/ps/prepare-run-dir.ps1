# Creates a run's directory; a run directory holding a record is never reused. Set: $W $D.
if (-not (Test-Path -LiteralPath $W -PathType Container)) { [Console]::Out.Write("FLEET_ERR:workfolder_missing`n"); exit 0 }
New-Item -ItemType Directory -Force -Path $D | Out-Null
if (Test-Path -LiteralPath (Join-Path $D 'pid')) { [Console]::Out.Write("FLEET_ERR:rundir_used`n"); exit 0 }
[Console]::Out.Write("FLEET_OK`n")
