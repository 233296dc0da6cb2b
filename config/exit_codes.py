"""The exit codes every command of the project uses; the README documents them."""

DONE = 0  # done
FAILURES = 1  # finished, with failures
USAGE = 2  # bad usage: nothing was changed
TIMED_OUT = 3  # timed out while waiting
UNAVAILABLE = 4  # a service (database, Redis, API) is unavailable
