"""The layering rule of docs/architecture.md, checked by walking every import with ``ast``.

matches <- predictions <- orchestration (backfill, pipeline) <- entry points. Imports point only
to the left; the orchestration apps never import each other. Entry points (management commands,
``config/``: settings, urls, middleware, cron, worker) may import everything. An app's ``admin.py``
follows its app's layer: higher apps' admins build on lower apps' (backfill's Match admin subclasses
matches'), so a lower admin must not know a higher app.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RANK = {"matches": 0, "predictions": 1, "backfill": 2, "pipeline": 2}
ORCHESTRATION = {"backfill", "pipeline"}
# (file, module) pairs allowed to break the rule; none today, and a new one needs a reason beside it.
EXEMPT: set[tuple[str, str]] = set()


def imported_modules(source: str, package: str) -> set[str]:
    """Every module a file imports, at any depth (lazy imports inside functions count too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            # A relative import stays inside its own package.
            names.add(package if node.level else node.module or "")
    return names


def is_entry_point(relative: Path) -> bool:
    return relative.parts[0] == "config" or "management" in relative.parts or relative.name == "manage.py"


def violations(root: Path) -> list[str]:
    """One line per import that runs back up a layer or across the orchestration apps."""
    found = []
    for app in RANK:
        for path in sorted((root / app).rglob("*.py")) if (root / app).is_dir() else []:
            relative = path.relative_to(root)
            if is_entry_point(relative) or "migrations" in relative.parts:
                continue
            for module in sorted(imported_modules(path.read_text(), app)):
                target = module.split(".")[0]
                if target not in RANK or target == app or (relative.as_posix(), module) in EXEMPT:
                    continue
                if RANK[target] > RANK[app]:
                    found.append(f"{relative} imports {module}: {target} is to the right of {app}")
                elif target in ORCHESTRATION and app in ORCHESTRATION:
                    found.append(f"{relative} imports {module}: orchestration apps never import each other")
    return found


def test_no_import_runs_back_up_a_layer():
    assert violations(ROOT) == []


@pytest.mark.parametrize(
    ("path", "source", "expected"),
    [
        ("matches/services/x.py", "from predictions.services import settle_match\n", "to the right of matches"),
        ("predictions/x.py", "def f():\n    import backfill.service\n", "to the right of predictions"),
        ("matches/admin.py", "from backfill.models import BackfillRun\n", "to the right of matches"),
        ("backfill/x.py", "from pipeline import service\n", "never import each other"),
        ("pipeline/service.py", "from backfill.queueing import get_queue\n", "never import each other"),
    ],
)
def test_the_check_catches_an_import_that_runs_back_up(tmp_path, path, source, expected):
    (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / path).write_text(source)

    found = violations(tmp_path)

    assert len(found) == 1 and expected in found[0]


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("backfill/management/commands/x.py", "from pipeline.service import tick\n"),
        ("matches/management/commands/x.py", "from predictions.services import sync_and_settle\n"),
        ("pipeline/service.py", "from matches.models import Match\nfrom predictions.services import settle_match\n"),
        ("predictions/x.py", "from . import models\nfrom matches.models import Match\n"),
    ],
)
def test_entry_points_and_imports_to_the_left_are_allowed(tmp_path, path, source):
    (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / path).write_text(source)

    assert violations(tmp_path) == []
