# Triage of many runs on one host in one pass over the process table: the arguments are groups of
# four (index, pid, start time, boot id). Prints FLEET_TRIAGE:<index>:<state>:<1 if a live process
# still has the pid as its session or group id, else 0> for each.
# IDS: the process group and session ids of every live process.
fleet_ids() {
  L=$(fleet_procs) || { echo "FLEET_TRIAGE_ERR:scan_failed"; exit 0; }
  # shellcheck disable=SC2016 # awk's own $ fields
  IDS=" $(printf '%s\n' "$L" | awk '{ printf "%s %s ", $3, $4 }')"
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
