import { readFileSync } from 'node:fs';
import type { RunHandle } from '../identity';
import { shQuote } from '../quote';
import { assertEnvName, assertHelperRequest, assertNonce, assertRunId } from './paths';
import type { KillOptions, OsCommands, ReattachOptions, WrapperOptions } from './types';

/**
 * Linux members. POSIX sh only (Debian's /bin/sh is dash). The hot paths (liveness, identity, the
 * process-table scan of the kill) use shell builtins only: `read` from /proc, parameter expansion.
 *
 * Process identity = boot id + /proc/<pid>/stat field 22 (start time in clock ticks). A zombie
 * (state Z) counts as dead: PID 1 here can take seconds to reap an orphan and `kill -0` succeeds on it.
 */

/** Interval of the reattach watcher's liveness poll (seconds, as sleep(1) takes it). */
const POLL_S = '0.05';
/** How often `tail --pid` checks that the run is still there (no fork: one kill(2) per tick). */
const TAIL_S = '0.01';

/** Shared shell functions. fleet_stat sets FS_STATE FS_PPID FS_PGRP FS_SID FS_START for PID $1. */
const PRELUDE = `
fleet_stat() {
  [ -r "/proc/$1/stat" ] || return 1
  fleet_l=
  { read -r fleet_l < "/proc/$1/stat"; } 2>/dev/null || return 1
  [ -n "$fleet_l" ] || return 1
  set -- \${fleet_l##*) }
  FS_STATE=$1; FS_PPID=$2; FS_PGRP=$3; FS_SID=$4
  shift 19
  FS_START=$1
}
fleet_alive() {
  fleet_stat "$1" || return 1
  case $FS_STATE in Z|X|x) return 1;; esac
  [ "$FS_START" = "$2" ]
}
fleet_boot() {
  FB=
  { read -r FB < /proc/sys/kernel/random/boot_id; } 2>/dev/null
}
fleet_waiter() {
  WP=; WS=
  fleet_l=
  { read -r fleet_l < "$D/pid"; } 2>/dev/null || return 1
  case $fleet_l in *:*:*:*:*) ;; *) return 1;; esac
  WS=\${fleet_l##*:}; fleet_l=\${fleet_l%:*}; WP=\${fleet_l##*:}
  fleet_alive "$WP" "$WS"
}
fleet_exit() {
  FX=
  { { read -r FX && read -r FX; } < "$D/pid"; } 2>/dev/null && return 0
  FX=
  { read -r FX < "$D/exit"; } 2>/dev/null && return 0
  FX=
  return 1
}
`;

/**
 * The streaming tail shared by the first run and a reattach. Needs D (run dir), W (a process that
 * lives exactly as long as the run), N (nonce), OFF (bytes already delivered). When W is gone,
 * `tail --pid` does a final read and stops, so every byte written before the agent exited is
 * delivered; then the nonce'd end marker with the exit code from the run's record (or `none`).
 */
const STREAM = `
tail -c +$((OFF + 1)) -f --pid="$W" -s ${TAIL_S} "$D/out" 2>/dev/null
wait "$W" 2>/dev/null
fleet_exit
C=$FX
case $C in ''|*[!0-9]*) C=none;; esac
printf 'FLEET_EXIT:%s:%s\\n' "$N" "$C"
`;

/**
 * On a reattach the supervisor is not our child: a watcher polls until the exit code is recorded or
 * the leader is dead (zombies included — PID 1 may take seconds to reap an orphan) and so is the
 * run's waiter, if it has one (a local run's, which appends the exit code after the leader's end).
 */
const WATCH = `
fleet_watch() {
  while ! fleet_exit && { fleet_alive "$P" "$S" || fleet_waiter; }; do sleep ${POLL_S}; done
}
fleet_watch </dev/null >/dev/null 2>&1 &
W=$!
`;

/**
 * The supervisor: the first process of the new session. It runs the agent with the prompt on stdin
 * and output to a file (an SSH drop can't SIGPIPE it), then records the exit code. It is constant
 * text: every variable part arrives as a positional parameter.
 *
 * The run's record is one file, `pid`: line 1 \`pid:bootId:startTime\` when the supervisor starts,
 * line 2 the agent's exit code, appended when it ends. Each line is one shell builtin's single
 * write(2) — no temp file and rename (that was two \`mv\` processes per run), no second file to
 * create (file creation is the dearest metadata operation on slow or network disks). A reader takes
 * a line only when complete (\`read\` fails on an unterminated one), and the exit line is final once
 * the supervisor is gone: none then means no exit code. (Runs of earlier versions wrote the code to
 * a separate \`exit\` file; readers still look there.)
 */
