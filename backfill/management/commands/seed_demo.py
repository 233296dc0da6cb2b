"""python manage.py seed_demo: the demo world (replaces any earlier demo data)."""


from backfill.demo import DEMO_LEAGUE, DemoRefused, seed_demo, seeded_matches
from config.commands import ProjectCommand, usage_error
from matches.openfootball import LEAGUES


class Command(ProjectCommand):
    help = "Load real openfootball results replayed near today, the local models, and realistic damage."

    def add_arguments(self, parser):
        parser.add_argument("--league", default=DEMO_LEAGUE, help=f"one of {', '.join(sorted(LEAGUES))}")
        parser.add_argument("--force", action="store_true", help="seed even if the database holds other matches")
        parser.add_argument(
            "--reuse", action="store_true", help="keep an earlier demo if there is one (scripts/demo does this)"
        )

    def handle(self, *args, **options):
        if options["league"] not in LEAGUES:
            raise usage_error(f"--league must be one of {', '.join(sorted(LEAGUES))}, got {options['league']!r}")
        if options["reuse"] and (seeded := seeded_matches(options["league"])):
            self.stdout.write(
                f"Demo data already seeded ({seeded} {options['league']} matches): reusing it, nothing was changed "
                "(seed_demo without --reuse, or scripts/demo --fresh, seeds it again)."
            )
            return
        try:
            result = seed_demo(league=options["league"], force=options["force"])
        except DemoRefused as exc:
            raise usage_error(str(exc)) from None
        w = self.stdout.write
        w(f"Demo loaded: {result.matches} real {result.league} matches (seasons 2022-23 to 2024-25).")
        w(f"This is a REPLAY: every kickoff is shifted by {result.shift_days} days so the latest real matchweek "
          f"falls within the last 7 days; scores and fixtures are real.")
        w(f"Active lineup ({len(result.active_models)}): {', '.join(result.active_models)}")
        w(f"Matches in the last 7 days: {result.window_matches}. Damage planted:")
        for kind, ids in result.damage.items():
            w(f"  {kind.replace('_', ' ')}: {len(ids)} ({', '.join(map(str, ids))})")
