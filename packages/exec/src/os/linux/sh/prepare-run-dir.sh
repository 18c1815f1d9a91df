# Creates a run's directory (0700): $1 the work folder, $2 the run dir. A run directory is started
# once: one that holds a record (an earlier start, or a claim) is refused.
# Prints FLEET_OK, FLEET_ERR:workfolder_missing or FLEET_ERR:rundir_used (nothing if mkdir failed).
[ -d "$1" ] || { echo FLEET_ERR:workfolder_missing; exit 0; }
umask 077
{ mkdir -p -- "$2" && chmod 700 -- "$2"; } || exit 0
if [ -e "$2/pid" ]; then echo FLEET_ERR:rundir_used; else echo FLEET_OK; fi