const SUPERVISOR = [
  'd=$1; shift',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template
  'fleet_f() { set -- ${1##*) }; shift 19; s=$1; }',
  '{ read -r b < /proc/sys/kernel/random/boot_id; read -r l < /proc/$$/stat; } 2>/dev/null',
  'fleet_f "$l"',
  // noclobber: a run another attempt has claimed as never started (claimRunScript) must never start.
  'set -C; echo "$$:$b:$s" > "$d/pid" || exit 96; set +C',
  '"$@" < "$d/prompt" > "$d/out" 2>&1; c=$?',
  'echo "$c" >> "$d/pid"',
].join('\n');

/** The agent's command with its environment, as argv (`env K=V … program args…`). */
function agentCommand(opts: Pick<WrapperOptions, 'argv' | 'env'>): string[] {
  if (opts.argv.length === 0) throw new Error('empty argv');
  const env = Object.entries(opts.env ?? {});
  for (const [k, v] of env) {
    assertEnvName(k);
    if (v.includes('\0')) throw new Error(`environment value of ${k} contains a NUL byte`);
  }
  return [...(env.length > 0 ? ['env', ...env.map(([k, v]) => `${k}=${v}`)] : []), ...opts.argv];
}

function wrapperScript(opts: WrapperOptions): string {
  assertNonce(opts.nonce);
  const cmd = agentCommand(opts)
    .map((a) => shQuote(a, 'argument'))
    .join(' ');
  return `${PRELUDE}
D=${shQuote(opts.runDir, 'runDir')}
N=${opts.nonce}
OFF=0
cd ${shQuote(opts.workFolder, 'workFolder')} 2>/dev/null || { echo "FLEET_ERR:workfolder_missing"; exit 97; }
[ -r "$D/prompt" ] || { echo "FLEET_ERR:prompt_missing"; exit 97; }
command -v setsid >/dev/null 2>&1 || { echo "FLEET_ERR:setsid_missing"; exit 97; }
: > "$D/out" || { echo "FLEET_ERR:rundir_unwritable"; exit 97; }
# W waits for the supervisor (its child) and so ends exactly when the run ends: no polling.
( setsid sh -c ${shQuote(SUPERVISOR)} fleet-run "$D" ${cmd} & wait $! ) </dev/null >/dev/null 2>&1 &
W=$!
# The supervisor's first act is to record pid:boot:start; that is what we announce.
# (a complete line only: \`read\` fails on an empty or half-written file).
i=0
PL=
until { read -r PL < "$D/pid"; } 2>/dev/null && case $PL in *:*:*) true;; *) false;; esac; do
  [ "$PL" = abandoned ] && { echo "FLEET_ERR:abandoned"; exit 97; }
  if [ $i -ge 400 ]; then echo "FLEET_ERR:spawn_failed"; exit 97; fi
  sleep 0.005; i=$((i + 1))
done
P=\${PL%%:*}
echo "FLEET_PID:$P"
echo "FLEET_ID:\${PL#*:}"
${STREAM}`;
}

/**
 * The spawn helper: one small \`sh\` per worker process, in its own session, reading requests on stdin. Forking this
 * shell costs a fraction of forking the worker (whose fork time grows with its memory, and blocks
 * its event loop). A background subshell is no process-group leader (no job
 * control here), so \`setsid\` calls setsid(2) and execs in place. The helper reaps what it forked as
 * it forks more; at most the last lingers as a zombie, which every liveness check counts as dead. If
 * the helper dies, running runs are unaffected (stdio on /dev/null and files).
 *
 * \`fleet_start\` starts any command in a new session (\`$!\` is its PID). \`fleet_run\` starts a run
 * with one exec less than the supervisor (SUPERVISOR, which SSH members and the direct fallback run):
 * - the subshell W (the *waiter*) forks C and waits for it; when C ends, W appends its exit code to
 *   the record, but only if line 1 names C (a run claimed as never started keeps \`abandoned\`);
 * - C writes the record from its own \`/proc/self/stat\` (noclobber, as the supervisor does):
 *   \`C:bootId:startTime:W:startTimeOfW\`, then execs \`setsid <agent>\`: the agent is the run's
 *   leader, its session named after the PID the record holds.
 * W is outside the run's session, so between the leader's end and the exit line the record's
 * readers must wait for W (fleet_waiter in PRELUDE, CLASSIFY; parseRunRecord in-process), and a kill
 * takes W before a live leader (or W would record the kill's 137 as the agent's exit code). The
 * answer is W's PID; the leader's is in the record.
 * With a cgroup path (not \`-\`), the process about to become the run first moves itself into it (a
 * write of its own PID, \`0\`, to \`cgroup.procs\`), so everything it forks is a member; a failed
 * write is no error: the cgroup then stays unjoined, which the caller detects (see
 * os/linux-cgroup.ts). In \`fleet_run\` that is C, after its record: a migration waits for an RCU
 * grace period (~10 ms on an idle machine, measured here), which must not hold back the PID.
 */
