"""The layers, drawn from the imports: stats <- review <- (report, cli, web), plots beside stats.

Every module under ``src/metareview`` is parsed (``ast``, nothing is imported) and each of its
imports -- at the top, inside functions, under ``TYPE_CHECKING`` -- is checked against
:data:`MAY_IMPORT`. An arrow running back up (stats importing review, review importing plots,
plots importing review...) fails the test with the file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "src" / "metareview"

#: What each layer may import of the package (besides itself). ``base`` is the neutral
#: floor: ``exceptions``, ``_validation``, ``_version`` and the review-domain vocabulary the
#: figures need too (``_rob_tools``, ``_prisma_flow``), and the cell reading and integrity
#: checks that extraction and the report share (``cells``, ``integrity``); it imports no
#: layer. ``metareview`` is the package's own ``__init__`` (the public facade).
MAY_IMPORT: dict[str, frozenset[str]] = {
    "base": frozenset({"base"}),
    "stats": frozenset({"base"}),
    "plots": frozenset({"base", "stats"}),
    "review": frozenset({"base", "stats", "metareview"}),
    "report": frozenset({"base", "stats", "plots", "review", "metareview"}),
    "cli": frozenset({"base", "stats", "plots", "review", "report", "web", "metareview"}),
    "web": frozenset({"base", "stats", "plots", "review", "report", "metareview"}),
    "metareview": frozenset({"base", "stats", "plots", "review"}),
}
#: Modules at the top of the package that belong to a layer (the rest are ``base`` when
#: their name says so, else shells like the CLI's).
TOP_LEVEL = {
    "__init__": "metareview",
    "exceptions": "base",
    "_validation": "base",
    "_version": "base",
    "_rob_tools": "base",
    "_prisma_flow": "base",
    "_format": "base",
    "_lazy": "base",  # the lazy-import helpers of the stats, plots and review packages
    # messy-cell reading and the integrity checks import no layer: the store runs them as
    # values are extracted, the report over the finished table
    "cells": "base",
    "integrity": "base",
    "casestudies": "cli",
    "cli": "cli",
}
LAYERS = ("stats", "plots", "review", "report", "cli", "web")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str | None:
    """The layer of a dotted module name of ours (None for a module not of this package)."""
    parts = module.split(".")
    if parts[0] != "metareview":
        return None
    if len(parts) == 1:
        return "metareview"
    if parts[1] in LAYERS:
        return parts[1]
    return TOP_LEVEL.get(parts[1], "cli")


def imports_of(path: Path, text: str | None = None) -> list[tuple[int, str]]:
    """``(line, module)`` of every import of ``path`` (or of ``text`` as if it were that
    file), relative ones resolved."""
    if text is None:
        text = path.read_text(encoding="utf-8")
    tree = ast.parse(text, filename=str(path))
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            # "from metareview import stats" imports the layer, not only the facade
            if module == "metareview":
                found += [
                    (node.lineno, f"metareview.{alias.name}")
                    for alias in node.names
                    if alias.name in LAYERS or alias.name in TOP_LEVEL
                ]
    return found


def violations(path: Path, text: str | None = None) -> list[str]:
    own = layer_of(_module_name(path))
    assert own is not None
    bad = []
    for line, module in sorted(imports_of(path, text)):
        target = layer_of(module)
        if target is None or target == own:
            continue
        where = str(path.relative_to(ROOT.parent))
        if target not in MAY_IMPORT[own]:
            bad.append(f"{where}:{line}: {own} imports {module} ({target})")
    return bad


SOURCES = sorted(ROOT.rglob("*.py"))


def test_every_module_is_checked() -> None:
    assert len(SOURCES) > 50
    assert {layer_of(_module_name(p)) for p in SOURCES} >= {"stats", "plots", "review", "base"}


@pytest.mark.parametrize("layer", ["base", "stats", "plots", "review", "report", "cli", "web"])
def test_no_import_runs_back_up(layer: str) -> None:
    found = [v for p in SOURCES if layer_of(_module_name(p)) == layer for v in violations(p)]
    assert found == []


def test_the_checker_sees_an_arrow_back_up() -> None:
    """The rules catch what they are for (a check that cannot fail proves nothing)."""
    text = (
        "from metareview.review.store import Store\n"
        "def f():\n    from ..review import Store\n"
        "from metareview import report\n"
        "from metareview.stats import rma\n"
    )
    found = violations(ROOT / "plots" / "forest.py", text)
    assert [v.split(": ", 1)[1] for v in found] == [
        "plots imports metareview.review.store (review)",
        "plots imports metareview.review (review)",
        "plots imports metareview (metareview)",
        "plots imports metareview.report (report)",
    ]
    assert violations(ROOT / "stats" / "kernel.py", "from ..plots._style import INK\n") == [
        "metareview/stats/kernel.py:1: stats imports metareview.plots._style (plots)"
    ]
    assert layer_of("numpy") is None
