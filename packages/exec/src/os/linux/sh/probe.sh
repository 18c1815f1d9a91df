# A run's state: $1 run dir, $2 pid, $3 start time, $4 boot id.
# Prints FLEET_PROBE:<state>:<exit code or empty>:<output bytes>.
# shellcheck disable=SC2034 # read by the functions of lib.sh
D=$1; P=$2; S=$3; B=$4
fleet_classify
fleet_exit
C=$FX
case $C in *[!0-9]*) C=;; esac
Z=0
[ -e "$D/out" ] && Z=$(wc -c < "$D/out" | tr -d ' ')
echo "FLEET_PROBE:$ST:$C:$Z"
