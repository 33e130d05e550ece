"""Bubble plot of a meta-regression: effect sizes against one moderator, with the fitted line."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from metareview.exceptions import InputError
from metareview.plots._axes import bubbles, set_ratio_ticks, side_key, style_axes
from metareview.plots._scales import Scale, fmt_num, reference_line, resolve_scale
from metareview.plots._style import (
    GRID_GREY,
    INK,
    LINE_WIDTH,
    SKY_BLUE_TINTS,
    check_glyphs,
    font,
)
from metareview.stats.models import RmaResult, check_rma_result

__all__ = ["bubble"]

_GRID_POINTS = 200
_AREA = (8.0, 400.0)  # marker areas (points squared): smallest, and the largest weight
_CI_FILL = SKY_BLUE_TINTS[2]
_PI_FILL = SKY_BLUE_TINTS[0]


def bubble(
    res: RmaResult,
    mod: str | None = None,
    *,
    ax: Axes | None = None,
    transf: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    refline: float | bool | None = None,
) -> Figure:
    """Draw a bubble plot of a meta-regression: ``yi`` against one moderator.

    Each study is a circle whose area is proportional to its weight in the model
    (``res.weights``). The fitted line, its confidence band and the prediction band are read
    from ``res.predict(newmods=...)`` along the moderator's observed range; other moderators
    are held at their mean (stated in the legend).

    Parameters
    ----------
    res : RmaResult
        A meta-regression from :func:`metareview.rma` with ``mods=``.
    mod : str, optional
        The moderator on the x axis, one of ``res.coef_names[1:]``; may be left out when the
        model has a single moderator.
    ax : matplotlib Axes, optional
        Where to draw; by default a new 6.5 x 4 inch figure with the legend on the right.
    transf : str, optional
        Display scale of the effects, as in :func:`metareview.plots.forest`: ``"exp"``
        (ratios, drawn on a log axis), ``"expit"``, ``"ipft.hm"``, ``"iarcsin"``,
        ``"ztor"`` or ``"percent"``. Default: the model scale.
    xlabel, ylabel : str, optional
        Axis labels; by default the moderator's name and the measure on the display scale.
    refline : float, bool or None
        Horizontal reference line on the display scale. None: 0 for differences and log
        ratios, 1 for back-transformed ratios, none for proportions; False: no line.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InputError
        If ``res`` is not an :class:`RmaResult`, has no moderators, ``mod`` is not one of
        them (or is missing for a model with several), or ``transf`` or ``refline`` is
        invalid.

    Notes
    -----
    The line is ``b0 + b_mod * x + sum_j b_j * mean(x_j)`` over the other moderators, with
    the confidence band ``pred ± z * SE(pred)`` and the prediction band
    ``pred ± z * sqrt(SE(pred)^2 + tau2)`` as ``res.predict`` gives them (t quantiles for
    Knapp-Hartung fits; no prediction band for equal-effects models). Holding dummy
    variables at their mean gives the line of an average study, not of a category.

    References
    ----------
    Thompson SG, Higgins JPT (2002). How should meta-regression analyses be undertaken and
    interpreted? Stat Med 21(11):1559-1573. https://doi.org/10.1002/sim.1187

    Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package. J Stat
    Softw 36(3):1-48. https://doi.org/10.18637/jss.v036.i03 (``regplot``)

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from metareview import rma
    >>> res = rma([-0.9, -1.6, -1.3, -0.2, -0.5, 0.1], [0.3, 0.2, 0.4, 0.05, 0.1, 0.2],
    ...           mods=np.array([44.0, 55, 52, 13, 33, 18]))
    >>> fig = bubble(res, transf="exp")
    >>> ax = fig.axes[0]
    >>> len(ax.collections[-1].get_offsets()), ax.get_xlabel(), ax.get_yscale()
    (6, 'mod1', 'log')
    >>> plt.close(fig)
    """
    j = _check(res, mod)
    scale = resolve_scale(res.measure, transf, ni=res.ni)
    ref = reference_line(refline, scale)
    x = res.X[:, j]
    means = res.X[:, 1:].mean(axis=0)
    grid = np.linspace(float(x.min()), float(x.max()), _GRID_POINTS)
    newmods = np.tile(means, (_GRID_POINTS, 1))
    newmods[:, j - 1] = grid
    band = _predict(res, scale, newmods)
    y = scale.display(res.yi)

    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 4.0), layout="constrained")
    else:
        fig = ax.figure
    if scale.log_axis:
        ax.set_yscale("log")
    level = f"{100 * res.level:g}%"
    handles: list[Any] = []
    has_pi = bool(np.all(np.isfinite(band["pi_lb"])))
    if has_pi:
        ax.fill_between(
            grid,
            band["pi_lb"],
            band["pi_ub"],
            color=_PI_FILL,
            linewidth=0,
            zorder=1,
            gid="prediction-band",
        )
        ax.plot(
            grid,
            band["pi_lb"],
            grid,
            band["pi_ub"],
            color=GRID_GREY,
            linewidth=0.6,
            linestyle=(0, (1.5, 1.5)),
            zorder=1,
            gid="prediction-limits",
        )
    ax.fill_between(
        grid,
        band["ci_lb"],
        band["ci_ub"],
        color=_CI_FILL,
        linewidth=0,
        zorder=1.5,
        gid="confidence-band",
    )
    if ref is not None:
        ax.axhline(ref, color=GRID_GREY, linewidth=LINE_WIDTH, zorder=1.6, gid="refline")
    ax.plot(grid, band["pred"], color=INK, linewidth=1.4, zorder=3, gid="fitted")
    handles.append(
        bubbles(
            ax,
            x,
            y,
            res.weights,
            area=_AREA,
            zorder=4,
            label="Studies (area proportional\nto weight)",
        )
    )
    handles.append(Line2D([], [], color=INK, linewidth=1.4, label="Fitted line"))
    handles.append(Patch(facecolor=_CI_FILL, label=f"{level} CI"))
    if has_pi:
        handles.append(
            Patch(
                facecolor=_PI_FILL,
                edgecolor=GRID_GREY,
                linestyle=":",
                linewidth=0.6,
                label=f"{level} prediction interval",
            )
        )
    names = res.coef_names
    held = [
        f"{names[k]} = {fmt_num(float(means[k - 1]), _digits(means[k - 1]))}"
        for k in range(1, res.p)
        if k != j
    ]
    title = None
    if held:
        title = "Other moderators at\ntheir mean: " + ", ".join(held)
    style_axes(
        ax,
        xlabel if xlabel is not None else names[j],
        ylabel if ylabel is not None else scale.name,
        linear_ticks=not scale.log_axis,
    )
    pad = 0.04 * (float(x.max() - x.min()) or 1.0)
    ax.set_xlim(float(x.min()) - pad, float(x.max()) + pad)
    if scale.log_axis:
        ax.autoscale_view()
        set_ratio_ticks(ax.yaxis)
    side_key(
        ax,
        handles,
        handlelength=1.8,
        title=title,
        title_fontproperties=font(),
        alignment="left",
    )
    return check_glyphs(fig)


def _digits(value: float) -> int:
    return 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2


def _predict(res: RmaResult, scale: Scale, newmods: np.ndarray) -> dict[str, np.ndarray]:
    if scale.transf == "percent":
        raw = res.predict(newmods=newmods)
        return {key: 100 * np.asarray(val, dtype=float) for key, val in raw.items()}
    out = res.predict(transf=scale.transf, newmods=newmods)
    return {key: np.asarray(val, dtype=float) for key, val in out.items()}


def _check(res: object, mod: Any) -> int:
    res = check_rma_result(res, "bubble()", model="mods", fix="For the pooled effect use forest().")
    moderators = list(res.coef_names[1:])
    if mod is None:
        if len(moderators) > 1:
            raise InputError(
                f"res has {len(moderators)} moderators ({', '.join(moderators)}); pass mod= "
                "to choose the one on the x axis (the others are held at their mean)."
            )
        return 1
    if mod not in moderators:
        raise InputError(f"mod must be one of the model's moderators {moderators}; got {mod!r}.")
    return 1 + moderators.index(mod)
