# Triage of many runs on one host in one pass over the process table: the arguments are groups of
# four (index, pid, start time, boot id). Prints FLEET_TRIAGE:<index>:<state>:<1 if a live process
# still has the pid as its session or group id, else 0> for each.
# IDS: the process group and session ids of every live process.
fleet_ids() {
  IDS=" "
  for f in /proc/[0-9]*/stat; do
    fleet_l=
    { read -r fleet_l < "$f"; } 2>/dev/null || continue
    # shellcheck disable=SC2086 # split the stat fields on purpose
    set -- ${fleet_l##*) }
    case $1 in Z|X|x) continue;; esac
    IDS="$IDS$3 $4 "
  done
}
fleet_triage() {
  P=$2; S=$3; B=$4
  if [ "$FB" != "$B" ]; then ST=rebooted
  elif fleet_stat "$P"; then
    if [ "$FS_START" != "$S" ]; then ST=mismatch
    else case $FS_STATE in Z|X|x) ST=gone;; *) ST=alive;; esac
    fi
  else ST=gone
  fi
  U=0
  case "$IDS" in *" $P "*) U=1;; esac
  echo "FLEET_TRIAGE:$1:$ST:$U"
}
fleet_boot
fleet_ids
while [ $# -ge 4 ]; do
  fleet_triage "$1" "$2" "$3" "$4"
  shift 4
done
