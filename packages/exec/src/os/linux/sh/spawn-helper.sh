# The local spawn helper: one long-lived `sh` per worker process, in its own session, reading one
# request per line on stdin (forking this small shell costs a fraction of forking the worker, and
# does not block its event loop). Each request answers FLEET_SPAWNED:<id>:<pid or error>.
# A background subshell is no process-group leader (no job control here), so `setsid` calls
# setsid(2) and execs in place. What it forked is reaped as it forks more; at most the last lingers
# as a zombie, which every liveness check counts as dead. If the helper dies, runs go on.
#
# fleet_start ID CWD CGROUP CMD…: any command in a new session; the answer is its PID.
# fleet_run ID CWD CGROUP RUNDIR CMD…: a run, with one exec less than supervisor.sh. The subshell W
#   (the waiter) forks C and waits for it; C writes the record from its own /proc/self/stat
#   (noclobber, as the supervisor does) as `C:bootId:startTime:W:startTimeOfW`, joins the cgroup,
#   then execs `setsid <agent>`, so the agent leads the run's session. When C ends, W appends its
#   exit code, but only if line 1 names C (a run claimed as never started keeps `abandoned`). W is
#   outside the run's session: readers wait for it between the leader's end and the exit line, and
#   a kill takes W before a live leader. The answer is W's PID; the leader's is in the record.
# A cgroup (not `-`) is joined by writing 0 to its cgroup.procs; a failed write leaves it unjoined,
# which the caller detects (os/linux-cgroup.ts). fleet_run joins after the record, so the migration
# (an RCU grace period) does not hold back the PID.
command -v setsid >/dev/null 2>&1 || { echo "FLEET_HELPER:setsid_missing"; exit 0; }
fleet_start() {
  i=$1; c=$2; g=$3; shift 3
  if [ ! -d "$c" ]; then echo "FLEET_SPAWNED:$i:workfolder_missing"; return; fi
  ( [ "$g" = - ] || echo 0 > "$g/cgroup.procs"; cd "$c" && exec setsid "$@" ) </dev/null >/dev/null 2>&1 &
  echo "FLEET_SPAWNED:$i:$!"
}
fleet_f() {
  # shellcheck disable=SC2086 # split the stat fields on purpose
  set -- ${1##*) }; shift 19; s=$1
}
fleet_run() {
  i=$1; c=$2; g=$3; d=$4; shift 4
  if [ ! -d "$c" ]; then echo "FLEET_SPAWNED:$i:workfolder_missing"; return; fi
  (
    cd "$c" || exit 97
    { read -r b < /proc/sys/kernel/random/boot_id; read -r l < /proc/self/stat; } 2>/dev/null
    w=${l%% *}; fleet_f "$l"; ws=$s
    (
      { read -r l < /proc/self/stat; } 2>/dev/null
      fleet_f "$l"
      set -C; echo "${l%% *}:$b:$s:$w:$ws" > "$d/pid" || exit 96; set +C
      [ "$g" = - ] || echo 0 > "$g/cgroup.procs"
      exec setsid "$@" < "$d/prompt" > "$d/out" 2>&1
    ) &
    a=$!
    # The run's lock, held by W alone until it has appended the exit code (see supervisor.sh).
    command exec 9>"$d/lock" && command -v flock >/dev/null 2>&1 && flock -n -x 9
    wait $a; x=$?
    l=
    { read -r l < "$d/pid"; } 2>/dev/null
    case $l in "$a:"*) echo "$x" >> "$d/pid";; esac
  ) </dev/null >/dev/null 2>&1 &
  echo "FLEET_SPAWNED:$i:$!"
}
echo "FLEET_HELPER:ready"
