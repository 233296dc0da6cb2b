"""The fixture sync and the re-settlement of what it changed, in one transaction.

``matches`` may not import ``predictions``, so the sync only reports which
settled matches changed; this service, one layer up, composes the two the way
HackSoft's styleguide composes ``user_create`` and ``profile_create``. Both
``sync_fixtures`` (the command) and the live pipeline call it.
"""

import logging
from datetime import date

from django.db import transaction

from matches.api_football import ApiFootballClient
from matches.services.fixture_sync import SyncResult, fetch_fixtures, record_fetch, upsert_fixtures
from predictions.services.settlement import SettlementRefused, settle_match

logger = logging.getLogger(__name__)


def resettle_changed(*, result: SyncResult) -> SyncResult:
    """Re-settle the matches the sync reported changed; fills ``resettled`` and ``problems``.

    Call it inside the transaction that wrote the sync: a failure then rolls back
    the new result with the points, so the two never disagree.
    """
    for match_id in result.result_changed:
        try:
            settle_match(match_id)
        except SettlementRefused as exc:
            result.problems.append(f"match {match_id} not re-settled: {exc}")
            continue
        result.resettled.append(match_id)
        logger.info("re-settled a match whose result changed", extra={"match_id": match_id})
    return result


def sync_and_settle(
    *,
    league: int,
    season: int,
    date_from: date | None = None,
    date_to: date | None = None,
    client: ApiFootballClient | None = None,
) -> SyncResult:
    """Fetch one league season (one API request, outside any transaction), then upsert and re-settle atomically."""
    fetched = fetch_fixtures(league=league, season=season, date_from=date_from, date_to=date_to, client=client)
    with transaction.atomic():
        result = upsert_fixtures(fetched.parsed)
        resettle_changed(result=result)
    return record_fetch(result, fetched, league=league, season=season)
