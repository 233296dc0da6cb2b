"""Typed failures of API-Football.

Callers decide by type, never by parsing messages: ``retryable`` tells the
client which failures are transient (worth another attempt after a pause).
Messages never contain the API key; the client redacts them before raising.
"""

from __future__ import annotations

from typing import Any


class ApiFootballError(Exception):
    """Base of every API-Football failure."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        endpoint: str = "",
        status_code: int | None = None,
        errors: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.endpoint = endpoint
        self.status_code = status_code
        # The provider's ``errors`` value as received (dict or list), for reports.
        self.errors = errors
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, endpoint={self.endpoint!r}, status_code={self.status_code})"


class AuthError(ApiFootballError):
    """Missing, wrong or unusable key (``errors.token``, expired subscription, HTTP 401/403)."""


class MissingApiKey(AuthError):
    """No key configured: nothing was sent."""


class DailyQuotaExhausted(ApiFootballError):
    """The day's quota is gone (``errors.requests`` or a remaining count of 0); resets 00:00 UTC."""


class RateLimited(ApiFootballError):
    """Per-minute limit hit (``errors.rateLimit`` or HTTP 429); clears within a minute."""

    retryable = True


class PlanError(ApiFootballError):
    """The plan does not cover this season, date or parameter (``errors.plan``)."""


class BadRequest(ApiFootballError):
    """A parameter is missing or invalid (``errors`` keyed by a field name), or an unknown 4xx."""


class ProviderBug(ApiFootballError):
    """HTTP 204 with a bug report: the provider says the fault is on its side."""


class ServerError(ApiFootballError):
    """HTTP 499 or 5xx, usually with ``{"message": ...}`` instead of the envelope."""

    retryable = True


class SourceDown(ServerError):
    """API-Football is marked down after consecutive 5xx or timeouts (``outage``): not sent, or not retried.

    A ``ServerError``, so whoever treats those as "unavailable" treats this the same; not retryable by
    the client: the caller (a job) comes back after ``retry_after`` seconds instead of holding on.
    """

    retryable = False


class ApiTimeout(ApiFootballError):
    """No answer within the timeout."""

    retryable = True


class ApiConnectionError(ApiFootballError):
    """The connection failed or broke (refused, reset): as transient as a timeout."""

    retryable = True


class MalformedResponse(ApiFootballError):
    """A body that is not JSON or not the envelope, or a field we cannot read."""


class ResponseTooLarge(ApiFootballError):
    """The body is larger than ``API_FOOTBALL_MAX_BYTES``; reading stopped at the cap (not retried)."""


class BudgetUnavailable(ApiFootballError):
    """The shared per-minute budget (in Redis) cannot be read: nothing was sent, so the budget still holds."""


__all__ = [
    "ApiConnectionError",
    "ApiFootballError",
    "ApiTimeout",
    "AuthError",
    "BadRequest",
    "BudgetUnavailable",
    "DailyQuotaExhausted",
    "MalformedResponse",
    "MissingApiKey",
    "PlanError",
    "ProviderBug",
    "RateLimited",
    "ResponseTooLarge",
    "ServerError",
    "SourceDown",
]
