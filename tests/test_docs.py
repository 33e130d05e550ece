"""The documentation site (docs/): every public name has its page in the API reference, and
the code on the user-guide pages runs as printed. ``make docs`` builds the site itself (with
``-W``; in .ci/run), which also runs the gallery scripts and the validation page's tests."""

from __future__ import annotations

import doctest
import importlib
import re
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
#: the curated public surface (STYLE.md habit 1) and the bundled examples' finder
PUBLIC = [
    "metareview",
    "metareview.stats",
    "metareview.review",
    "metareview.plots",
    "metareview.casestudies",
]
#: the hand-written pages (validation.rst is generated at build time from the fixtures)
PAGES = sorted(
    p for p in [*DOCS.glob("*.rst"), *DOCS.glob("user_guide/*.rst")] if p.name != "validation.rst"
)

_DIRECTIVE = re.compile(r"^\.\. (?:py:)?(?:auto)?(?:function|class|data|exception)::\s+(\S+)")


def documented_names() -> set[tuple[str, str]]:
    """(module, name) of every object the API pages document: autosummary entries and
    autofunction/autoclass/py:data directives, under each page's ``currentmodule``."""
    found: set[tuple[str, str]] = set()
    for page in sorted((DOCS / "api").glob("*.rst")):
        module, in_autosummary = "", False
        for line in page.read_text("utf-8").splitlines():
            if line.startswith(".. currentmodule::"):
                module = line.split("::", 1)[1].strip()
            if line.startswith(".. autosummary::"):
                in_autosummary = True
                continue
            if in_autosummary:
                entry = line.strip()
                if line and not line.startswith(" "):
                    in_autosummary = False
                elif entry and not entry.startswith(":"):
                    found.add((module, entry))
                continue
            match = _DIRECTIVE.match(line)
            if match:
                found.add((module, match[1]))
    return found


def test_every_public_name_is_documented():
    documented = documented_names()
    objects = {id(getattr(importlib.import_module(m), n)) for m, n in documented}
    missing = []
    for package in PUBLIC:
        module = importlib.import_module(package)
        for name in module.__all__:
            value = getattr(module, name)
            # a re-export is documented where it is defined (metareview.rma -> stats.rma)
            shared = not isinstance(value, str) and id(value) in objects
            if (package, name) not in documented and not shared:
                missing.append(f"{package}.{name}")
    assert not missing, f"not in docs/api/*.rst: {missing}"


def test_the_api_pages_name_only_real_objects():
    for module, name in documented_names():
        assert hasattr(importlib.import_module(module), name), f"{module}.{name}"


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(DOCS).as_posix() for p in PAGES])
def test_the_code_on_each_page_runs_as_printed(page, monkeypatch):
    monkeypatch.chdir(ROOT)
    result = doctest.testfile(
        str(page),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        verbose=False,
        report=True,
    )
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed"
