# Reattaches to a run: $1 run dir, $2 pid, $3 start time, $4 boot id, $5 nonce, $6 output bytes
# already delivered. Prints FLEET_ATTACH:<state>, then streams from there to the run's end. The
# supervisor is not our child here: a watcher waits until the exit code is recorded or the leader
# (and its waiter, if it has one) is gone, and the stream follows the watcher. It first blocks on
# the run's lock, which the supervisor (or the waiter) holds while it lives, so a long run costs no
# poll; then the poll alone decides, so a run whose lock is not held is only polled.
# shellcheck disable=SC2034 # read by the functions of lib.sh
D=$1; P=$2; S=$3; B=$4; N=$5; OFF=$6
fleet_classify
echo "FLEET_ATTACH:$ST"
[ -e "$D/out" ] || : > "$D/out" 2>/dev/null
[ "$ST" = alive ] || S=gone
fleet_watch() {
  [ "$ST" = alive ] && command -v flock >/dev/null 2>&1 && flock -s "$D/lock" true
  while ! fleet_exit && { fleet_alive "$P" "$S" || fleet_waiter; }; do sleep 0.05; done
}
fleet_watch </dev/null >/dev/null 2>&1 &
# shellcheck disable=SC2034 # read by the functions of lib.sh
W=$!
fleet_stream
