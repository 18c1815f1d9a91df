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
setsid sh -c "$SUP" fleet-run "$D" "$@" </dev/null >/dev/null 2>&1 &
# A complete line only: `read` fails on an empty or half-written file. Giving up claims the record
# (as claim-run.sh does), so a spawn that lands later can never start: the answer is final.
i=0
PL=
until { read -r PL < "$D/pid"; } 2>/dev/null && case $PL in *:*:*) true;; *) false;; esac; do
  [ "$PL" = abandoned ] && { echo "FLEET_ERR:abandoned"; exit 97; }
  if [ $i -ge 400 ] && ( set -C; echo abandoned > "$D/pid" ) 2>/dev/null; then echo "FLEET_ERR:spawn_failed"; exit 97; fi
  sleep 0.005; i=$((i + 1))
done
echo "FLEET_PID:${PL%%:*}"
echo "FLEET_ID:${PL#*:}"
