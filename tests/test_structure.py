"""The code's shape: the pipeline package reads as its phases and never reaches into the
local stack; the dashboard's pages import their helpers as a package."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

PIPELINE = REPO / "include" / "wagglebot"
PHASES = {"core", "crawl", "review", "produce", "publish", "analytics", "ops", "orchestration"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_pipeline_package_is_its_phases() -> None:
    top = {p.name for p in PIPELINE.iterdir() if p.name != "__pycache__"}
    assert top == {*PHASES, "__init__.py"}


def test_the_pipeline_never_imports_the_local_stack() -> None:
    reaching = {
        str(path.relative_to(REPO)): sorted(
            m for m in _imports(path) if m.startswith("wagglebot_stack")
        )
        for path in PIPELINE.rglob("*.py")
    }
    assert {k: v for k, v in reaching.items() if v} == {}


def test_dashboard_pages_import_their_helpers_as_a_package() -> None:
    for path in (REPO / "dashboard").rglob("*.py"):
        assert "ui" not in _imports(path), path  # `from dashboard import ui`, no sys.path trick
