# Prints the last $Bytes bytes of a file ($Path), nothing if it is not there.
if (Test-Path -LiteralPath $Path) { $fs = [IO.File]::Open($Path, 'Open', 'Read', 'ReadWrite'); [void]$fs.Seek([Math]::Max(0, $fs.Length - $Bytes), 'Begin'); $r = New-Object IO.StreamReader($fs); [Console]::Out.Write($r.ReadToEnd()); $fs.Close() }
