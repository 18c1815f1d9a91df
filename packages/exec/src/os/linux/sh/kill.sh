# Kills exactly a run's process tree: $1 run dir, $2 pid, $3 start time, $4 boot id, $5 rounds
# (of 20 ms) before giving up. Targets: the session and process group named after the leader (a
# process that moved to another group stays in the session), plus every descendant of those (one
# that called setsid is still caught through its parent while that lives). Nothing is touched
# unless boot id and the leader's start time match; if the leader is gone, only session or group
# members that started no earlier than it count (the kernel does not reuse a PID while it names a
# live session or group). Repeats until nothing is left. Prints FLEET_KILL:<result>:<count>, or
# FLEET_KILL_ERR:scan_failed (no awk: nothing is claimed gone).
# shellcheck disable=SC2034 # read by the functions of lib.sh
D=$1; P=$2; S=$3; B=$4; R=$5
fleet_classify
case $ST in
  rebooted) echo "FLEET_KILL:already_gone:0"; exit 0;;
  mismatch) echo "FLEET_KILL:identity_mismatch:0"; exit 0;;
esac
# A live leader's waiter goes first: killed after the leader, it would record the kill's 137 as
# the agent's exit code.
fleet_waiter && ! fleet_exit && kill -KILL "$WP" 2>/dev/null
# The targets and their descendants, space-separated, from one read of the process table (read
# first: a failed read must not pass for an empty table).
fleet_targets() {
  L=$(fleet_procs) || { echo "FLEET_KILL_ERR:scan_failed"; exit 0; }
  # shellcheck disable=SC2016 # awk's own $ fields
  T=$(printf '%s\n' "$L" | awk -v P="$P" -v S="$S" '
    { par[$1] = $2
      if ($1 == P) { if ($5 == S) t[$1] = 1 }
      else if (($4 == P || $3 == P) && $5 + 0 >= S + 0) t[$1] = 1 }
    END {
      do { ch = 0; for (q in par) if (!(q in t) && (par[q] in t)) { t[q] = 1; ch = 1 } } while (ch)
      for (q in t) printf "%s ", q
    }') || { echo "FLEET_KILL_ERR:scan_failed"; exit 0; }
}
i=0; first=
while :; do
  fleet_targets
  [ -z "$T" ] && break
  [ -n "$first" ] || first=$T
  # shellcheck disable=SC2086 # T is a list of PIDs
  kill -KILL $T 2>/dev/null
  i=$((i + 1))
  # shellcheck disable=SC2086
  if [ $i -ge "$R" ]; then set -- $T; echo "FLEET_KILL:timeout:$#"; exit 0; fi
  sleep 0.02
done
# shellcheck disable=SC2086
if [ -n "$first" ]; then set -- $first; echo "FLEET_KILL:killed:$#"; else echo "FLEET_KILL:already_gone:0"; fi
