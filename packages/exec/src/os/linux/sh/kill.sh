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
# One awk reads every /proc/<pid>/stat whole (getline: a process gone meanwhile is skipped; a
# newline in a process's name is part of its name, the PID comes from the path) and prints the
# targets with their descendants, space-separated: a shell loop's one-byte reads of every process
# cost far more on a busy host.
fleet_targets() {
  # shellcheck disable=SC2016 # awk's own $ fields
  T=$(awk -v P="$P" -v S="$S" -v me="$$" '
    BEGIN {
      for (i = 1; i < ARGC; i++) {
        f = ARGV[i]; l = ""; k = 0
        while ((getline x < f) > 0) l = k++ ? l "\n" x : x
        close(f)
        if (k == 0) continue
        q = substr(f, 7); sub(/\/stat$/, "", q)
        if (q == me) continue
        r = l
        while ((j = index(r, ") ")) > 0) r = substr(r, j + 2)
        if (split(r, a, " ") < 20 || a[1] ~ /^[ZXx]$/) continue
        par[q] = a[2]
        if (q == P) { if (a[20] == S) t[q] = 1 }
        else if ((a[4] == P || a[3] == P) && a[20] + 0 >= S + 0) t[q] = 1
      }
      do { ch = 0; for (q in par) if (!(q in t) && (par[q] in t)) { t[q] = 1; ch = 1 } } while (ch)
      for (q in t) printf "%s ", q
    }' /proc/[0-9]*/stat) || { echo "FLEET_KILL_ERR:scan_failed"; exit 0; }
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
