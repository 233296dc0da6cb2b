"""The base of the project's commands: the exit codes of ``config.exit_codes``, one line, never a traceback.

A database or Redis that does not answer becomes exit 4 with what to do, wherever in ``handle`` it shows.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import InterfaceError, OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from config import exit_codes


def usage_error(message: str) -> CommandError:
    """Bad arguments or input: exit 2, nothing was changed."""
    return CommandError(message, returncode=exit_codes.USAGE)


def unavailable(message: str) -> CommandError:
    """A service (database, Redis, API) is unavailable: exit 4."""
    return CommandError(message, returncode=exit_codes.UNAVAILABLE)


class ProjectCommand(BaseCommand):
    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except (OperationalError, InterfaceError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise unavailable(
                f"the database is unavailable ({first}); check DATABASE_URL and that PostgreSQL is running "
                "(scripts/services starts it), then rerun"
            ) from None
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise unavailable(
                f"Redis is unavailable ({exc}); check REDIS_URL and that Redis is running "
                "(scripts/services starts it), then rerun"
            ) from None
