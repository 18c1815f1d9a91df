# Triage of many runs: FLEET_TRIAGE:<index>:<state>:<1 if alive> for each. Set: $Runs, a list of
# @{ I = index; P = pid; S = start ticks; B = boot ticks }.
$FB = Fleet-Boot
foreach ($h in $Runs) {
  $s0 = Fleet-Start $h.P
  if ($FB -ne $h.B) { $ST = 'rebooted' } elseif ($s0 -eq '') { $ST = 'gone' } elseif ($s0 -ne $h.S) { $ST = 'mismatch' } else { $ST = 'alive' }
  $U = if ($ST -eq 'alive') { 1 } else { 0 }
  [Console]::Out.Write("FLEET_TRIAGE:$($h.I):$($ST):$U`n")
}
