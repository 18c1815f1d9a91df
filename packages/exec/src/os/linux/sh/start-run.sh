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
# No line: the supervisor is gone, having written its record or not. The record decides; with none,
# the run is claimed (as claim-run.sh does), so nothing can start there later: the answer is final.
case $PL in *:*:*) ;; *)
  { read -r PL < "$D/pid"; } 2>/dev/null || PL=
  case $PL in
    *:*:*) ;;
    abandoned) echo "FLEET_ERR:abandoned"; exit 97;;
    *) ( set -C; echo abandoned > "$D/pid" ) 2>/dev/null || { echo "FLEET_ERR:abandoned"; exit 97; }
       echo "FLEET_ERR:spawn_failed"; exit 97;;
  esac;;
esac
echo "FLEET_PID:${PL%%:*}"
echo "FLEET_ID:${PL#*:}"