const SPAWN_HELPER = `command -v setsid >/dev/null 2>&1 || { echo "FLEET_HELPER:setsid_missing"; exit 0; }
fleet_start() {
  i=$1; c=$2; g=$3; shift 3
  if [ ! -d "$c" ]; then echo "FLEET_SPAWNED:$i:workfolder_missing"; return; fi
  ( [ "$g" = - ] || echo 0 > "$g/cgroup.procs"; cd "$c" && exec setsid "$@" ) </dev/null >/dev/null 2>&1 &
  echo "FLEET_SPAWNED:$i:$!"
}
fleet_f() { set -- \${1##*) }; shift 19; s=$1; }
fleet_run() {
  i=$1; c=$2; g=$3; d=$4; shift 4
  if [ ! -d "$c" ]; then echo "FLEET_SPAWNED:$i:workfolder_missing"; return; fi
  (
    cd "$c" || exit 97
    { read -r b < /proc/sys/kernel/random/boot_id; read -r l < /proc/self/stat; } 2>/dev/null
    w=\${l%% *}; fleet_f "$l"; ws=$s
    (
      { read -r l < /proc/self/stat; } 2>/dev/null
      fleet_f "$l"
      set -C; echo "\${l%% *}:$b:$s:$w:$ws" > "$d/pid" || exit 96; set +C
      [ "$g" = - ] || echo 0 > "$g/cgroup.procs"
      exec setsid "$@" < "$d/prompt" > "$d/out" 2>&1
    ) &
    a=$!
    wait $a; x=$?
    l=
    { read -r l < "$d/pid"; } 2>/dev/null
    case $l in "$a:"*) echo "$x" >> "$d/pid";; esac
  ) </dev/null >/dev/null 2>&1 &
  echo "FLEET_SPAWNED:$i:$!"
}
echo "FLEET_HELPER:ready"
`;

/** One helper request line: `<fn> <id> <cwd> <cgroup|-> <args…>`, every field validated and quoted. */
function helperRequest(fn: string, id: number, cwd: string, cgroup: string | undefined, args: readonly string[]): string {
  assertHelperRequest(id, cgroup);
  return `${fn} ${id} ${shQuote(cwd, 'workFolder')} ${shQuote(cgroup ?? '-', 'cgroup')} ${args.join(' ')}\n`;
}

function runRequest(id: number, cwd: string, opts: Pick<WrapperOptions, 'runDir' | 'argv' | 'env'>, cgroup?: string): string {
  const argv = agentCommand(opts).map((a) => shQuote(a, 'argument'));
  return helperRequest('fleet_run', id, cwd, cgroup, [shQuote(opts.runDir, 'runDir'), ...argv]);
}

function spawnRequest(id: number, cwd: string, argv: readonly string[], cgroup?: string): string {
  if (argv.length === 0) throw new Error('empty argv');
  return helperRequest(
    'fleet_start',
    id,
    cwd,
    cgroup,
    argv.map((a) => shQuote(a, 'argument')),
  );
}

function handleVars(h: RunHandle): string {
  if (!Number.isSafeInteger(h.pid) || h.pid <= 1) throw new Error(`invalid pid ${h.pid}`);
  if (!/^\d+$/.test(h.startTime)) throw new Error('invalid start time');
  return `D=${shQuote(h.runDir, 'runDir')}
P=${h.pid}
S=${h.startTime}
B=${shQuote(h.bootId, 'bootId')}`;
}

