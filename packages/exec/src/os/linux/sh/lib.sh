# Shared functions, put ahead of the scripts that use them (never run alone). Process identity is
# boot id + /proc/<pid>/stat field 22 (start time in clock ticks); a zombie counts as dead (PID 1
# here can take seconds to reap an orphan, and `kill -0` succeeds on it). Builtins only, but for
# the process table's one awk (fleet_procs).
# The callers set D (run dir), and for a run's leader P (pid), S (start time), B (boot id).
# shellcheck disable=SC2034 # FS_* are the parsed stat fields; each caller reads the ones it needs

# fleet_stat PID: sets FS_STATE FS_PPID FS_PGRP FS_SID FS_START; fails if the process is not there.
fleet_stat() {
  [ -r "/proc/$1/stat" ] || return 1
  fleet_l=
  { read -r fleet_l < "/proc/$1/stat"; } 2>/dev/null || return 1
  [ -n "$fleet_l" ] || return 1
  # shellcheck disable=SC2086 # split the fields after the command name on purpose
  set -- ${fleet_l##*) }
  FS_STATE=$1; FS_PPID=$2; FS_PGRP=$3; FS_SID=$4
  shift 19
  FS_START=$1
}

# fleet_procs: every live process but the shell $$ names, one line each: `pid ppid pgrp sid start`.
# One awk reads every /proc/<pid>/stat whole (getline: a process gone meanwhile is skipped; a
# newline in a process's name is part of its name, and the PID comes from the path): dash's `read`
# takes a file a byte per system call, which over a busy host's process table costs far more.
# Fails without awk.
fleet_procs() {
  # shellcheck disable=SC2016 # awk's own $ fields
  awk -v me="$$" '
    BEGIN {
      for (i = 1; i < ARGC; i++) {
        f = ARGV[i] "/stat"; l = ""; k = 0
        while ((getline x < f) > 0) l = k++ ? l "\n" x : x
        close(f)
        if (k == 0) continue
        q = substr(ARGV[i], 7)
        if (q == me) continue
        r = l
        while ((j = index(r, ") ")) > 0) r = substr(r, j + 2)
        if (split(r, a, " ") < 20 || a[1] ~ /^[ZXx]$/) continue
        print q, a[2], a[3], a[4], a[20]
      }
    }' /proc/[0-9]*
}

# fleet_alive PID START: the process is there, not a zombie, and is the one that started at START.
fleet_alive() {
  fleet_stat "$1" || return 1
  case $FS_STATE in Z|X|x) return 1;; esac
  [ "$FS_START" = "$2" ]
}

fleet_boot() {
  FB=
  { read -r FB < /proc/sys/kernel/random/boot_id; } 2>/dev/null
}

# The run's waiter (a local run's, see spawn-helper.sh), from the record's line 1
# `pid:boot:start:waiterPid:waiterStart`: sets WP WS, succeeds while it is alive.
fleet_waiter() {
  WP=; WS=
  fleet_l=
  { read -r fleet_l < "$D/pid"; } 2>/dev/null || return 1
  case $fleet_l in *:*:*:*:*) ;; *) return 1;; esac
  WS=${fleet_l##*:}; fleet_l=${fleet_l%:*}; WP=${fleet_l##*:}
  fleet_alive "$WP" "$WS"
}

# The run's exit code, line 2 of its record: sets FX, fails while there is none.
fleet_exit() {
  FX=
  { { read -r FX && read -r FX; } < "$D/pid"; } 2>/dev/null && return 0
  FX=
  return 1
}

# Classifies the recorded leader into ST: alive | gone | rebooted | mismatch (PID reused). A leader
# gone while its waiter has yet to append the exit code is waited for, up to 2 s, so that `gone`
# comes with the exit code when there is one; a waiter still there after that counts as alive.
fleet_classify() {
  fleet_boot
  if [ "$FB" != "$B" ]; then ST=rebooted
  elif fleet_stat "$P"; then
    if [ "$FS_START" != "$S" ]; then ST=mismatch
    else case $FS_STATE in Z|X|x) ST=gone;; *) ST=alive;; esac
    fi
  else ST=gone
  fi
  [ "$ST" = gone ] || return 0
  fleet_i=0
  while ! fleet_exit && fleet_waiter; do
    [ $fleet_i -ge 100 ] && { ST=alive; return 0; }
    sleep 0.02; fleet_i=$((fleet_i + 1))
  done
}

# Streams the run's output from byte OFF while W (a process that lives exactly as long as the run)
# lives; `tail --pid` does a final read when W is gone, so every byte written before the end is
# delivered. Then the nonce'd end marker with the exit code from the record (or `none`). tail looks
# for W (and, without inotify, at the file) every 0.1 s, the output's own batching interval: each
# look is a wakeup per followed run, which a host following many runs pays many times over.
fleet_stream() {
  tail -c +$((OFF + 1)) -f --pid="$W" -s 0.1 "$D/out" 2>/dev/null
  wait "$W" 2>/dev/null
  fleet_exit
  C=$FX
  case $C in ''|*[!0-9]*) C=none;; esac
  printf 'FLEET_EXIT:%s:%s\n' "$N" "$C"
}
