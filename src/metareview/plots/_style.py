"""Shared look of metareview's figures: colour-blind-safe palette, fonts, text measurement.

The palette is Okabe & Ito's (2008), "Color Universal Design", https://jfly.uni-koeln.de/color/,
distinguishable under the common colour-vision deficiencies and in greyscale by lightness.
Fonts: the first installed of Arial, Helvetica, Liberation Sans (metric-compatible with
Arial), Nimbus Sans and DejaVu Sans (matplotlib's own), so figures look the same wherever
the usual journal sans-serif is available and never trigger missing-font warnings.
"""

from __future__ import annotations

from functools import cache

from matplotlib import font_manager
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import text_to_path

__all__ = [
    "BLUES",
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
    "font",
    "font_family",
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
_LINE_SPACING = 1.2


@cache
def font_family() -> str:
    """The first installed family of Arial, Helvetica, Liberation Sans, Nimbus Sans, DejaVu Sans.

    Examples
    --------
    >>> font_family() in _PREFERRED_FAMILIES
    True
    """
    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    return next((f for f in _PREFERRED_FAMILIES if f in installed), "DejaVu Sans")


def font(
    size: float = FONT_SIZE, *, weight: str = "normal", style: str = "normal"
) -> FontProperties:
    """Font properties in the house family.

    Examples
    --------
    >>> font(9, weight="bold").get_size_in_points()
    9.0
    """
    return FontProperties(family=font_family(), size=size, weight=weight, style=style)


def text_width(text: str, prop: FontProperties) -> float:
    """Width in inches of the widest line of ``text`` set in ``prop`` (backend-independent).

    Examples
    --------
    >>> 0 < text_width("Study", font()) < text_width("Study label", font())
    True
    """
    widths = [
        text_to_path.get_text_width_height_descent(line, prop, ismath=False)[0]
        for line in text.split("\n") if line
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
