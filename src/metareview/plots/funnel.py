"""Funnel plot, optionally contour-enhanced, with trim-and-fill studies and Egger's line."""

from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from metareview._validation import check_numeric, check_same_length
from metareview.exceptions import InputError
from metareview.plots._axes import side_key, style_axes
from metareview.plots._fits import is_fit
from metareview.plots._scales import resolve_scale
from metareview.plots._style import (
    GREYS,
    GRID_GREY,
    INK,
    LINE_WIDTH,
    OKABE_ITO,
    check_glyphs,
    font,
)
from metareview.stats import _distributions as dist
from metareview.stats.bias import RegtestResult, regtest
from metareview.stats.models import RmaResult, check_rma_result

if TYPE_CHECKING:  # pragma: no cover - the modules import pandas: see plots/_fits.py
    from metareview.stats.glmm import GlmmResult
    from metareview.stats.mh import MhResult

__all__ = ["CONTOUR_LEVELS", "funnel"]

#: two-sided p-values bounding the shaded significance regions (Peters et al., 2008)
CONTOUR_LEVELS = (0.10, 0.05, 0.01)
# light to less light as significance grows: p > .10 | .05-.10 | .01-.05 | < .01; the
# darkest covers most of the panel, so it stays a pale grey behind the data
_SHADES = GREYS[:4]


