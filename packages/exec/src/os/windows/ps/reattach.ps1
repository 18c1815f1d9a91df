# Follows a run: FLEET_ATTACH:<state>, then streams from $OFF. Set: $D $P $S $B $N $OFF. A stream
# from byte 0 (the first after the start) also delivers the supervisor's stderr at the end.
$ATTACHED = $OFF -ne 0
$ST = Fleet-Classify
[Console]::Out.Write("FLEET_ATTACH:$ST`n")
if ($ST -ne 'alive') { $S = 'gone' }
Fleet-Stream
