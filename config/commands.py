"""Exit codes and error translation shared by every management command of the project.

0 done, 1 finished with failures, 2 bad usage, 3 timed out while waiting,
4 a service (database, Redis, API) unavailable. Each error is one line that
says what to do; never a traceback.
"""

import re
import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import InterfaceError, OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from config.exit_codes import DONE, FAILURES, TIMED_OUT, UNAVAILABLE, USAGE

__all__ = ["DONE", "FAILURES", "TIMED_OUT", "UNAVAILABLE", "USAGE", "ProjectCommand", "unavailable", "usage_error"]

DATABASE_ERRORS = (OperationalError, InterfaceError)
REDIS_ERRORS = (RedisConnectionError, RedisTimeoutError)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {text[0]}" if text else exc.__class__.__name__


def usage_error(message: str) -> CommandError:
    """Bad arguments or input: exit 2, nothing was changed."""
    return CommandError(message, returncode=USAGE)


def unavailable(message: str) -> CommandError:
    """A service (database, Redis, API) is unavailable: exit 4."""
    return CommandError(message, returncode=UNAVAILABLE)


def service_unavailable(exc: BaseException) -> CommandError:
    """The one-line, exit-4 error for a database or Redis that cannot be reached."""
    if isinstance(exc, DATABASE_ERRORS):
        return CommandError(
            f"the database is unavailable ({_first_line(exc)}); start PostgreSQL or fix DATABASE_URL, then rerun",
            returncode=UNAVAILABLE,
        )
    return CommandError(
        f"Redis at REDIS_URL is unreachable ({_first_line(exc)}); start it or unset REDIS_URL to run in-process",
        returncode=UNAVAILABLE,
    )


class UsageErrorParser(CommandParser):
    """Usage errors exit 2 with one line, from the shell as from ``call_command``."""

    def error(self, message: str):
        # argparse prefixes "argument --days: "; our validators' messages already name the option.
        message = re.sub(r"^argument [^:]+: (?=--)", "", message)
        if self.called_from_command_line:
            sys.stderr.write(f"{self.prog}: error: {message}\n")
            sys.exit(USAGE)
        raise CommandError(message, returncode=USAGE)


class ProjectCommand(BaseCommand):
    """A command with the project's exit codes: usage errors exit 2, unreachable services exit 4."""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.__class__ = UsageErrorParser
        return parser

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except (*DATABASE_ERRORS, *REDIS_ERRORS) as exc:
            raise service_unavailable(exc) from None
