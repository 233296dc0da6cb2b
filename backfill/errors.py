class BackfillError(ValueError):
    """Bad input to the backfill, or a service it needs is unreachable; the message says what to do."""
