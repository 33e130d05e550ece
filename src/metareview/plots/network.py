"""Figures of a network meta-analysis: the network graph and the league-table heat map.

Both read a :class:`~metareview.stats.nma.NmaResult` and recompute nothing: the edges and their
numbers of studies from ``res.edges``, node sizes from ``res.studies_per_treatment()``, the
cells of the heat map from ``res.pairs()`` ordered by ``res.pscore``. The forest plot of every
treatment against the reference is :func:`metareview.plots.forest` on the same result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LinearSegmentedColormap, Normalize, to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from metareview._validation import DIGITS, check_optional
from metareview.exceptions import InputError
from metareview.plots._fits import is_fit
from metareview.plots._scales import fmt_num, resolve_scale
from metareview.plots._style import (
    FONT_SIZE,
    GRID_GREY,
    INK,
    LINE_WIDTH,
    OKABE_ITO,
    PALE_GREY,
    check_glyphs,
    font,
    text_width,
)

if TYPE_CHECKING:  # pragma: no cover - nma.py imports scipy.stats: see plots/_fits.py
    from metareview.stats.nma import NmaResult

__all__ = ["league_heatmap", "netgraph"]

_EDGE_WIDTH = (1.0, 7.0)  # points: thinnest (one study) and thickest (most studies) edge
_NODE_AREA = (40.0, 400.0)  # points squared: smallest and largest node
#: where on a line its count may go (fraction of the way from one end), best first
_ALONG = (0.5, 0.45, 0.55, 0.4, 0.6, 0.35, 0.65, 0.3, 0.7, 0.25, 0.75)
#: diverging map of the heat map: favours the row (blue), nothing (white), the column
_HEAT = LinearSegmentedColormap.from_list(
    "metareview_league", [OKABE_ITO["blue"], "#ffffff", OKABE_ITO["vermillion"]]
)


def netgraph(
    res: NmaResult,
    *,
    ax: Axes | None = None,
    order: Sequence[str] | None = None,
    node_size: bool = True,
    show_counts: bool = True,
) -> Figure:
    """Draw the network graph: treatments on a circle, one line per pair compared directly.

    Line width grows with the number of studies comparing the pair (from 1 pt for one study
    to 7 pt for the most), as netmeta's ``netgraph`` draws it; the number is written on the
    line. Node area grows with the number of studies that have an arm of the treatment.

    Parameters
    ----------
    res : NmaResult
        A fit from :func:`metareview.nma`.
    ax : matplotlib Axes, optional
        Where to draw; by default a new 5 x 5 inch figure.
    order : sequence of str, optional
        The treatments clockwise from the top (every treatment once); default
        ``res.treatments`` (sorted names).
    node_size : bool
        Scale node areas by the number of studies with the treatment (else all equal).
    show_counts : bool
        Write the number of studies on each line.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InputError
        If ``res`` is not an NmaResult, or ``order`` does not list every treatment once.

    References
    ----------
    Rücker G, Schwarzer G (2016). Automated drawing of network plots in network
    meta-analysis. Research Synthesis Methods 7(1):94-107. https://doi.org/10.1002/jrsm.1143

    Examples
    --------
    >>> import matplotlib.pyplot as plt, pandas as pd, metareview as mr
    >>> d = pd.DataFrame({"studlab": ["s1", "s2", "s3", "s4"],
    ...                   "treat1": ["A", "B", "A", "A"], "treat2": ["B", "C", "C", "B"],
    ...                   "yi": [0.3, 0.2, 0.6, 0.4], "vi": [0.04, 0.05, 0.06, 0.05]})
    >>> fig = netgraph(mr.nma(d, reference="C"))
    >>> [t.get_text() for t in fig.findobj(lambda a: a.get_gid() == "edge-count")]
    ['2', '1', '1']
    >>> plt.close(fig)
    """
    _check(res, "netgraph()")
    names = _order(res, order)
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.0, 5.0), layout="constrained")
    else:
        fig = ax.figure
    n = len(names)
    angle = np.pi / 2 - 2 * np.pi * np.arange(n) / n  # clockwise from the top
    pos = {t: (float(np.cos(a)), float(np.sin(a))) for t, a in zip(names, angle, strict=True)}

    edges = res.edges
    counts = edges["n_studies"].to_numpy(dtype=float)
    top = counts.max()
    lo, hi = _EDGE_WIDTH
    widths = lo + (hi - lo) * (counts - 1) / (top - 1) if top > 1 else np.full(len(counts), lo)
    placed: list[tuple[float, float]] = []
    for (a, b, count), width in zip(edges.itertuples(index=False), widths, strict=True):
        (x1, y1), (x2, y2) = pos[a], pos[b]
        ax.plot(
            [x1, x2],
            [y1, y2],
            color=OKABE_ITO["blue"],
            linewidth=width,
            solid_capstyle="round",
            zorder=1,
            gid="edge",
        )
        if show_counts:
            # on the line, at the point furthest from the other lines and from the counts
            # already written (at a crossing a count would be read as the other line's)
            others = [
                (pos[c], pos[d])
                for c, d in zip(edges["treat1"], edges["treat2"], strict=True)
                if {c, d} != {a, b}
            ]
            spots = [(x1 + t * (x2 - x1), y1 + t * (y2 - y1)) for t in _ALONG]

            x, y = max(spots, key=lambda p, segs=others: _clearance(p, segs, placed))
            placed.append((x, y))
            ax.text(
                x,
                y,
                str(int(count)),
                fontproperties=font(FONT_SIZE - 1),
                ha="center",
                va="center",
                color=INK,
                zorder=4,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none"},
                gid="edge-count",
            )

    per = res.studies_per_treatment()[list(names)].to_numpy(dtype=float)
    small, large = _NODE_AREA
    if node_size and per.max() > per.min():
        areas = small + (large - small) * (per - per.min()) / (per.max() - per.min())
    else:
        areas = np.full(n, (small + large) / 3)
    xy = np.array([pos[t] for t in names])
    ax.scatter(
        xy[:, 0],
        xy[:, 1],
        s=areas,
        color=INK,
        edgecolors="white",
        linewidths=0.8,
        zorder=3,
        gid="nodes",
    )
    gap = 0.08 + np.sqrt(areas) / 72 / 5.0 * 2  # clear of the node, in data units (~5 in)
    for (t, a), g in zip(zip(names, angle, strict=True), gap, strict=True):
        c, s = np.cos(a), np.sin(a)
        ax.text(
            (1 + g) * c,
            (1 + g) * s,
            t,
            fontproperties=font(),
            ha="center" if abs(c) < 0.2 else ("left" if c > 0 else "right"),
            va="center" if abs(s) < 0.2 else ("bottom" if s > 0 else "top"),
            color=INK,
            parse_math=False,
            gid="label",
        )
    longest = max(text_width(t, font()) for t in names)  # inches: room for the labels
    reach = 1.25 + longest / 2.0
    ax.set_xlim(-reach, reach)
    ax.set_ylim(-1.35, 1.35)
    ax.set_aspect("equal")
    ax.set_axis_off()
    return check_glyphs(fig)


def league_heatmap(
    res: NmaResult,
    *,
    ax: Axes | None = None,
    transf: str | None = None,
    measure: str | None = None,
    digits: int | None = None,
) -> Figure:
    """Draw the league table as a heat map: every treatment against every other.

    Treatments are ordered by P-score, best first (as :meth:`NmaResult.league`). The cell in
    row *r* and column *c* gives *r* versus *c* (the row treatment minus the column treatment,
    or their ratio with ``transf="exp"``) with its confidence interval; its colour shows which
    of the two the estimate favours (blue: the row treatment, vermillion: the column
    treatment; which direction is better follows ``res.small_values``) and how strongly,
    on a scale symmetric about no difference. Bold numbers: the interval excludes no
    difference. The diagonal names the treatments.

    Parameters
    ----------
    res : NmaResult
        A fit from :func:`metareview.nma`.
    ax : matplotlib Axes, optional
        Where to draw; by default a new figure sized to the number of treatments.
    transf : {"exp"}, optional
        Show ratios (``exp`` of log odds ratios, log risk ratios, ...).
    measure : str, optional
        The effect measure of the network (``"MD"``, ``"OR"``, ...), for the colour bar's
        label; an NmaResult does not carry one.
    digits : int, optional
        Decimals of the numbers shown (default 2).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InputError
        If ``res`` is not an NmaResult or an option is invalid.

    Examples
    --------
    >>> import matplotlib.pyplot as plt, pandas as pd, metareview as mr
    >>> d = pd.DataFrame({"studlab": ["s1", "s2", "s3", "s4"],
    ...                   "treat1": ["A", "B", "A", "A"], "treat2": ["B", "C", "C", "B"],
    ...                   "yi": [0.3, 0.2, 0.6, 0.4], "vi": [0.04, 0.05, 0.06, 0.05]})
    >>> fig = league_heatmap(mr.nma(d, reference="C"))
    >>> [t.get_text() for t in fig.findobj(lambda a: a.get_gid() == "diagonal")]
    ['C', 'B', 'A']
    >>> plt.close(fig)
    """
    _check(res, "league_heatmap()")
    if transf is not None and str(transf).lower() != "exp":
        raise InputError(f'transf must be None or "exp" (ratios); got {transf!r}.')
    scale = resolve_scale(measure, None if transf is None else "exp")
    digits = check_optional(DIGITS, digits)
    digits = 2 if digits is None else digits
    order = [res.treatments[i] for i in np.argsort(-res.pscore, kind="stable")]
    n = len(order)
    pairs = res.pairs().set_index(["treat1", "treat2"])
    est = np.zeros((n, n))
    lb = np.zeros((n, n))
    ub = np.zeros((n, n))
    for i, r in enumerate(order):
        for j, c in enumerate(order):
            if i != j:
                est[i, j], lb[i, j], ub[i, j] = pairs.loc[(r, c), ["estimate", "ci_lb", "ci_ub"]]
    # colour: how strongly the estimate favours the row (negative) or the column (positive)
    favours_column = est if res.small_values == "good" else -est
    reach = float(np.abs(est).max()) or 1.0
    norm = Normalize(-reach, reach)

    longest = max(text_width(t, font(weight="bold")) for t in order)
    cell_text = f"{fmt_num(-8.88, digits)} "
    cell_w = max(
        text_width(cell_text + f"({fmt_num(-8.88, digits)}, {fmt_num(-8.88, digits)})", font()),
        longest,
    )
    cell = max(cell_w + 0.12, 0.9)
    if ax is None:
        size = (n * cell + 1.2, n * 0.45 + 1.0)
        fig, ax = plt.subplots(figsize=size, layout="constrained")
    else:
        fig = ax.figure
    body, bold = font(FONT_SIZE - 0.5), font(FONT_SIZE - 0.5, weight="bold")
    for i, r in enumerate(order):
        for j in range(n):
            y = n - 1 - i
            if i == j:
                ax.add_patch(
                    Rectangle((j, y), 1, 1, facecolor=PALE_GREY, edgecolor="white", lw=1.5)
                )
                ax.text(
                    j + 0.5,
                    y + 0.5,
                    r,
                    fontproperties=font(weight="bold"),
                    ha="center",
                    va="center",
                    color=INK,
                    parse_math=False,
                    gid="diagonal",
                )
                continue
            colour = _HEAT(norm(favours_column[i, j]))
            ax.add_patch(
                Rectangle((j, y), 1, 1, facecolor=colour, edgecolor="white", lw=1.5, gid="cell")
            )
            shown = scale.display(np.array([est[i, j], lb[i, j], ub[i, j]]))
            excludes_null = lb[i, j] > 0 or ub[i, j] < 0
            text = (
                f"{fmt_num(shown[0], digits)}\n"
                f"({fmt_num(shown[1], digits)}, {fmt_num(shown[2], digits)})"
            )
            ax.text(
                j + 0.5,
                y + 0.5,
                text,
                fontproperties=bold if excludes_null else body,
                ha="center",
                va="center",
                color=_ink_on(colour),
                parse_math=False,
                gid="cell-text",
            )
    ax.set_xlim(0, n)
    ax.set_ylim(0, n)
    ax.set_aspect("auto")
    ax.set_axis_off()
    mappable = plt.cm.ScalarMappable(norm=norm, cmap=_HEAT)
    bar = fig.colorbar(mappable, ax=ax, shrink=0.7, pad=0.02)
    bar.outline.set_linewidth(LINE_WIDTH)
    bar.outline.set_edgecolor(GRID_GREY)
    bar.set_ticks([-reach, 0, reach])
    bar.set_ticklabels(["favours row", "no difference", "favours column"])
    bar.ax.tick_params(labelsize=FONT_SIZE - 1, length=2, width=LINE_WIDTH, color=INK)
    what = scale.name if measure else ("Ratio" if transf else "Difference")
    level = f"{100 * res.level:g}%"
    ax.set_title(
        f"{what}, row vs column ({level} CI); ordered by P-score",
        fontproperties=font(),
        color=INK,
        loc="left",
    )
    return check_glyphs(fig)


def _clearance(
    p: tuple[float, float],
    segments: list[tuple[tuple[float, float], tuple[float, float]]],
    placed: list[tuple[float, float]],
) -> float:
    """Distance from ``p`` to the nearest of ``segments`` and of the ``placed`` points."""
    near_line = min((_to_segment(p, *seg) for seg in segments), default=9.0)
    near_point = min((float(np.hypot(p[0] - q[0], p[1] - q[1])) for q in placed), default=9.0)
    return min(near_line, near_point)


def _to_segment(p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance from point ``p`` to the segment from ``a`` to ``b``."""
    pa, ba = np.subtract(p, a), np.subtract(b, a)
    t = float(np.clip(pa @ ba / (ba @ ba), 0.0, 1.0))
    return float(np.hypot(*(pa - t * ba)))


def _ink_on(colour: Any) -> str:
    """Near-black text on light cells, white on dark ones (relative luminance)."""
    r, g, b = to_rgb(colour)
    return "white" if 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.45 else INK


def _check(res: Any, what: str) -> None:
    if not is_fit(res, "nma", "NmaResult"):
        raise InputError(f"{what} needs the result of metareview.nma(); got {type(res).__name__}.")


def _order(res: NmaResult, order: Sequence[str] | None) -> list[str]:
    if order is None:
        return list(res.treatments)
    names = [str(t) for t in order]
    if sorted(names) != sorted(res.treatments):
        missing = sorted(set(res.treatments) - set(names))
        unknown = sorted(set(names) - set(res.treatments))
        twice = sorted({t for t in names if names.count(t) > 1})
        parts = [
            f"missing {', '.join(missing)}" if missing else "",
            f"not treatments of the network: {', '.join(unknown)}" if unknown else "",
            f"given twice: {', '.join(twice)}" if twice else "",
        ]
        raise InputError(
            "order must list every treatment of the network once ("
            + "; ".join(p for p in parts if p)
            + f"); treatments are {', '.join(res.treatments)}."
        )
    return names
