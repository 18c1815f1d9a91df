# Prints a file ($1), nothing if it is not there.
cat -- "$1" 2>/dev/null
