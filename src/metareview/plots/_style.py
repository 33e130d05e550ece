"""Shared look of metareview's figures: colour-blind-safe palette, fonts, text measurement.

The palette is Okabe & Ito's (2008), "Color Universal Design", https://jfly.uni-koeln.de/color/,
distinguishable under the common colour-vision deficiencies and in greyscale by lightness.
Fonts: the first installed of Arial, Helvetica, Liberation Sans (metric-compatible with
Arial), Nimbus Sans and DejaVu Sans (matplotlib's own), so figures look the same wherever
the usual journal sans-serif is available and never trigger missing-font warnings. Characters
that family lacks (Chinese, Japanese, Korean, Cyrillic, Arabic, ... study names) are drawn,
glyph by glyph, from the first installed font of :data:`FALLBACK_FAMILIES` that has them
(matplotlib's font fallback); :func:`check_glyphs` warns, naming the characters and the Debian
package to install, when no installed font has them.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from functools import cache

from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ft2font import FT2Font
from matplotlib.text import Text
from matplotlib.textpath import text_to_path

from metareview.exceptions import MetareviewWarning

__all__ = [
    "BLUES",
    "FALLBACK_FAMILIES",
    "FONT_SIZE",
    "GREYS",
    "GRID_GREY",
    "INK",
    "LIGHT_GREY",
    "LINE_WIDTH",
    "OKABE_ITO",
    "ORANGE_TINT",
    "PALE_GREY",
    "SKY_BLUE_TINTS",
    "TITLE_SIZE",
    "check_glyphs",
    "font",
    "font_families",
    "font_family",
    "missing_glyphs",
    "text_height",
    "text_width",
    "wrap_to_width",
]

#: Okabe-Ito colours by name
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
#: text, axes, rules and pooled-estimate markers (near-black)
INK = "#1a1a1a"
#: reference lines, leader lines and the edges of legend swatches
GRID_GREY = "#8c8c8c"
#: neutral fills from white to a light grey, lightest first (funnel contours, table cells)
GREYS = ("#ffffff", "#f2f2f2", "#e6e6e6", "#d9d9d9")
#: the lightest neutral fill: empty table cells
PALE_GREY = GREYS[1]
#: a light neutral fill: unselected header boxes, a zero-star share
LIGHT_GREY = GREYS[3]
#: tints of Okabe-Ito sky blue for fills behind data, lightest first
SKY_BLUE_TINTS = ("#e3f0f8", "#c9e6f7", "#9ccbe8")
#: a tint of Okabe-Ito orange (the PRISMA template's gold header)
ORANGE_TINT = "#f6d9a1"
#: a shade of Okabe-Ito vermillion, darker than it (a risk of bias beyond "serious")
DARK_VERMILLION = "#7a2e00"
#: sequential blues from pale to Okabe-Ito blue and darker (counts, star ratings)
BLUES = ("#dcebf5", "#9ccbe8", "#56B4E9", "#0072B2", "#00324f")
#: body text, tick labels and table cells (points); journals ask for 6-8 pt at print size
FONT_SIZE = 8.0
#: figure titles (points)
TITLE_SIZE = 10.0
#: default stroke width (points)
LINE_WIDTH = 0.8

_PREFERRED_FAMILIES = ("Arial", "Helvetica", "Liberation Sans", "Nimbus Sans", "DejaVu Sans")
#: families drawing the characters the house family lacks, in the order tried, with the
#: Debian package of each: DejaVu Sans (fonts-dejavu-core: Greek, Cyrillic, Arabic, Hebrew,
#: Armenian, Georgian), Noto Sans (fonts-noto-core), Noto Sans CJK (fonts-noto-cjk: Chinese,
#: Japanese, Korean), Droid Sans Fallback (fonts-droid-fallback: CJK), WenQuanYi (fonts-wqy-*),
#: and Noto's fonts for the scripts Noto Sans leaves out
FALLBACK_FAMILIES = (
    "DejaVu Sans",
    "Noto Sans",
    "Noto Sans CJK JP",
    "Noto Sans CJK SC",
    "Noto Sans CJK TC",
    "Noto Sans CJK KR",
    "Droid Sans Fallback",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Noto Sans Arabic",
    "Noto Sans Hebrew",
    "Noto Sans Devanagari",
    "Noto Sans Bengali",
    "Noto Sans Thai",
)
_LINE_SPACING = 1.2
_MAX_LISTED = 8  # characters named in the missing-glyph warning


class _FallbackWeightFilter(logging.Filter):
    """Drop matplotlib's "Failed to find font weight bold for <family>" for fallback families.

    A fallback family (say Droid Sans Fallback, which has no bold face) lends bold text the
    few glyphs the house family lacks at its regular weight: expected, not worth a log line
    on every run.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("findfont: Failed to find font weight"):
            return True
        args = record.args if isinstance(record.args, tuple) else ()
        return not (len(args) > 1 and args[1] in FALLBACK_FAMILIES)  # (weight, family, used)


logging.getLogger("matplotlib.font_manager").addFilter(_FallbackWeightFilter())


@cache
def font_family() -> str:
    """The first installed family of Arial, Helvetica, Liberation Sans, Nimbus Sans, DejaVu Sans.

    Fonts installed after matplotlib built its font cache count (see :func:`font_families`).

    Examples
    --------
    >>> font_family() in _PREFERRED_FAMILIES
    True
    """
    _add_fonts_installed_since_matplotlib_cached_them()
    installed = _installed_families()
    return next((f for f in _PREFERRED_FAMILIES if f in installed), "DejaVu Sans")


