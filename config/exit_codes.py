"""The exit codes every command of the project uses (0 done ... 4 a service unavailable)."""

OK = 0
FAILURES = 1
USAGE = 2
TIMEOUT = 3
UNAVAILABLE = 4
