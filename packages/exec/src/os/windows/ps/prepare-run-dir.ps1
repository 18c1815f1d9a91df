# Creates a run's directory and its prompt file; a run directory holding a record is never reused.
# Set: $W $D, $Prompt (the prompt in base64). The prompt goes to a temporary file moved over
# `prompt`, so a step sent again after a dropped link writes it whole.
if (-not (Test-Path -LiteralPath $W -PathType Container)) { [Console]::Out.Write("FLEET_ERR:workfolder_missing`n"); exit 0 }
New-Item -ItemType Directory -Force -Path $D | Out-Null
if (Test-Path -LiteralPath (Join-Path $D 'pid')) { [Console]::Out.Write("FLEET_ERR:rundir_used`n"); exit 0 }
$tmp = Join-Path $D 'prompt.tmp'
[IO.File]::WriteAllBytes($tmp, [Convert]::FromBase64String($Prompt))
Move-Item -Force -LiteralPath $tmp -Destination (Join-Path $D 'prompt')
[Console]::Out.Write("FLEET_OK`n")
