# The supervisor: the first process of a run's new session (SSH members, and the local fallback).
# $1 the run dir, $2… the agent's command. It records `pid:bootId:startTime` as line 1 of the run's
# record, runs the agent with the prompt on stdin and output to a file (a dropped SSH link cannot
# SIGPIPE it), then appends the exit code as line 2. Each line is one builtin's single write(2); a
# reader takes a line only when complete. Line 1 also goes to stdout, for the start. noclobber: a
# run another attempt claimed as never started (claim-run.sh) must never start.
d=$1; shift
fleet_f() {
  # shellcheck disable=SC2086 # split the stat fields on purpose
  set -- ${1##*) }; shift 19; s=$1
}
{ read -r b < /proc/sys/kernel/random/boot_id; read -r l < /proc/$$/stat; } 2>/dev/null
fleet_f "$l"
set -C; echo "$$:$b:$s" > "$d/pid" || exit 96; set +C
# The same line on stdout, which the start (start-run.sh) reads to its end: then stdout is let go.
# A reader gone meanwhile must not end the run: SIGPIPE is ignored for this one write.
trap '' PIPE; echo "$$:$b:$s"; trap - PIPE; exec >/dev/null
# The run's lock, held by this process alone while it lives (the agent does not inherit it): a
# reader blocks on it instead of polling (reattach.sh). Without flock, or if it fails, readers poll.
command exec 9>"$d/lock" && command -v flock >/dev/null 2>&1 && flock -n -x 9
"$@" < "$d/prompt" > "$d/out" 2>&1 9>&-; c=$?
echo "$c" >> "$d/pid"
