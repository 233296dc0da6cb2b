"""The backfill's services, one module per job.

- ``plan``: what is missing and what it costs (changes nothing);
- ``runs``: start, cancel and retry runs (enqueue, or run in-process);
- ``progress``: the item state machine the callbacks and the in-process runner drive;
- ``reconcile``: catch up with Redis where no callback ran;
- ``waiting``: block until a run ends;
- ``report``: the run's summary.

Entry points (the command, the admin, the schedule) call these; ``backfill.service``
re-exports the public names.
"""
