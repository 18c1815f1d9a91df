# A run's start over a shell: $1 run dir, $2 nonce, $3 work folder, $4 the supervisor's text,
# $5… the agent's command. Starts the supervisor in a new session, announces FLEET_PID (and
# FLEET_ID, the rest of the record's line 1) as soon as the record is written, then streams.
# shellcheck disable=SC2034 # read by the functions of lib.sh
D=$1; N=$2; OFF=0
cd "$3" 2>/dev/null || { echo "FLEET_ERR:workfolder_missing"; exit 97; }
SUP=$4
shift 4
[ -r "$D/prompt" ] || { echo "FLEET_ERR:prompt_missing"; exit 97; }
command -v setsid >/dev/null 2>&1 || { echo "FLEET_ERR:setsid_missing"; exit 97; }
: > "$D/out" || { echo "FLEET_ERR:rundir_unwritable"; exit 97; }
# W waits for the supervisor (its child) and so ends exactly when the run ends: no polling.
( setsid sh -c "$SUP" fleet-run "$D" "$@" & wait $! ) </dev/null >/dev/null 2>&1 &
# shellcheck disable=SC2034 # read by the functions of lib.sh
W=$!
# A complete line only: `read` fails on an empty or half-written file.
i=0
PL=
until { read -r PL < "$D/pid"; } 2>/dev/null && case $PL in *:*:*) true;; *) false;; esac; do
  [ "$PL" = abandoned ] && { echo "FLEET_ERR:abandoned"; exit 97; }
  if [ $i -ge 400 ]; then echo "FLEET_ERR:spawn_failed"; exit 97; fi
  sleep 0.005; i=$((i + 1))
done
echo "FLEET_PID:${PL%%:*}"
echo "FLEET_ID:${PL#*:}"
fleet_stream
