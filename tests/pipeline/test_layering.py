"""The two orchestration apps never import each other; pipeline imports only matches and predictions."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _imported_apps(app: str) -> set[str]:
    found = set()
    for path in (ROOT / app).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
    return found


@pytest.mark.parametrize(("app", "forbidden"), [("pipeline", "backfill"), ("backfill", "pipeline"),
                                                ("predictions", "pipeline"), ("matches", "pipeline")])
def test_no_import_against_the_layering(app, forbidden):
    assert forbidden not in _imported_apps(app)
