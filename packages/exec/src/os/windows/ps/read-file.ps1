# Prints a file ($Path), nothing if it is not there.
if (Test-Path -LiteralPath $Path) { [Console]::Out.Write([IO.File]::ReadAllText($Path)) }
