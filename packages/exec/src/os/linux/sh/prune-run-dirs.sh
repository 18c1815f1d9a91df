# Deletes finished run directories older than a retention period (the prompt file is sensitive).
# $1: the runs folder (<workFolder>/.fleet/runs)  $2: retention in seconds  $3…: run dirs to keep
# A run is finished when its record has its exit line, or was claimed as never started
# (`abandoned`), or no record was ever written; it is old when nothing in it changed within the
# retention. A run that is still running has a one-line record and is never touched.
# Prints FLEET_PRUNED:<count>.
R=$1
S=$2
shift 2
case $S in '' | *[!0-9]*) echo "FLEET_PRUNED:error"; exit 0 ;; esac
if [ ! -d "$R" ]; then echo "FLEET_PRUNED:0"; exit 0; fi
T=$(($(date +%s) - S))
n=0
for d in "$R"/*/; do
  d=${d%/}
  [ -d "$d" ] || continue
  k=0
  for x in "$@"; do [ "$x" = "$d" ] && k=1; done
  [ "$k" = 1 ] && continue
  if [ -e "$d/pid" ]; then
    l1=
    l2=
    { read -r l1 && read -r l2; } <"$d/pid" 2>/dev/null
    [ "$l1" = abandoned ] || [ -n "$l2" ] || continue
  fi
  [ -z "$(find "$d" -newermt "@$T" -print 2>/dev/null | head -n 1)" ] || continue
  rm -rf -- "$d" && n=$((n + 1))
done
echo "FLEET_PRUNED:$n"
