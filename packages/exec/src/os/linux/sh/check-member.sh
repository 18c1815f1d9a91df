# Reports what a member needs to run an agent, one `key=value` line each: $1 the work folder, $2 a
# probe file just written there (removed here; '-' if none was written), $3 the number N of
# credential specs that follow (`file:<path under $HOME>` or `env:<NAME>`), then the agent's command
# (`env K=V … program`), which is asked for its version.
work=$1 probe=$2 n=$3
shift 3
printf 'uid=%s\nuser=%s\n' "$(id -u)" "$(id -un 2>/dev/null)"
if [ ! -d "$work" ]; then echo work=missing
elif [ ! -w "$work" ]; then echo work=readonly
else echo work=ok
fi
if [ "$probe" != - ]; then
  if [ -f "$probe" ]; then echo probe=ok; else echo probe=missing; fi
  rm -f -- "$probe"
fi
while [ "$n" -gt 0 ]; do
  case $1 in
    file:*) [ -e "$HOME/${1#file:}" ] && printf 'cred=%s\n' "$1" ;;
    env:*) eval "[ -n \"\${${1#env:}:-}\" ]" && printf 'cred=%s\n' "$1" ;;
  esac
  shift
  n=$((n - 1))
done
# The program is the last word of the agent's command (after `env K=V …`).
for bin; do :; done
if path=$(command -v -- "$bin" 2>/dev/null); then
  printf 'bin=%s\n' "$path"
  v=$(cd "$work" 2>/dev/null || cd /; timeout 20 "$@" --version </dev/null 2>&1 | head -n 1)
  printf 'version=%s\n' "$v"
else
  echo bin=
fi
