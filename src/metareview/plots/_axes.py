"""Shared axes styling of the single-panel figures (Baujat, GOSH, bubble, L'Abbé, RoB summary).

The same look as the funnel plot: house font for labels and ticks, 0.8 pt dark-grey left and
bottom spines, no top or right spine, typographic minus signs in tick labels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullLocator

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.legend import Legend

from metareview.plots._scales import MINUS
from metareview.plots._style import FONT_SIZE, INK, LINE_WIDTH, OKABE_ITO, font, font_families

__all__ = [
    "house_ticks",
    "log_ticks",
    "minus_formatter",
    "set_ratio_ticks",
    "side_key",
    "style_axes",
]


def minus_formatter() -> FuncFormatter:
    """Tick labels with ``%g`` and a typographic minus sign.

    Examples
    --------
    >>> minus_formatter()(-0.5, 0)
    '−0.5'
    """
    return FuncFormatter(lambda v, _: f"{v:g}".replace("-", MINUS))


def house_ticks(ax: Axes, axis: str = "both") -> None:
    """Ticks of ``axis`` ("x", "y" or "both") 3 pt long in ink at the house line width, their
    labels in the house font and size."""
    ax.tick_params(
        axis=axis,
        labelsize=FONT_SIZE,
        labelfontfamily=list(font_families()),
        width=LINE_WIDTH,
        length=3,
        color=INK,
        labelcolor=INK,
    )


def style_axes(
    ax: Axes,
    xlabel: str | None = None,
    ylabel: str | None = None,
    *,
    spines: tuple[str, ...] = ("left", "bottom"),
    linear_ticks: bool = True,
) -> None:
    """House style for ``ax``: labels and ticks in the house font, only ``spines`` drawn.

    ``linear_ticks`` installs :func:`minus_formatter` on both axes (leave it False for log
    axes, whose own formatter is kept).
    """
    if xlabel is not None:
        ax.set_xlabel(xlabel, fontproperties=font(), parse_math=False, color=INK)
    if ylabel is not None:
        ax.set_ylabel(ylabel, fontproperties=font(), parse_math=False, color=INK)
    house_ticks(ax)
    if linear_ticks:
        ax.xaxis.set_major_formatter(minus_formatter())
        ax.yaxis.set_major_formatter(minus_formatter())
    for side in ("left", "bottom", "right", "top"):
        ax.spines[side].set_visible(side in spines)
        ax.spines[side].set_linewidth(LINE_WIDTH)
        ax.spines[side].set_color(INK)


# mantissas of ratio-axis ticks, from the coarsest set to the finest
_LOG_MANTISSAS = ((1.0,), (1.0, 2.0, 5.0), (1.0, 2.0, 3.0, 5.0), (1.0, 1.5, 2.0, 3.0, 5.0, 7.0))


def side_key(ax: Axes, handles: list[Any], *, handlelength: float = 2.2, **kw: Any) -> Legend:
    """The figure's key, unframed in the house font, its top left beside the panel's top
    right (funnel, L'Abbé and bubble plots); ``kw`` go to ``Axes.legend`` (title, alignment)."""
    return ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.03, 1.0),
        frameon=False,
        prop=font(),
        borderaxespad=0.0,
        handlelength=handlelength,
        **kw,
    )


def log_ticks(lo: float, hi: float, *, at_least: int = 4) -> list[float]:
    """Ticks of a ratio (log) axis from ``lo`` to ``hi``: the coarsest of the grids 1; 1-2-5;
    1-2-3-5; 1-1.5-2-3-5-7 (per decade) that puts ``at_least`` ticks in the range, or evenly
    spaced round numbers when the range is too narrow for any of them.

    Examples
    --------
    >>> log_ticks(0.15, 1.6)
    [0.2, 0.3, 0.5, 1.0]
    >>> log_ticks(0.9, 1.1)
    [0.9, 0.95, 1.0, 1.05, 1.1]
    >>> log_ticks(0.001, 100)
    [0.001, 0.01, 0.1, 1.0, 10.0, 100.0]
    """
    decades = range(int(np.floor(np.log10(lo))) - 1, int(np.ceil(np.log10(hi))) + 1)
    ticks: list[float] = []
    for mantissas in _LOG_MANTISSAS:
        grid = sorted({float(f"{m * 10.0**e:.6g}") for e in decades for m in mantissas})
        ticks = [t for t in grid if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]
        if len(ticks) >= at_least:
            return ticks
    if len(ticks) >= 3:
        return ticks
    linear = MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
    return [float(f"{t:.6g}") for t in linear if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]


def set_ratio_ticks(axis: Axis) -> None:
    """Fixed :func:`log_ticks` on a log ``axis`` for its current view, labelled with ``%g``."""
    lo, hi = sorted(axis.get_view_interval())
    axis.set_major_locator(FixedLocator(log_ticks(lo, hi)))
    axis.set_minor_locator(NullLocator())
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def bubbles(
    ax: Axes,
    x: np.ndarray,
    y: np.ndarray,
    size_by: np.ndarray,
    *,
    area: tuple[float, float],
    zorder: float,
    label: str,
) -> Line2D:
    """Draw studies as circles whose area is proportional to ``size_by`` (weight or sample
    size), the largest ``area[1]`` points², none smaller than ``area[0]``, small circles on
    top of large ones; return the legend handle. Used by the bubble and L'Abbé plots."""
    size_by = np.asarray(size_by, dtype=float)
    smallest, largest = area
    sizes = np.maximum(largest * size_by / size_by.max(), smallest)
    order = np.argsort(-size_by, kind="stable")
    ax.scatter(
        np.asarray(x)[order],
        np.asarray(y)[order],
        s=sizes[order],
        facecolor=OKABE_ITO["blue"],
        alpha=0.55,
        edgecolors=INK,
        linewidths=0.5,
        zorder=zorder,
        gid="studies",
    )
    return Line2D(
        [],
        [],
        linestyle="none",
        marker="o",
        markersize=7,
        markerfacecolor=OKABE_ITO["blue"],
        markeredgecolor=INK,
        markeredgewidth=0.5,
        alpha=0.8,
        label=label,
    )
