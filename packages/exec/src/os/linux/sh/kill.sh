# Kills exactly a run's process tree: $1 run dir, $2 pid, $3 start time, $4 boot id, $5 rounds
# (of 20 ms) before giving up. Targets: the session and process group named after the leader (a
# process that moved to another group stays in the session), plus every descendant of those (one
# that called setsid is still caught through its parent while that lives). Nothing is touched
# unless boot id and the leader's start time match; if the leader is gone, only session or group
# members that started no earlier than it count (the kernel does not reuse a PID while it names a
# live session or group). Repeats until nothing is left. Prints FLEET_KILL:<result>:<count>.
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
fleet_targets() {
  T=" "; TAB=
  for f in /proc/[0-9]*/stat; do
    fleet_l=
    { read -r fleet_l < "$f"; } 2>/dev/null || continue
    q=${f#/proc/}; q=${q%/stat}
    [ "$q" = "$$" ] && continue
    # shellcheck disable=SC2086 # split the stat fields on purpose
    set -- ${fleet_l##*) }
    st=$1; pp=$2; pg=$3; sd=$4; shift 19; s0=$1
    case $st in Z|X|x) continue;; esac
    TAB="$TAB $q:$pp"
    if [ "$q" = "$P" ]; then
      [ "$s0" = "$S" ] && T="$T$q "
    elif [ "$sd" = "$P" ] || [ "$pg" = "$P" ]; then
      [ "$s0" -ge "$S" ] 2>/dev/null && T="$T$q "
    fi
  done
  ch=1
  while [ $ch = 1 ]; do
    ch=0
    for e in $TAB; do
      q=${e%%:*}; pp=${e#*:}
      case "$T" in *" $q "*) continue;; esac
      case "$T" in *" $pp "*) T="$T$q "; ch=1;; esac
    done
  done
}
i=0; first=
while :; do
  fleet_targets
  [ "$T" = " " ] && break
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
