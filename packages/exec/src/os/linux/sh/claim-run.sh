# Settles whether a run whose PID never reached Redis started: $1 its run dir. Either its record
# is there (FLEET_CLAIM:record, then the line), or we take the record's place with `abandoned`
# (noclobber, the same atomic create the supervisor uses) and the run can never start: a start
# still in flight stops at its first step (FLEET_CLAIM:claimed). A record created but not yet
# written (the supervisor is between two syscalls) is waited for briefly; still empty:
# FLEET_CLAIM:pending (undecided: nothing may be spawned yet). The run directory is created if its
# work folder exists (a late prepare must not undo the claim); without it nothing can start there.
D=$1
W=${D%/.fleet/runs/*}
if [ ! -d "$W" ]; then echo "FLEET_CLAIM:claimed"; exit 0; fi
umask 077
mkdir -p -- "$D" 2>/dev/null
if ( set -C; echo abandoned > "$D/pid" ) 2>/dev/null; then echo "FLEET_CLAIM:claimed"; exit 0; fi
i=0
while [ $i -lt 40 ]; do
  L=
  if { read -r L < "$D/pid"; } 2>/dev/null; then
    if [ "$L" = abandoned ]; then echo "FLEET_CLAIM:claimed"; else echo "FLEET_CLAIM:record"; printf '%s\n' "$L"; fi
    exit 0
  fi
  sleep 0.05; i=$((i + 1))
done
echo "FLEET_CLAIM:pending"
