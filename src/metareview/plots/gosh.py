"""GOSH plot: the pooled estimate against I² in every fitted subset of studies."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LinearSegmentedColormap, LogNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from mpl_toolkits.axes_grid1 import make_axes_locatable

from metareview._validation import Options
from metareview.exceptions import InputError
from metareview.plots._axes import style_axes
from metareview.plots._style import (
    BLUES,
    FONT_SIZE,
    INK,
    LINE_WIDTH,
    OKABE_ITO,
    check_glyphs,
    font,
    font_families,
)
from metareview.stats.sensitivity import GoshResult

__all__ = ["HEXBIN_ABOVE", "KINDS", "gosh_plot"]

#: accepted ``kind`` values
KINDS = Options("kind", ("auto", "hexbin", "scatter"), case_sensitive=False)
#: ``kind="auto"`` draws hexagonal bins above this many subsets, points up to it
HEXBIN_ABOVE = 2000
_RASTERIZE_ABOVE = 5000  # points beyond this are rasterised in vector files (file size)
_BINS = 40
_MARGIN_IN = 0.75  # height of the top and width of the right histogram (inches)
_FIGSIZE = (6.0, 5.4)
_INSET = 0.1  # corner content starts this far (axes fraction) right of the histogram's spine
_FRAME_IN = (0.65, 0.5, 0.55, 0.1)  # left, bottom, right, top margins (inches) for ax=None
# white to Okabe-Ito blue to a darker blue: counts per hexagon, light = few
_DENSITY = LinearSegmentedColormap.from_list("okabe_ito_blues", [BLUES[0], *BLUES[2:]])
_WITH = OKABE_ITO["vermillion"]
_WITHOUT = OKABE_ITO["blue"]


def gosh_plot(
    gosh_result: GoshResult,
    *,
    ax: Axes | None = None,
    kind: str = "auto",
    highlight: str | None = None,
    ylabel: str = "Pooled estimate (model scale)",
) -> Figure:
    """Draw a GOSH plot: pooled estimate (y) against I² (x), one mark per fitted subset.

    As metafor's ``plot.gosh``: the scatter of subsets with histograms of I² (top) and of
    the estimate (right). Clusters of subsets point to studies that drive heterogeneity;
    ``highlight`` colours the subsets that contain a given study to show which.

    Parameters
    ----------
    gosh_result : GoshResult
        The result of :func:`metareview.gosh`; its ``table`` columns ``I2`` and ``estimate``
        are drawn as they are (never refitted).
    ax : matplotlib Axes, optional
        The axes of the scatter; the two histograms are split off its top and right
        (``mpl_toolkits.axes_grid1``). By default a new 6 x 5.4 inch figure.
    kind : {"auto", "hexbin", "scatter"}
        ``"hexbin"``: hexagons shaded by the number of subsets (log colour scale, with a
        colour bar); ``"scatter"``: one semi-transparent point per subset (opacity falls
        with the number of subsets); ``"auto"``: hexbin above 2,000 subsets, else scatter.
        Points are rasterised in vector files above 5,000 subsets.
    highlight : str, optional
        A study label (one of ``gosh_result.slab``): subsets that contain it are drawn in
        vermillion, the others in blue, in the scatter and both histograms (drawn as points
        whatever ``kind``; ``kind="hexbin"`` with ``highlight`` is refused).
    ylabel : str
        Label of the estimate axis; the result does not record the measure, so name it
        here, e.g. ``"Log risk ratio"``.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InputError
        If ``gosh_result`` is not a :class:`GoshResult`, ``kind`` is unknown, ``highlight``
        is not one of its studies, or ``kind="hexbin"`` is combined with ``highlight``.

    Notes
    -----
    The top-right corner states the number of subsets and whether they are all
    ``2^k - 1`` (minus those too small for the model) or a random sample. Subsets whose I²
    or estimate is not finite are left out and counted there.

    References
    ----------
    Olkin I, Dahabreh IJ, Trikalinos TA (2012). GOSH - a graphical display of study
    heterogeneity. Res Synth Methods 3(3):214-223. https://doi.org/10.1002/jrsm.1053

    Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package. J Stat
    Softw 36(3):1-48. https://doi.org/10.18637/jss.v036.i03 (``plot.gosh``)

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import metareview as mr
    >>> res = mr.rma([0.1, 0.3, 0.5, 0.9], [0.04, 0.04, 0.04, 0.04], method="DL",
    ...              slab=["A", "B", "C", "D"])
    >>> fig = gosh_plot(mr.gosh(res), highlight="D")
    >>> {c.get_gid(): len(c.get_offsets()) for c in fig.axes[0].collections}
    {'subsets-without': 7, 'subsets-with': 8}
    >>> plt.close(fig)
    """
    if not isinstance(gosh_result, GoshResult):
        raise InputError(
            f"gosh_plot() needs the result of metareview.gosh(); got {type(gosh_result).__name__}."
        )
    kind = KINDS.check(kind)
    table = gosh_result.table
    i2 = table["I2"].to_numpy(dtype=float)
    est = table["estimate"].to_numpy(dtype=float)
    keep = np.isfinite(i2) & np.isfinite(est)
    i2, est = i2[keep], est[keep]
    contains = None if highlight is None else _contains(gosh_result, highlight)[keep]
    if kind == "hexbin" and contains is not None:
        raise InputError(
            "highlight= colours subsets by whether they contain a study, which hexagonal "
            "bins cannot show; use kind='scatter' (or 'auto') with highlight."
        )
    if i2.size == 0:
        raise InputError("gosh_plot(): no subset has a finite I2 and estimate to draw.")
    use_hexbin = kind == "hexbin" or (
        kind == "auto" and contains is None and i2.size > HEXBIN_ABOVE
    )
    if ax is None:
        width, height = _FIGSIZE
        left, bottom, right_gap, top_gap = _FRAME_IN
        fig = plt.figure(figsize=_FIGSIZE)
        ax = fig.add_axes(
            (
                left / width,
                bottom / height,
                1 - (left + right_gap) / width,
                1 - (bottom + top_gap) / height,
            )
        )
    else:
        fig = ax.figure
    divider = make_axes_locatable(ax)
    top = divider.append_axes("top", size=_MARGIN_IN, pad=0.08, sharex=ax)
    right = divider.append_axes("right", size=_MARGIN_IN, pad=0.08, sharey=ax)

    groups = _groups(i2, est, contains)
    hexes = None
    if use_hexbin:
        hexes = ax.hexbin(
            i2,
            est,
            gridsize=_BINS,
            cmap=_DENSITY,
            norm=LogNorm(),
            mincnt=1,
            linewidths=0.1,
            edgecolors="face",
            zorder=2,
            gid="subsets-hexbin",
        )
    else:
        _scatter(ax, groups, n_total=i2.size)
    bins_x = np.histogram_bin_edges(i2, bins=_BINS)
    bins_y = np.histogram_bin_edges(est, bins=_BINS)
    # one group: filled; two groups: outlines, so neither hides the other
    style = (
        {"histtype": "stepfilled", "alpha": 0.8, "linewidth": 0.6}
        if contains is None
        else {"histtype": "step", "linewidth": 1.2}
    )
    for name, xs, ys, colour in groups:
        top.hist(xs, bins=bins_x, color=colour, edgecolor=colour, gid=f"hist-I2-{name}", **style)
        right.hist(
            ys,
            bins=bins_y,
            orientation="horizontal",
            color=colour,
            edgecolor=colour,
            gid=f"hist-estimate-{name}",
            **style,
        )

    lo, hi = float(i2.min()), float(i2.max())
    pad = max(0.03 * (hi - lo), 0.5)
    ax.set_xlim(max(lo - pad, -1.0), min(hi + pad, 101.0))
    span = float(est.max() - est.min()) or 1.0
    ax.set_ylim(est.min() - 0.04 * span, est.max() + 0.04 * span)
    style_axes(ax, "I² (%)", ylabel)
    for hist, axis in ((top, "x"), (right, "y")):
        style_axes(hist, spines=("bottom",) if axis == "x" else ("left",))
        # counts are only a shape here: no value axis, as in metafor's plot.gosh
        hist.tick_params(left=False, bottom=False, labelbottom=False, labelleft=False)
        hist.patch.set_alpha(0)
    corner = fig.add_axes(ax.get_position())
    corner.set_axes_locator(divider.new_locator(nx=2, ny=2))
    corner.set_axis_off()
    _corner_note(corner, gosh_result, int(i2.size), int((~keep).sum()), highlight, hexes)
    return check_glyphs(fig)


def _contains(gosh_result: GoshResult, study: Any) -> np.ndarray:
    labels = [str(s) for s in gosh_result.slab]
    if str(study) not in labels:
        shown = ", ".join(repr(s) for s in labels[:8]) + (", ..." if len(labels) > 8 else "")
        raise InputError(
            f"highlight must be one of the studies of the GOSH fit ({shown}); got {study!r}."
        )
    return np.asarray(gosh_result.incl, dtype=bool)[:, labels.index(str(study))]


def _groups(
    i2: np.ndarray, est: np.ndarray, contains: np.ndarray | None
) -> list[tuple[str, np.ndarray, np.ndarray, str]]:
    if contains is None:
        return [("all", i2, est, _WITHOUT)]
    return [
        ("without", i2[~contains], est[~contains], _WITHOUT),
        ("with", i2[contains], est[contains], _WITH),
    ]


def _scatter(ax: Axes, groups, *, n_total: int) -> None:
    alpha = float(np.clip(300 / n_total, 0.12, 0.7))
    size = 10.0 if n_total <= 500 else 5.0
    for name, xs, ys, colour in groups:
        ax.scatter(
            xs,
            ys,
            s=size,
            color=colour,
            alpha=alpha,
            edgecolors="none",
            rasterized=n_total > _RASTERIZE_ABOVE,
            zorder=2,
            gid=f"subsets-{name}",
        )


def _corner_note(
    corner: Axes, gosh_result: GoshResult, n: int, dropped: int, highlight: str | None, hexes: Any
) -> None:
    """Subset count, and the colour bar or the highlight key, in the free top-right corner."""
    fig = corner.figure
    what = "subsets (all)" if gosh_result.exact else "random subsets"
    lines = [f"{n:,} {what}", f"{gosh_result.method} fits"]
    if dropped:
        lines.append(f"{dropped:,} not finite, left out")
    small = font(FONT_SIZE - 1)
    corner.text(
        _INSET,
        1.0,
        "\n".join(lines),
        transform=corner.transAxes,
        ha="left",
        va="top",
        fontproperties=small,
        color=INK,
        parse_math=False,
        gid="gosh-note",
    )
    if hexes is not None:
        bar = corner.inset_axes((_INSET, 0.08, 0.92 - _INSET, 0.13))
        cb = fig.colorbar(hexes, cax=bar, orientation="horizontal")
        cb.outline.set_linewidth(LINE_WIDTH / 2)
        bar.tick_params(
            labelsize=FONT_SIZE - 1,
            labelfontfamily=list(font_families()),
            length=2,
            width=0.5,
            color=INK,
            labelcolor=INK,
        )
        bar.xaxis.set_major_formatter(lambda v, _: f"{v:g}")
        bar.set_title("Subsets per hexagon", fontproperties=small, color=INK, loc="left", pad=2)
    if highlight is not None:
        handles = [
            Line2D([], [], linestyle="none", marker="o", markersize=4, color=colour, label=label)
            for label, colour in (("Contains", _WITH), ("Does not contain", _WITHOUT))
        ]
        corner.legend(
            handles=handles,
            loc="lower left",
            bbox_to_anchor=(_INSET, 0.0),
            frameon=False,
            prop=small,
            borderaxespad=0.0,
            handletextpad=0.3,
            borderpad=0.0,
            title=highlight,
            title_fontproperties=small,
            alignment="left",
        )
