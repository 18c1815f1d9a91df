# Prints the last $2 bytes of a file ($1), nothing if it is not there.
tail -c "$2" -- "$1" 2>/dev/null
