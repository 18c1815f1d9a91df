# Creates a run's directory (0700) and its prompt file (0600): $1 the work folder, $2 the run dir,
# $3 the prompt in base64. A run directory is started once: one that holds a record (an earlier
# start, or a claim) is refused. The prompt goes to a temporary file renamed over `prompt`, so a
# step sent again after a dropped link writes it whole.
# Prints FLEET_OK, FLEET_ERR:workfolder_missing or FLEET_ERR:rundir_used (nothing if a write failed).
[ -d "$1" ] || { echo FLEET_ERR:workfolder_missing; exit 0; }
# The umask makes what this creates private; a run dir that is there already is made so.
umask 077
if [ -d "$2" ]; then chmod 700 -- "$2"; else mkdir -p -- "$2"; fi || exit 0
if [ -e "$2/pid" ]; then echo FLEET_ERR:rundir_used; exit 0; fi
if command -v base64 >/dev/null 2>&1; then
  printf '%s' "$3" | base64 -d >"$2/prompt.tmp"
else
  printf '%s' "$3" | openssl base64 -d -A >"$2/prompt.tmp"
fi || { echo "fleet: cannot write $2/prompt" >&2; exit 0; }
mv -f -- "$2/prompt.tmp" "$2/prompt" || exit 0
echo FLEET_OK
