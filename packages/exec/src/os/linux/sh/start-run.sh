# A run's start, one control command: $1 run dir, $2 work folder, $3 the supervisor's text, $4… the
# agent's command. Starts the supervisor in a new session and prints FLEET_PID (and FLEET_ID, the
# rest of the record's line 1) as soon as the record is written. Its output is then followed like
# any run's, with reattach.sh from byte 0.
D=$1
cd "$2" 2>/dev/null || { echo "FLEET_ERR:workfolder_missing"; exit 97; }
SUP=$3
shift 3
[ -r "$D/prompt" ] || { echo "FLEET_ERR:prompt_missing"; exit 97; }
command -v setsid >/dev/null 2>&1 || { echo "FLEET_ERR:setsid_missing"; exit 97; }
: > "$D/out" || { echo "FLEET_ERR:rundir_unwritable"; exit 97; }
# The supervisor prints its record's line 1 and then lets go of its stdout: the command substitution
# ends there (the supervisor runs on in the background), without a poll.
PL=$(setsid sh -c "$SUP" fleet-run "$D" "$@" </dev/null 2>/dev/null &)
# No line: the supervisor never started, or ended first. The record decides; with none, the run is
# claimed (as claim-run.sh does), so a spawn that lands later can never start: the answer is final.
case $PL in *:*:*) ;; *)
  { read -r PL < "$D/pid"; } 2>/dev/null || PL=
  case $PL in *:*:*) ;; *)
    [ "$PL" = abandoned ] && { echo "FLEET_ERR:abandoned"; exit 97; }
    ( set -C; echo abandoned > "$D/pid" ) 2>/dev/null && { echo "FLEET_ERR:spawn_failed"; exit 97; }
    { read -r PL < "$D/pid"; } 2>/dev/null || PL=
    case $PL in *:*:*) ;; *) echo "FLEET_ERR:spawn_failed"; exit 97;; esac;;
  esac;;
esac
echo "FLEET_PID:${PL%%:*}"
echo "FLEET_ID:${PL#*:}"