def funnel(
    res: RmaResult | MhResult | GlmmResult,
    *,
    contours: bool = True,
    filled: tuple[Any, Any] | None = None,
    egger_line: tuple[float, float] | RegtestResult | bool | None = False,
    xlabel: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Draw a funnel plot of ``res``: effect sizes against their standard errors.

    The standard-error axis is inverted (0 at the top), so precise studies sit at the top.
    Dashed lines mark the pseudo confidence region ``estimate ± z * SE`` (at ``res.level``)
    around the pooled estimate (solid line).

    Parameters
    ----------
    res : RmaResult, MhResult or GlmmResult
        An intercept-only fit from :func:`metareview.rma`; or a Mantel-Haenszel, Peto or GLMM
        fit, drawn with each study's own estimate (``res.study_table()``; studies without
        one are left out) around the pooled estimate, as metafor's ``funnel`` on
        ``rma.mh``/``rma.peto``/``rma.glmm`` fits.
    contours : bool
        Shade the regions where a study would be statistically significant at two-sided
        p < 0.10, 0.05 and 0.01 (contours around 0, the null on the model scale).
    filled : tuple (yi, vi), optional
        Effect sizes and sampling variances of studies imputed by trim and fill, drawn as
        hollow markers.
    egger_line : bool, RegtestResult or tuple (intercept, slope)
        Egger's regression in its classical form ``yi/sei = intercept + slope * (1/sei)``
        (Egger et al., 1997): ``intercept`` measures asymmetry, ``slope`` is the effect at
        SE = 0. It is the line ``yi = slope + intercept * sei`` in the funnel and is drawn
        from SE = 0 down to the largest SE. ``True`` draws the classical test,
        ``metareview.regtest(res, predictor="sei", model="lm")``; a :class:`RegtestResult`
        with ``predictor="sei"`` is drawn as fitted (for ``model="rma"`` the pair is the
        coefficient of ``sei`` and the intercept); a pair is drawn as given. False or None
        (the default) draws no line.
    xlabel : str, optional
        Axis label; default names ``res.measure`` on the model scale.
    ax : matplotlib Axes, optional
        Where to draw; by default a new 6 x 4 inch figure with the legend on the right.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InputError
        If ``res`` is not an intercept-only :class:`RmaResult`, or ``filled`` or
        ``egger_line`` are malformed (a regression test on another predictor than ``sei``).

    References
    ----------
    Peters JL, Sutton AJ, Jones DR, Abrams KR, Rushton L (2008). Contour-enhanced
    meta-analysis funnel plots help distinguish publication bias from other causes of
    asymmetry. J Clin Epidemiol 61(10):991-996. https://doi.org/10.1016/j.jclinepi.2007.11.010

    Sterne JAC, Egger M (2001). Funnel plots for detecting bias in meta-analysis: guidelines
    on choice of axis. J Clin Epidemiol 54(10):1046-1055.
    https://doi.org/10.1016/S0895-4356(01)00377-8

    Egger M, Davey Smith G, Schneider M, Minder C (1997). Bias in meta-analysis detected by
    a simple, graphical test. BMJ 315:629-634. https://doi.org/10.1136/bmj.315.7109.629

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from metareview import rma
    >>> res = rma([-0.9, -1.6, -1.3, -0.2, -0.5], [0.33, 0.19, 0.42, 0.05, 0.1])
    >>> fig = funnel(res, filled=([0.4], [0.3]))
    >>> {c.get_gid(): len(c.get_offsets()) for c in fig.axes[0].collections
    ...  if c.get_gid() in ("studies", "filled")}
    {'studies': 5, 'filled': 1}
    >>> plt.close(fig)
    """
    if is_fit(res, "mh", "MhResult") or is_fit(res, "glmm", "GlmmResult"):
        table = res.study_table()
        usable = np.isfinite(table["yi"].to_numpy()) & np.isfinite(table["vi"].to_numpy())
        yi, vi = table["yi"].to_numpy()[usable], table["vi"].to_numpy()[usable]
        if egger_line is True or isinstance(egger_line, RegtestResult):
            raise InputError(
                "egger_line=True needs an rma() fit (Egger's test is a "
                "regression of the inverse-variance estimates); pass "
                "egger_line=(intercept, slope) from regtest() of an rma() fit."
            )
    else:
        _check_result(res)
        yi, vi = res.yi, res.vi
    imputed = _check_filled(filled)
    line = _check_egger(res, egger_line)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.0, 4.0), layout="constrained")
    else:
        fig = ax.figure
    sei = np.sqrt(vi)
    se_all = sei if imputed is None else np.concatenate([sei, np.sqrt(imputed[1])])
    se_max = float(se_all.max()) * 1.08
    crit = float(dist.norm.isf((1 - res.level) / 2))
    est = res.estimate
    se_grid = np.linspace(0, se_max, 2)

    shades = _draw_contours(ax, se_max) if contours else []
    handles: list[Any] = []
    level = f"{100 * res.level:g}%"
    ax.plot(
        est - crit * se_grid,
        se_grid,
        linestyle=(0, (4, 3)),
        color=INK,
        linewidth=LINE_WIDTH,
        zorder=2,
        gid="pseudo-ci",
    )
    ax.plot(
        est + crit * se_grid,
        se_grid,
        linestyle=(0, (4, 3)),
        color=INK,
        linewidth=LINE_WIDTH,
        zorder=2,
    )
    ax.plot([est, est], [0, se_max], color=INK, linewidth=LINE_WIDTH, zorder=2, gid="estimate")
    handles += [
        Line2D([], [], color=INK, linewidth=LINE_WIDTH, label="Pooled estimate"),
        Line2D(
            [],
            [],
            color=INK,
            linewidth=LINE_WIDTH,
            linestyle=(0, (4, 3)),
            label=f"Pseudo {level} CI",
        ),
    ]
    if line is not None:
        intercept, slope = line
        ax.plot(
            slope + intercept * se_grid,
            se_grid,
            color=OKABE_ITO["vermillion"],
            linewidth=1.2,
            zorder=3,
            gid="egger",
        )
        handles.append(
            Line2D(
                [], [], color=OKABE_ITO["vermillion"], linewidth=1.2, label="Egger regression line"
            )
        )
    ax.scatter(
        yi,
        sei,
        s=22,
        color=OKABE_ITO["blue"],
        edgecolors="white",
        linewidths=0.4,
        zorder=4,
        gid="studies",
    )
    handles.append(
        Line2D(
            [],
            [],
            linestyle="none",
            marker="o",
            markersize=5,
            color=OKABE_ITO["blue"],
            label="Studies",
        )
    )
    if imputed is not None:
        ax.scatter(
            imputed[0],
            np.sqrt(imputed[1]),
            s=22,
            facecolors="none",
            edgecolors=OKABE_ITO["blue"],
            linewidths=1.0,
            zorder=4,
            gid="filled",
        )
        handles.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker="o",
                markersize=5,
                markerfacecolor="none",
                color=OKABE_ITO["blue"],
                label="Imputed (trim and fill)",
            )
        )

    xs = [yi, est - crit * se_max, est + crit * se_max]
    if contours:
        z_outer = dist.norm.isf(min(CONTOUR_LEVELS) / 2)
        xs += [-z_outer * se_max, z_outer * se_max]
    if imputed is not None:
        xs.append(imputed[0])
    lo, hi = float(np.min(np.hstack(xs))), float(np.max(np.hstack(xs)))
    pad = 0.04 * (hi - lo)
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(se_max, 0)
    style_axes(
        ax,
        xlabel if xlabel is not None else resolve_scale(res.measure, None).name,
        "Standard error",
    )
    # one key, top right beside the panel: what is drawn, then the shading under a heading
    if shades:
        handles += [Patch(visible=False, label="Study significance\n(two-sided, vs 0)"), *shades]
    key = side_key(ax, handles, alignment="left")
    if shades:
        heading = key.get_texts()[len(handles) - len(shades) - 1]
        heading.set_fontproperties(font(weight="bold"))
        heading.set_gid("significance-heading")
    return check_glyphs(fig)


def _draw_contours(ax: Axes, se_max: float) -> list[Patch]:
    se = np.linspace(0, se_max, 2)
    ax.set_facecolor(_SHADES[-1])
    ax.patch.set_gid("contour-outside")
    for shade, p in zip(_SHADES[-2::-1], sorted(CONTOUR_LEVELS), strict=True):
        z = dist.norm.isf(p / 2)
        ax.fill_betweenx(
            se, -z * se, z * se, color=shade, linewidth=0, zorder=1, gid=f"contour-{p:g}"
        )
    bounds = (1.0, *CONTOUR_LEVELS, 0.0)
    labels = [
        f"{lo:.2f} < p ≤ {hi:.2f}" if lo > 0 else f"p ≤ {hi:.2f}" for hi, lo in pairwise(bounds)
    ]
    return [
        Patch(facecolor=shade, edgecolor=GRID_GREY, linewidth=0.5, label=label)
        for shade, label in zip(_SHADES, labels, strict=True)
    ]


def _check_result(res: object) -> None:
    check_rma_result(res, "funnel()", model="intercept", fix="Refit without mods=.")


def _check_filled(filled: Any) -> tuple[np.ndarray, np.ndarray] | None:
    if filled is None:
        return None
    if not isinstance(filled, tuple | list) or len(filled) != 2:
        raise InputError(
            "filled must be a pair (yi, vi) of the imputed studies' effect sizes and "
            f"variances; got {type(filled).__name__}."
        )
    yi = check_numeric("filled yi", filled[0], allow_nan=False)
    vi = check_numeric("filled vi", filled[1], allow_nan=False)
    check_same_length({"filled yi": yi, "filled vi": vi})
    if (vi <= 0).any():
        raise InputError(
            f"filled vi must be > 0; got {vi[vi <= 0].tolist()}. "
            "Pass variances (not standard errors) of the imputed studies."
        )
    return yi, vi


def _check_egger(res: Any, egger_line: Any) -> tuple[float, float] | None:
    if egger_line is None or egger_line is False:
        return None
    if egger_line is True:
        egger_line = regtest(res, predictor="sei", model="lm")
    if isinstance(egger_line, RegtestResult):
        if egger_line.predictor != "sei":
            raise InputError(
                "egger_line draws a regression on the standard error; got a regression test "
                f"with predictor={egger_line.predictor!r}. Use regtest(res, predictor='sei')."
            )
        limit, coef_sei = (float(b) for b in egger_line.fit.beta)
        return coef_sei, limit
    try:
        intercept, slope = (float(v) for v in egger_line)
    except (TypeError, ValueError):
        raise InputError(
            "egger_line must be True, False, a regtest() result or a pair (intercept, slope) "
            f"of Egger's regression yi/sei = intercept + slope/sei; got {egger_line!r}."
        ) from None
    if not (np.isfinite(intercept) and np.isfinite(slope)):
        raise InputError(f"egger_line must hold finite numbers; got {egger_line!r}.")
    return intercept, slope
