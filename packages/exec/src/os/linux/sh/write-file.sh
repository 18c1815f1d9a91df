# Writes a file where the server has no SFTP: $1 the path, $2 its mode (octal), $3 a unique suffix
# for the temporary file, $4 the content in base64. The content goes to a new file next to the
# target (never over an existing one) and is renamed over it, so a reader sees all of it or none.
tmp="$1.tmp-$3"
umask 077
set -C
if command -v base64 >/dev/null 2>&1; then
  printf '%s' "$4" | base64 -d >"$tmp"
else
  printf '%s' "$4" | openssl base64 -d -A >"$tmp"
fi || { rm -f -- "$tmp"; echo "fleet: cannot write $1" >&2; exit 1; }
if ! { chmod "$2" "$tmp" && mv -f -- "$tmp" "$1"; }; then
  rm -f -- "$tmp"
  exit 1
fi
