"""Structural checks on drawn figures (no pixel comparisons)."""

from __future__ import annotations

from itertools import combinations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.text import Text

NBSP = "\u00a0"


def by_gid(fig: Figure, gid: str) -> list:
    """Every artist of ``fig`` whose gid is ``gid``."""
    return fig.findobj(lambda a: a.get_gid() == gid)


def texts(fig: Figure, gid: str) -> list[str]:
    """The strings of the Text artists with ``gid`` (no-break spaces as plain spaces)."""
    return [t.get_text().replace(NBSP, " ") for t in by_gid(fig, gid) if isinstance(t, Text)]


def drawn_texts(fig: Figure) -> list[Text]:
    """Visible, non-empty texts that the renderer draws, tick labels only inside the view."""
    ticks = set()
    out = []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            span = hi - lo
            for loc, tick in zip(axis.get_majorticklocs(), axis.get_major_ticks(), strict=False):
                ticks.add(id(tick.label1))
                ticks.add(id(tick.label2))
                inside = lo - 1e-9 * span <= loc <= hi + 1e-9 * span
                for label in (tick.label1, tick.label2):
                    if inside and label.get_visible() and label.get_text().strip():
                        out.append(label)
            for tick in axis.get_minor_ticks():
                ticks.update({id(tick.label1), id(tick.label2)})
    for text in fig.findobj(Text):
        if id(text) in ticks or not text.get_visible() or not text.get_text().strip():
            continue
        out.append(text)
    return out


def overlapping_texts(fig: Figure, tolerance: float = 1.0) -> list[tuple[str, str]]:
    """Pairs of drawn texts whose window extents overlap by more than ``tolerance`` pixels."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in drawn_texts(fig)]
    clashes = []
    for (a, box_a), (b, box_b) in combinations(boxes, 2):
        dx = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
        dy = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
        if dx > tolerance and dy > tolerance:
            clashes.append((a, b))
    return clashes


def effect_text(est: float, lb: float, ub: float, digits: int = 2) -> str:
    """``est [lb, ub]`` as the plots print it (typographic minus)."""

    def num(x: float) -> str:
        text = f"{x:.{digits}f}"
        return text.replace("-", "\u2212") if float(text) != 0 else text.lstrip("-")

    return f"{num(est)} [{num(lb)}, {num(ub)}]"


def assert_close(actual, expected, rtol: float = 1e-12) -> None:
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float), np.asarray(expected, dtype=float), rtol=rtol
    )


def texts_outside_figure(fig: Figure, tolerance: float = 1.0) -> list[str]:
    """Drawn texts that stick out of the figure (cut off in the saved file)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    frame = fig.bbox
    out = []
    for text in drawn_texts(fig):
        box = text.get_window_extent(renderer)
        if (
            box.x0 < frame.x0 - tolerance
            or box.x1 > frame.x1 + tolerance
            or box.y0 < frame.y0 - tolerance
            or box.y1 > frame.y1 + tolerance
        ):
            out.append(text.get_text())
    return out
