"""Study names in any script: drawn from a font that has their glyphs, or a clear warning.

matplotlib warns "Glyph ... missing from font(s)" when it draws a character as an empty box;
pytest turns that warning into an error, so drawing a figure here proves every glyph found a
font.
"""

from __future__ import annotations

import logging

import pandas as pd
import pytest
from matplotlib import font_manager

from metareview import rma
from metareview.exceptions import MetareviewWarning
from metareview.plots import _style, forest, rob
from tests.plots.helpers import texts

# Chinese, Japanese, Cyrillic, Greek and Latin-1 names, as a multinational review lists them
NAMES = [
    "张伟 2019",
    "李娜 (2020)",
    "佐藤 2021",
    "Иванов 2018",
    "Παπαδόπουλος 2016",
    "Müller 2017",
    "Smith 2001",
]
NO_FONT_HAS = "\U00010c80"  # OLD HUNGARIAN CAPITAL LETTER A: in no font Debian installs here


def _need_fonts_for(names):
    missing = _style.missing_glyphs(names)
    if missing:  # .ci/run installs fonts-noto-cjk, so CI always runs these tests
        pytest.skip(f"no installed font has {missing}; install fonts-noto-cjk")


@pytest.fixture
def fresh_font_lists():
    """Forget the family lists before and after a test that changes the installed fonts."""
    cached = (
        _style.font_family,
        _style.font_families,
        _style._charmap,
        _style._add_fonts_installed_since_matplotlib_cached_them,
    )
    for function in cached:
        function.cache_clear()
    yield
    for function in cached:
        function.cache_clear()


def test_forest_draws_non_latin_study_names(tmp_path):
    _need_fonts_for(NAMES)
    res = rma(
        [0.1, 0.3, 0.25, -0.2, 0.0, 0.4, 0.15],
        [0.04, 0.02, 0.02, 0.05, 0.03, 0.03, 0.03],
        slab=NAMES,
    )
    fig = forest(res)
    assert texts(fig, "label")[:7] == NAMES
    for suffix in ("png", "pdf", "svg"):  # font fallback in every backend
        fig.savefig(tmp_path / f"forest.{suffix}")


def test_rob_draws_non_latin_study_names():
    _need_fonts_for(NAMES)
    table = pd.DataFrame(
        {"Study": NAMES[:4], **{f"D{j}": ["Low"] * 4 for j in range(1, 6)}, "Overall": ["Low"] * 4}
    )
    rob(table).canvas.draw()


def test_missing_glyphs_are_named_with_the_fonts_to_install():
    if _style.missing_glyphs([NO_FONT_HAS]) != [NO_FONT_HAS]:
        pytest.skip("an installed font has U+10C80")
    res = rma([0.1, 0.3, 0.2], [0.04, 0.02, 0.03], slab=["A", f"B {NO_FONT_HAS}", "C"])
    with pytest.warns(
        MetareviewWarning,
        match=r"1 character\(s\) that no installed font can "
        r"draw: '\U00010c80' \(U\+10C80\); they will show as empty boxes\. "
        r"Install a font .* fonts-noto-cjk",
    ):
        forest(res)


def test_fonts_installed_after_matplotlib_cached_its_list_are_used(monkeypatch, fresh_font_lists):
    # matplotlib lists the installed fonts once and never looks again: a CJK font installed
    # later was left unused and Chinese names were drawn as empty boxes
    _need_fonts_for(["张"])
    manager = font_manager.fontManager
    cjk_families = set(_style.font_families()) - {_style.font_family(), "DejaVu Sans"}
    monkeypatch.setattr(
        manager, "ttflist", [e for e in manager.ttflist if e.name not in cjk_families]
    )
    for function in (
        _style.font_family,
        _style.font_families,
        _style._add_fonts_installed_since_matplotlib_cached_them,
    ):
        function.cache_clear()
    assert _style.missing_glyphs(["张"]) == []
    assert set(_style.font_families()) >= cjk_families


def test_a_fallback_font_lending_regular_glyphs_to_bold_text_is_not_logged():
    # every forest has bold headers: with Droid Sans Fallback installed, each run logged
    # "findfont: Failed to find font weight bold for Droid Sans Fallback, now using 400."
    def record(family):
        return logging.LogRecord(
            "matplotlib.font_manager",
            logging.WARNING,
            __file__,
            1,
            "findfont: Failed to find font weight %s for %s, now using %s.",
            ("bold", family, 400),
            None,
        )

    (keep_out,) = [
        f
        for f in logging.getLogger("matplotlib.font_manager").filters
        if isinstance(f, _style._FallbackWeightFilter)
    ]
    assert not keep_out.filter(record("Droid Sans Fallback"))
    assert keep_out.filter(record("Some Other Sans"))  # other fonts are still reported


def test_fonts_are_added_in_one_order_whatever_the_hash_seed(monkeypatch, fresh_font_lists):
    # findSystemFonts lists the font files in a set's order, which changes with
    # PYTHONHASHSEED; with two files of one family installed (Debian's Liberation Sans 1 and
    # 2) which one drew the text, and so the bytes of every figure, changed from run to run
    manager = font_manager.fontManager
    cached = list(manager.ttflist)
    paths = sorted({entry.fname for entry in cached})[:6]
    added = []
    for listed in (paths, paths[::-1]):
        monkeypatch.setattr(manager, "ttflist", [e for e in cached if e.fname not in paths])
        monkeypatch.setattr(font_manager, "findSystemFonts", lambda *a, files=listed, **k: files)
        _style._add_fonts_installed_since_matplotlib_cached_them.cache_clear()
        _style._add_fonts_installed_since_matplotlib_cached_them()
        added.append([entry.fname for entry in manager.ttflist if entry.fname in paths])
    assert len(added[0]) == len(paths)
    assert added[0] == added[1]
