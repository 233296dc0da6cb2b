"""API-Football v3: the HTTP client, its typed errors, and parsing of fixture objects."""

from matches.api_football.client import ApiFootballClient, QuotaState
from matches.api_football.errors import (
    ApiConnectionError,
    ApiFootballError,
    ApiTimeout,
    AuthError,
    BadRequest,
    BudgetUnavailable,
    DailyQuotaExhausted,
    MalformedResponse,
    MissingApiKey,
    PlanError,
    ProviderBug,
    RateLimited,
    ResponseTooLarge,
    ServerError,
    SourceDown,
)
from matches.api_football.parsing import STATUS_MAP, ParsedFixture, ParsedLeague, ParsedTeam, map_status, parse_fixture

__all__ = [
    "STATUS_MAP",
    "ApiConnectionError",
    "ApiFootballClient",
    "ApiFootballError",
    "ApiTimeout",
    "AuthError",
    "BadRequest",
    "BudgetUnavailable",
    "DailyQuotaExhausted",
    "MalformedResponse",
    "MissingApiKey",
    "ParsedFixture",
    "ParsedLeague",
    "ParsedTeam",
    "PlanError",
    "ProviderBug",
    "QuotaState",
    "RateLimited",
    "ResponseTooLarge",
    "ServerError",
    "SourceDown",
    "map_status",
    "parse_fixture",
]
