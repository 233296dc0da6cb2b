"""Services of the matches app: fixture sync, pre-kickoff analysis, the openfootball import."""

from matches.services.analysis import AnalysisRefused, build_analysis, ensure_analysis
from matches.services.fixture_sync import sync_fixtures as sync_fixtures
from matches.services.leak_guard import LeakError

__all__ = [
    "AnalysisRefused",
    "LeakError",
    "build_analysis",
    "ensure_analysis",
]