@cache
def font_families() -> tuple[str, ...]:
    """The house family, then every installed family of :data:`FALLBACK_FAMILIES`.

    Given as one family list, matplotlib takes each glyph from the first font that has it.
    matplotlib reads the installed fonts once, into a cache it never refreshes, so fonts
    installed since (say, ``apt-get install fonts-noto-cjk`` for Chinese study names) would
    stay unused: the first call adds the font files that fontconfig lists and the cache lacks.

    Examples
    --------
    >>> families = font_families()
    >>> families[0] == font_family() and "DejaVu Sans" in families
    True
    """
    primary = font_family()  # first, so that fonts installed since matplotlib's cache count
    installed = _installed_families()
    return (primary, *(f for f in FALLBACK_FAMILIES if f in installed and f != primary))


def missing_glyphs(texts: Iterable[str]) -> list[str]:
    """The characters of ``texts`` that no font of :func:`font_families` has, sorted.

    Spaces and control characters (new lines) are not drawn and never missing.

    Examples
    --------
    >>> missing_glyphs(["Smith 2001", "Müller (2019)", "Иванов", "α = 0.05"])
    []
    """
    chars = {c for text in texts for c in text if c.isprintable() and not c.isspace()}
    if not chars:
        return []
    covered: set[int] = set()
    for family in font_families():
        covered |= _charmap(family)
    return sorted(c for c in chars if ord(c) not in covered)


def check_glyphs(fig: Figure) -> Figure:
    """Warn if a text of ``fig`` has characters no installed font can draw; return ``fig``.

    Fonts installed after matplotlib built its font cache are used too (see
    :func:`font_families`); only characters that no installed font has are reported.

    Warns
    -----
    MetareviewWarning
        Naming the characters (with their code points) and the fonts to install. They are
        drawn as empty boxes.
    """
    missing = missing_glyphs(t.get_text() for t in fig.findobj(Text))
    if missing:
        shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in missing[:_MAX_LISTED])
        more = f" and {len(missing) - _MAX_LISTED} more" if len(missing) > _MAX_LISTED else ""
        warnings.warn(
            f"the figure's labels have {len(missing)} character(s) that no installed font "
            f"can draw: {shown}{more}; they will show as empty boxes. Install a font that "
            "has them and draw the figure again: on Debian or Ubuntu, fonts-noto-cjk for "
            "Chinese, Japanese and Korean, fonts-noto-core for most other scripts.",
            MetareviewWarning,
            stacklevel=3,
        )
    return fig


def _installed_families() -> set[str]:
    return {entry.name for entry in font_manager.fontManager.ttflist}


@cache
def _charmap(family: str) -> frozenset[int]:
    """Code points of the regular face of installed ``family``."""
    path = font_manager.findfont(FontProperties(family=family), fallback_to_default=False)
    return frozenset(FT2Font(path).get_charmap())


@cache
def _add_fonts_installed_since_matplotlib_cached_them() -> None:
    """Add the font files fontconfig lists and matplotlib's cache lacks (once per process)."""
    known = {entry.fname for entry in font_manager.fontManager.ttflist}
    added = False
    for path in sorted(font_manager.findSystemFonts()):  # a set's order: one per hash seed
        if path not in known:
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                continue  # unreadable, or a format matplotlib cannot use
            added = True
    if added:
        font_family.cache_clear()
        font_families.cache_clear()


def font(
    size: float = FONT_SIZE, *, weight: str = "normal", style: str = "normal"
) -> FontProperties:
    """Font properties in the house family.

    Examples
    --------
    >>> font(9, weight="bold").get_size_in_points()
    9.0
    """
    return FontProperties(family=list(font_families()), size=size, weight=weight, style=style)


def text_width(text: str, prop: FontProperties) -> float:
    """Width in inches of the widest line of ``text`` set in ``prop`` (backend-independent).

    Examples
    --------
    >>> 0 < text_width("Study", font()) < text_width("Study label", font())
    True
    """
    with warnings.catch_warnings():  # check_glyphs names missing glyphs once, with the fix
        warnings.filterwarnings("ignore", r"Glyph \d+ .* missing from font", UserWarning)
        widths = [
            text_to_path.get_text_width_height_descent(line, prop, ismath=False)[0]
            for line in text.split("\n")
            if line
        ]
    return max(widths, default=0.0) / 72


def text_height(n_lines: int, prop: FontProperties) -> float:
    """Height in inches of ``n_lines`` lines set in ``prop`` (matplotlib's line spacing)."""
    return n_lines * _LINE_SPACING * prop.get_size_in_points() / 72


def wrap_to_width(
    text: str, width: float, prop: FontProperties, *, hanging: float = 0.0
) -> list[str]:
    """Greedy word wrap of ``text`` into lines no wider than ``width`` inches.

    Continuation lines get ``width - hanging`` (room for a hanging indent the caller adds).

    Lines break only at plain spaces: join words with a no-break space (U+00A0) to keep them
    together, e.g. ``"(n\u00a0=\u00a012)"``. Explicit newlines are kept; a single word wider
    than ``width`` gets a line of its own.

    Examples
    --------
    >>> wrap_to_width("Records identified from databases", 1.1, font())
    ['Records identified', 'from databases']
    """
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current = ""
        limit = width
        for word in (w for w in paragraph.split(" ") if w):
            candidate = f"{current} {word}" if current else word
            if current and text_width(candidate, prop) > limit:
                lines.append(current)
                current = word
                limit = width - hanging
            else:
                current = candidate
        lines.append(current)
    return lines
