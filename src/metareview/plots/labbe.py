"""L'Abbé plot: event proportion in the treatment group against the control group, per study."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

from metareview._validation import Options, check_numeric, check_same_length, describe_rows
from metareview.exceptions import InputError
from metareview.plots._axes import bubbles, log_ticks, set_ratio_ticks, side_key, style_axes
from metareview.plots._scales import fmt_num
from metareview.plots._style import GRID_GREY, LINE_WIDTH, OKABE_ITO, check_glyphs
from metareview.stats.models import RmaResult, check_rma_result

__all__ = ["LABBE_SCALES", "labbe"]

#: accepted ``scale`` values: proportions, log odds, or proportions on a log axis
LABBE_SCALES = Options("scale", ("proportion", "logit", "log"), case_sensitive=False)
_POOLED_MEASURES = ("OR", "RR", "RD", "PETO")
_AREA = (10.0, 360.0)  # marker areas (points squared): smallest, and the largest study
_ADD = 0.5  # continuity correction for zero cells on the logit and log scales (as escalc)


def labbe(
    ai: Any,
    bi: Any,
    ci: Any,
    di: Any,
    *,
    ax: Axes | None = None,
    res: RmaResult | None = None,
    scale: str = "proportion",
    slab: Any = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
) -> Figure:
    """Draw a L'Abbé plot of 2x2 tables: treatment (y) against control (x) event proportion.

    Each study is a circle with area proportional to its total sample size. Studies on the
    dashed line of identity show no difference; below it, fewer events under treatment.
    With ``res`` the pooled effect is drawn as the curve of treatment risks it implies at
    each control risk (a straight line for a risk difference on the proportion scale, for an
    odds ratio on the logit scale and for a risk ratio on the log scale).

    Parameters
    ----------
    ai, bi, ci, di : array-like
        The 2x2 counts as in :func:`metareview.escalc`: events and non-events in the
        treatment group (``ai``, ``bi``) and in the control group (``ci``, ``di``).
    ax : matplotlib Axes, optional
        Where to draw; by default a new 6.2 x 4.4 inch figure (square panel, legend right).
    res : RmaResult, optional
        An intercept-only fit of the same studies with measure OR, RR, RD or PETO (from
        ``rma(escalc(...))``); its pooled estimate (``res.estimate``, as fitted) is drawn.
    scale : {"proportion", "logit", "log"}
        Axes in proportions (linear), in log odds (labelled as proportions), or proportions
        on log axes.
    slab : array-like, optional
        Study labels, used only in error messages.
    xlabel, ylabel : str, optional
        Axis labels; by default "Event proportion, control" and "... treatment".

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InputError
        If a count is missing, negative or not a number, the lengths disagree, a group has
        no participants, ``scale`` is unknown, or ``res`` is not an intercept-only fit of an
        OR, RR, RD or PETO measure on the same number of studies.

    Notes
    -----
    The pooled curve is ``p_T = RR * p_C`` (risk ratio), ``p_T = OR p_C / (1 - p_C + OR p_C)``
    (odds ratio) or ``p_T = p_C + RD`` (risk difference), clipped to proportions in [0, 1].
    On the logit and log scales, studies with a zero cell get 1/2 added to each of their
    four cells (as :func:`metareview.escalc`); on the proportion scale the raw proportions
    are shown.

    References
    ----------
    L'Abbé KA, Detsky AS, O'Rourke K (1987). Meta-analysis in clinical research. Ann Intern
    Med 107(2):224-233. https://doi.org/10.7326/0003-4819-107-2-224

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from metareview import escalc, rma
    >>> ai, bi, ci, di = [4, 6, 3, 62], [119, 300, 228, 13536], [11, 29, 11, 248], [128, 274,
    ...                   209, 12619]
    >>> res = rma(escalc("RR", ai=ai, bi=bi, ci=ci, di=di))
    >>> fig = labbe(ai, bi, ci, di, res=res)
    >>> len(fig.findobj(lambda a: a.get_gid() == "studies")[0].get_offsets())
    4
    >>> plt.close(fig)
    """
    counts = _check_counts(ai, bi, ci, di, slab)
    scale = LABBE_SCALES.check(scale)
    pooled = _check_result(res, len(counts[0]))
    a, b, c, d = counts
    if scale != "proportion":
        zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
        a, b, c, d = (np.where(zero, v + _ADD, v) for v in (a, b, c, d))
    p_t, p_c = a / (a + b), c / (c + d)
    n = counts[0] + counts[1] + counts[2] + counts[3]

    if ax is None:
        fig, ax = plt.subplots(figsize=(6.9, 4.4), layout="constrained")
    else:
        fig = ax.figure
    to_axis = _to_axis(scale)
    lo, hi = _limits(np.concatenate([p_t, p_c]), scale)
    grid = _grid(lo, hi, scale)
    handles: list[Any] = []
    ax.plot(
        to_axis(grid),
        to_axis(grid),
        color=GRID_GREY,
        linewidth=LINE_WIDTH,
        linestyle=(0, (4, 3)),
        zorder=1,
        gid="identity",
    )
    handles.append(
        Line2D(
            [],
            [],
            color=GRID_GREY,
            linewidth=LINE_WIDTH,
            linestyle=(0, (4, 3)),
            label="No difference (y = x)",
        )
    )
    if pooled is not None:
        measure, estimate = pooled
        curve = _implied(measure, estimate, grid)
        inside = (curve > 0) & (curve < 1) if scale != "proportion" else (curve >= 0) & (curve <= 1)
        ax.plot(
            to_axis(grid[inside]),
            to_axis(curve[inside]),
            color=OKABE_ITO["vermillion"],
            linewidth=1.4,
            zorder=2,
            gid="pooled",
        )
        handles.append(
            Line2D(
                [],
                [],
                color=OKABE_ITO["vermillion"],
                linewidth=1.4,
                label=_pooled_label(measure, estimate, res),
            )
        )
    handles.insert(
        0,
        bubbles(
            ax,
            to_axis(p_c),
            to_axis(p_t),
            n,
            area=_AREA,
            zorder=3,
            label="Studies (area proportional\nto total sample size)",
        ),
    )
    _set_axes(ax, scale, lo, hi)
    style_axes(
        ax,
        xlabel if xlabel is not None else "Event proportion, control group",
        ylabel if ylabel is not None else "Event proportion, treatment group",
        linear_ticks=scale == "proportion",
    )
    if scale == "log":
        set_ratio_ticks(ax.xaxis)
        set_ratio_ticks(ax.yaxis)
    side_key(ax, handles)
    return check_glyphs(fig)


def _check_counts(ai: Any, bi: Any, ci: Any, di: Any, slab: Any) -> tuple[np.ndarray, ...]:
    names = ("ai", "bi", "ci", "di")
    arrays = {
        name: check_numeric(name, v, allow_nan=False)
        for name, v in zip(names, (ai, bi, ci, di), strict=True)
    }
    k = check_same_length(arrays)
    labels = None if slab is None else [str(s) for s in slab]
    if labels is not None and len(labels) != k:
        raise InputError(f"slab has {len(labels)} labels but there are {k} studies.")
    if k == 0:
        raise InputError("labbe() needs at least one study; got empty counts.")
    for name, values in arrays.items():
        bad = values < 0
        if bad.any():
            raise InputError(
                f"{name} must be counts >= 0; got negative values at {describe_rows(bad, labels)}."
            )
    for group, (events, rest) in (
        ("treatment (ai + bi)", ("ai", "bi")),
        ("control (ci + di)", ("ci", "di")),
    ):
        empty = arrays[events] + arrays[rest] == 0
        if empty.any():
            raise InputError(
                f"the {group} group has no participants at "
                f"{describe_rows(empty, labels)}; drop these studies."
            )
    return tuple(arrays[name] for name in names)


def _check_result(res: Any, k: int) -> tuple[str, float] | None:
    if res is None:
        return None
    check_rma_result(res, "labbe()", model="intercept")
    measure = (res.measure or "").upper()
    if measure not in _POOLED_MEASURES:
        raise InputError(
            f"res must be a fit of measure {', '.join(_POOLED_MEASURES)} (for 2x2 tables); "
            f"got measure {res.measure!r}. Fit rma(escalc('OR', ai=..., ...)) so the measure "
            "is recorded, or pass measure= to rma()."
        )
    if res.k + len(res.omitted) != k:
        raise InputError(
            f"res was fitted to {res.k + len(res.omitted)} studies but the "
            f"tables hold {k}; pass the counts of the same studies."
        )
    return measure, res.estimate


def _implied(measure: str, estimate: float, p_c: np.ndarray) -> np.ndarray:
    """Treatment risk implied by the pooled ``estimate`` (model scale) at control risk p_c."""
    if measure == "RR":
        return np.exp(estimate) * p_c
    if measure == "RD":
        return p_c + estimate
    odds = np.exp(estimate) * p_c / (1 - p_c)
    return odds / (1 + odds)


def _pooled_label(measure: str, estimate: float, res: Any) -> str:
    value = estimate if measure == "RD" else float(np.exp(estimate))
    name = {"PETO": "OR (Peto)"}.get(measure, measure)
    return f"Pooled {name} = {fmt_num(value, 2)}\n({res.method})"


def _to_axis(scale: str):
    if scale == "logit":
        return lambda p: np.log(np.asarray(p) / (1 - np.asarray(p)))
    return lambda p: np.asarray(p, dtype=float)


def _limits(p: np.ndarray, scale: str) -> tuple[float, float]:
    if scale == "proportion":
        top = float(p.max())
        return 0.0, min(1.0, top * 1.08) if top > 0 else 1.0
    lo, hi = float(p.min()), float(p.max())
    if scale == "log":
        return lo / 1.3, min(1.0, hi * 1.3)
    z_lo, z_hi = np.log(lo / (1 - lo)), np.log(hi / (1 - hi))
    pad = 0.06 * ((z_hi - z_lo) or 1.0)
    return float(_expit(z_lo - pad)), float(_expit(z_hi + pad))


def _expit(z: float) -> float:
    return float(1 / (1 + np.exp(-z)))


def _grid(lo: float, hi: float, scale: str) -> np.ndarray:
    if scale == "proportion":
        return np.linspace(lo, hi, 200)
    return np.geomspace(lo, hi, 200)


def _set_axes(ax: Axes, scale: str, lo: float, hi: float) -> None:
    if scale == "log":
        ax.set_xscale("log")
        ax.set_yscale("log")
    to_axis = _to_axis(scale)
    ax.set_xlim(to_axis(lo), to_axis(hi))
    ax.set_ylim(to_axis(lo), to_axis(hi))
    ax.set_aspect("equal", adjustable="box")
    if scale == "logit":
        # log-odds axes labelled with the proportions they stand for
        ticks = [t for t in log_ticks(lo, min(hi, 0.5)) if t < 1]
        ticks += [round(1 - t, 10) for t in reversed(ticks) if 1 - t <= hi and 1 - t > 0.5]
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_locator(FixedLocator([float(to_axis(t)) for t in ticks]))
            axis.set_major_formatter(FixedFormatter([f"{t:g}" for t in ticks]))
            axis.set_minor_locator(NullLocator())
