# See OsCommands.claimRunScript: the record's place is taken with an exclusive create (the
# supervisor moves its record into place, never over one). Set: $d.
$w = Split-Path -Parent (Split-Path -Parent (Split-Path -Parent $d))
if (-not (Test-Path -LiteralPath $w -PathType Container)) { [Console]::Out.Write("FLEET_CLAIM:claimed`n"); exit 0 }
New-Item -ItemType Directory -Force -Path $d | Out-Null
$p = Join-Path $d 'pid'
try {
  $f = [IO.File]::Open($p, 'CreateNew', 'Write')
  $b = [Text.Encoding]::ASCII.GetBytes("abandoned`n"); $f.Write($b, 0, $b.Length); $f.Close()
  [Console]::Out.Write("FLEET_CLAIM:claimed`n"); exit 0
} catch {}
for ($i = 0; $i -lt 40; $i++) {
  $t = ''
  try { $t = [IO.File]::ReadAllText($p) } catch {}
  if ($t -match '^abandoned') { [Console]::Out.Write("FLEET_CLAIM:claimed`n"); exit 0 }
  if ($t -match '^[^\r\n]+\r?\n') { [Console]::Out.Write("FLEET_CLAIM:record`n$t"); exit 0 }
  Start-Sleep -Milliseconds 50
}
[Console]::Out.Write("FLEET_CLAIM:pending`n")