/**
 * Classifies the recorded leader: alive | gone | rebooted | mismatch (PID reused by another process).
 * A leader gone while the run's waiter (a local run's, see SPAWN_HELPER) has yet to append its exit
 * code is waited for, up to 2 s, so that \`gone\` always comes with the exit code when there is one;
 * a waiter still there after that (stopped, or starved) counts as the run alive.
 */
const CLASSIFY = `
fleet_boot
if [ "$FB" != "$B" ]; then ST=rebooted
elif fleet_stat "$P"; then
  if [ "$FS_START" != "$S" ]; then ST=mismatch
  else case $FS_STATE in Z|X|x) ST=gone;; *) ST=alive;; esac
  fi
else ST=gone
fi
if [ "$ST" = gone ]; then
  i=0
  while ! fleet_exit && fleet_waiter; do
    [ $i -ge 100 ] && { ST=alive; break; }
    sleep 0.02; i=$((i + 1))
  done
fi
`;

function reattachScript(opts: ReattachOptions): string {
  assertNonce(opts.nonce);
  if (!Number.isSafeInteger(opts.offset) || opts.offset < 0) throw new Error('invalid offset');
  return `${PRELUDE}
${handleVars(opts.handle)}
N=${opts.nonce}
OFF=${opts.offset}
${CLASSIFY}
echo "FLEET_ATTACH:$ST"
[ -e "$D/out" ] || : > "$D/out" 2>/dev/null
[ "$ST" = alive ] || S=gone
${WATCH}
${STREAM}`;
}

function probeScript(h: RunHandle): string {
  return `${PRELUDE}
${handleVars(h)}
${CLASSIFY}
fleet_exit
C=$FX
case $C in *[!0-9]*) C=;; esac
Z=0
[ -e "$D/out" ] && Z=$(wc -c < "$D/out" | tr -d ' ')
echo "FLEET_PROBE:$ST:$C:$Z"
`;
}

/**
 * Kill exactly the run's process tree: the session and process group named after the leader (a
 * process that moved to another group with setpgid stays in the session), plus every descendant of
 * those (one that called setsid is still caught through its parent while that lives). Nothing is
 * touched unless boot id and the leader's start time match; if the leader is gone, only session or
 * group members that started no earlier than it count (the kernel does not reuse a PID while it
 * names a live session or group). Repeat until nothing is left alive, bounded.
 */
function killScript(h: RunHandle, opts: KillOptions): string {
  const rounds = Math.max(1, Math.ceil(opts.timeoutMs / 20));
  return `${PRELUDE}
${handleVars(h)}
${CLASSIFY}
case $ST in
  rebooted) echo "FLEET_KILL:already_gone:0"; exit 0;;
  mismatch) echo "FLEET_KILL:identity_mismatch:0"; exit 0;;
esac
# A live leader's waiter goes first: killed after the leader, it would record the kill's 137 as the
# agent's exit code (CLASSIFY has waited for one whose leader had already ended).
fleet_waiter && ! fleet_exit && kill -KILL "$WP" 2>/dev/null
fleet_targets() {
  T=" "; TAB=
  for f in /proc/[0-9]*/stat; do
    fleet_l=
    { read -r fleet_l < "$f"; } 2>/dev/null || continue
    q=\${f#/proc/}; q=\${q%/stat}
    [ "$q" = "$$" ] && continue
    set -- \${fleet_l##*) }
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
      q=\${e%%:*}; pp=\${e#*:}
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
  kill -KILL $T 2>/dev/null
  i=$((i + 1))
  if [ $i -ge ${rounds} ]; then set -- $T; echo "FLEET_KILL:timeout:$#"; exit 0; fi
  sleep 0.02
done
if [ -n "$first" ]; then set -- $first; echo "FLEET_KILL:killed:$#"; else echo "FLEET_KILL:already_gone:0"; fi
`;
}

function triageScript(handles: readonly RunHandle[]): string {
  const lines = handles.map((h, i) => {
    if (!Number.isSafeInteger(h.pid) || h.pid <= 1 || !/^\d+$/.test(h.startTime)) throw new Error('invalid handle');
    return `${i} ${h.pid} ${h.startTime} ${shQuote(h.bootId, 'bootId')}`;
  });
  return `${PRELUDE}
fleet_boot
IDS=" "
for f in /proc/[0-9]*/stat; do
  fleet_l=
  { read -r fleet_l < "$f"; } 2>/dev/null || continue
  set -- \${fleet_l##*) }
  case $1 in Z|X|x) continue;; esac
  IDS="$IDS$3 $4 "
done
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
${lines.map((l) => `fleet_triage ${l}`).join('\n')}
`;
}

