# Reattaches to a run: FLEET_ATTACH:<state>, then streams from $OFF. Set: $D $P $S $B $N $OFF.
$ATTACHED = $false
$ST = Fleet-Classify
[Console]::Out.Write("FLEET_ATTACH:$ST`n")
if ($ST -ne 'alive') { $S = 'gone' }
Fleet-Stream
