"""Baujat plot: each study's contribution to heterogeneity against its influence on the result."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from metareview.exceptions import InputError
from metareview.plots._axes import style_axes
from metareview.plots._labels import place_labels
from metareview.plots._style import OKABE_ITO, check_glyphs
from metareview.stats.models import RmaResult
from metareview.stats.sensitivity import baujat

__all__ = ["baujat_plot"]

_MARKER_AREA = 30.0  # points squared
_XLABEL = "Contribution to overall heterogeneity (Q)"
_YLABEL = "Influence on overall result"


def baujat_plot(
    res_or_frame: RmaResult | pd.DataFrame,
    *,
    ax: Axes | None = None,
    label_top: int = 5,
) -> Figure:
    """Draw a Baujat plot: contribution to Cochran's Q (x) against influence (y), per study.

    Studies in the upper right both add much heterogeneity and move the pooled result. The
    ``label_top`` most extreme studies are labelled, placed so that no label overlaps another
    label or a point (a thin leader line joins a label set away from its point).

    Parameters
    ----------
    res_or_frame : RmaResult or DataFrame
        A fit from :func:`metareview.rma` (then :func:`metareview.baujat` is called on it),
        or the DataFrame that :func:`metareview.baujat` returned: index = study, columns
        ``x`` (squared Pearson residual, the study's contribution to QE) and ``y`` (its
        influence on the fitted values). Drawn as given, never recomputed.
    ax : matplotlib Axes, optional
        Where to draw; by default a new 4.8 x 3.8 inch figure.
    label_top : int
        Number of studies labelled, the furthest from the origin when each axis is scaled to
        its largest value (``sqrt((x/max x)^2 + (y/max y)^2)``); 0 labels none.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InputError
        If ``res_or_frame`` is neither, the frame lacks numeric, finite, non-negative ``x``
        and ``y`` columns, or ``label_top`` is not a whole number >= 0.

    Notes
    -----
    With fitted values ``x_i' b`` and leave-one-out fits ``b_(-i)`` (metafor's ``baujat``):
    ``x_i = (y_i - x_i' b)^2 / (v_i + tau2)`` and
    ``y_i = (x_i' b_(-i) - x_i' b)^2 / Var(x_i' b_(-i))``.

    References
    ----------
    Baujat B, Mahé C, Pignon J-P, Hill C (2002). A graphical method for exploring
    heterogeneity in meta-analyses: application to a meta-analysis of 65 trials. Stat Med
    21(18):2641-2652. https://doi.org/10.1002/sim.1221

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from metareview import rma
    >>> res = rma([-0.9, -1.6, -1.3, -0.2, 0.5], [0.33, 0.19, 0.42, 0.05, 0.1],
    ...           slab=["A", "B", "C", "D", "E"])
    >>> fig = baujat_plot(res, label_top=2)
    >>> [t.get_text() for t in fig.findobj(lambda a: a.get_gid() == "label")]
    ['E', 'B']
    >>> plt.close(fig)
    """
    frame = _check_frame(res_or_frame)
    n_labels = _check_label_top(label_top)
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.8, 3.8), layout="constrained")
    else:
        fig = ax.figure
    x = frame["x"].to_numpy(dtype=float)
    y = frame["y"].to_numpy(dtype=float)
    labels = [str(s) for s in frame.index]
    ax.scatter(
        x,
        y,
        s=_MARKER_AREA,
        color=OKABE_ITO["blue"],
        edgecolors="white",
        linewidths=0.5,
        zorder=3,
        gid="studies",
    )
    for values, setter in ((x, ax.set_xlim), (y, ax.set_ylim)):
        top = float(values.max()) if values.max() > 0 else 1.0
        setter(-0.04 * top, 1.1 * top)
    style_axes(ax, _XLABEL, _YLABEL)
    if n_labels:
        scaled = np.hypot(x / _safe_max(x), y / _safe_max(y))
        order = np.argsort(-scaled, kind="stable")[:n_labels]
        place_labels(
            ax,
            np.column_stack([x, y]),
            labels,
            [int(i) for i in order],
            radius_pt=np.sqrt(_MARKER_AREA) / 2,
        )
    return check_glyphs(fig)


def _safe_max(values: np.ndarray) -> float:
    top = float(values.max())
    return top if top > 0 else 1.0


def _check_frame(obj: Any) -> pd.DataFrame:
    if isinstance(obj, RmaResult):
        return baujat(obj)
    if not isinstance(obj, pd.DataFrame):
        raise InputError(
            "baujat_plot() needs the result of metareview.rma() or the DataFrame from "
            f"metareview.baujat(); got {type(obj).__name__}."
        )
    missing = [c for c in ("x", "y") if c not in obj.columns]
    if missing:
        raise InputError(
            f"baujat_plot() needs columns 'x' and 'y' (as metareview.baujat() returns); the "
            f"frame lacks {', '.join(repr(m) for m in missing)} (columns: {list(obj.columns)})."
        )
    if len(obj) == 0:
        raise InputError("baujat_plot() got an empty frame; it needs one row per study.")
    for column in ("x", "y"):
        values = pd.to_numeric(obj[column], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            studies = ", ".join(repr(str(s)) for s in obj.index[bad][:6])
            raise InputError(
                f"column {column!r} must hold finite numbers >= 0 (squared residuals and "
                f"influence values); got {int(bad.sum())} other value(s) for studies {studies}."
            )
    return obj


def _check_label_top(label_top: Any) -> int:
    if isinstance(label_top, bool) or not isinstance(label_top, int | np.integer) or label_top < 0:
        raise InputError(f"label_top must be a whole number >= 0; got {label_top!r}.")
    return int(label_top)
