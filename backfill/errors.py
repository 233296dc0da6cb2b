class BackfillError(ValueError):
    """Bad input to the backfill, or a service it needs is unreachable; the message says what to do."""


class ServiceUnavailable(BackfillError):
    """Redis (or another service the backfill needs) cannot be reached; nothing was recorded for it."""


class EnqueueFailed(BackfillError):
    """The run was recorded but some of its chains could not be enqueued; those items are failed."""