/**
 * Settles whether a run whose PID never reached Redis started: either its supervisor's record is
 * there (FLEET_CLAIM:record + the line), or we claim the record's place with \`abandoned\` (noclobber,
 * the same atomic create the supervisor uses), after which that run can never start — a start still
 * in flight (a spawn sent just before its worker died or its link was cut) then stops at its first
 * step. An empty record (created, its line not yet written: the supervisor is between two syscalls)
 * is waited for briefly; still empty: FLEET_CLAIM:pending (undecided, nothing may be spawned yet).
 * The run directory is created if its work folder exists (a late "prepare" must not undo the claim);
 * without the work folder nothing can start there.
 */
function claimRunScript(runDir: string): string {
  return `D=${shQuote(runDir, 'runDir')}
W=\${D%/.fleet/runs/*}
if [ ! -d "$W" ]; then echo "FLEET_CLAIM:claimed"; exit 0; fi
umask 077
mkdir -p -- "$D" 2>/dev/null
if ( set -C; echo abandoned > "$D/pid" ) 2>/dev/null; then echo "FLEET_CLAIM:claimed"; exit 0; fi
i=0
while [ $i -lt 40 ]; do
  L=
  if { read -r L < "$D/pid"; } 2>/dev/null; then
    if [ "$L" = abandoned ]; then echo "FLEET_CLAIM:claimed"; else echo "FLEET_CLAIM:record"; printf '%s\\n' "$L"; fi
    exit 0
  fi
  sleep 0.05; i=$((i + 1))
done
echo "FLEET_CLAIM:pending"
`;
}

/** Scripts kept as files (syntax-checked by the tests), loaded once; they take every variable part as a positional parameter. */
const PRUNE_RUN_DIRS = readFileSync(new URL('./linux/sh/prune-run-dirs.sh', import.meta.url), 'utf8');

function pruneRunDirsScript(workFolder: string, retentionS: number, keep: readonly string[]): string {
  if (!Number.isSafeInteger(retentionS) || retentionS < 0) throw new Error('invalid retention');
  const root = `${workFolder.replace(/\/+$/, '')}/.fleet/runs`;
  const args = [root, String(retentionS), ...keep].map((a) => shQuote(a, 'runDir'));
  return `set -- ${args.join(' ')}\n${PRUNE_RUN_DIRS}`;
}

export const unix: OsCommands = {
  name: 'linux',
  shellCommand: 'sh -s',
  shellArgv: ['sh', '-s'],
  runDir(workFolder, runId) {
    assertRunId(runId);
    return `${workFolder.replace(/\/+$/, '')}/.fleet/runs/${runId}`;
  },
  joinPath: (dir, name) => `${dir}/${name}`,
  prepareRunDirScript: (workFolder, runDir) =>
    `[ -d ${shQuote(workFolder, 'workFolder')} ] || { echo FLEET_ERR:workfolder_missing; exit 0; }
umask 077
mkdir -p -- ${shQuote(runDir, 'runDir')} && chmod 700 -- ${shQuote(runDir)} || exit 0
if [ -e ${shQuote(`${runDir}/pid`)} ]; then echo FLEET_ERR:rundir_used; else echo FLEET_OK; fi
`,
  wrapperScript,
  supervisorArgv: (opts) => ['sh', '-c', SUPERVISOR, 'fleet-run', opts.runDir, ...agentCommand(opts)],
  spawnHelperScript: SPAWN_HELPER,
  spawnRequest,
  runRequest,
  reattachScript,
  probeScript,
  killScript,
  triageScript,
  readFileScript: (path) => `cat -- ${shQuote(path, 'path')} 2>/dev/null\n`,
  readFileTailScript: (path, bytes) => `tail -c ${Math.max(1, Math.floor(bytes))} -- ${shQuote(path, 'path')} 2>/dev/null\n`,
  pruneRunDirsScript,
  claimRunScript,
  controlFrame(script, endTag) {
    // The script travels as a here-document whose delimiter carries the nonce'd tag: nothing in the
    // script can end it early, nothing of it shows in ps, and there is no argument-size limit.
    return `sh -s <<'${endTag}_EOF' 2>&1\n${script}\n${endTag}_EOF\nprintf '\\n%s:%s\\n' '${endTag}' "$?"\n`;
  },
};
