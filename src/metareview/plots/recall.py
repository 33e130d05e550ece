"""Recall curve of simulated prioritised screening, with where each stopping rule stopped."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from metareview.exceptions import InputError
from metareview.plots._axes import style_axes
from metareview.plots._style import LINE_WIDTH, OKABE_ITO

__all__ = ["recall_curve_plot"]

_RULES = {
    "hypergeometric": (
        "Hypergeometric test (Callaghan & Müller-Hansen 2020)",
        OKABE_ITO["blue"],
        "o",
    ),
    "consecutive_irrelevant": ("Consecutive irrelevant records", OKABE_ITO["vermillion"], "v"),
    "knee": ("Knee method (Cormack & Grossman 2016)", OKABE_ITO["bluish_green"], "s"),
}


def recall_curve_plot(
    simulation: Any, *, ax: Axes | None = None, title: str | None = None
) -> Figure:
    """Draw recall against the share of records screened, one line per seeded run.

    The dotted diagonal is the expected recall of screening in random order, the dashed
    line the stopping rules' recall target; a marker shows where each rule stopped in each
    run (a rule that never stopped is drawn at 100% screened, as the simulation counts it).
    Nothing is recomputed: curves and stops come from the simulation's result.

    Parameters
    ----------
    simulation : metareview.review.simulation.ScreeningSimulation
        The result of :func:`metareview.review.simulation.simulate_screening`.
    ax : matplotlib Axes, optional
        Where to draw; by default a new 5.2 x 3.6 inch figure.
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt, pandas as pd
    >>> from metareview.review.simulation import simulate_screening
    >>> recs = pd.DataFrame({"title": ["ketamine pain trial"] * 3 + ["bird song"] * 17,
    ...                      "included": [1] * 3 + [0] * 17})
    >>> fig = recall_curve_plot(simulate_screening(recs, label_column="included", seeds=2,
    ...                                            abstract=None))
    >>> len(fig.findobj(lambda a: a.get_gid() == "run"))
    2
    >>> plt.close(fig)
    """
    if not (hasattr(simulation, "recall_curves") and hasattr(simulation, "runs")):
        raise InputError(
            "recall_curve_plot() needs the result of simulate_screening(); got "
            f"{type(simulation).__name__}."
        )
    curves = simulation.recall_curves()
    n_records = curves.shape[1] - 1
    share = np.arange(n_records + 1) / n_records * 100
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.2, 3.6), layout="constrained")
    else:
        fig = ax.figure
    ax.plot(
        [0, 100],
        [0, 1],
        linestyle=":",
        color=OKABE_ITO["black"],
        linewidth=LINE_WIDTH,
        gid="random",
    )
    target = float(simulation.settings.get("recall_target", 0.95))
    ax.axhline(target, linestyle="--", color="0.5", linewidth=LINE_WIDTH, gid="target")
    for curve in curves:
        ax.plot(share, curve, color="0.35", linewidth=LINE_WIDTH, alpha=0.6, gid="run")
    handles = [
        Line2D(
            [],
            [],
            color="0.35",
            linewidth=LINE_WIDTH,
            label=f"{curves.shape[0]} seeded run{'s' if curves.shape[0] > 1 else ''}",
        ),
        Line2D(
            [],
            [],
            color=OKABE_ITO["black"],
            linestyle=":",
            linewidth=LINE_WIDTH,
            label="Random order (expected)",
        ),
    ]
    for rule, (label, colour, marker) in _RULES.items():
        column = f"{rule}_screened"
        if column not in simulation.runs.columns:
            continue
        screened = simulation.runs[column].to_numpy(dtype=int)
        recall = simulation.runs[f"{rule}_recall"].to_numpy(dtype=float)
        ax.scatter(
            screened / n_records * 100,
            recall,
            s=22,
            marker=marker,
            color=colour,
            edgecolors="white",
            linewidths=0.5,
            zorder=3,
            gid=f"stop-{rule}",
        )
        handles.append(
            Line2D([], [], linestyle="", marker=marker, color=colour, label=f"Stop: {label}")
        )
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 1.02)
    style_axes(ax, "Records screened (%)", "Recall (share of relevant records found)")
    ax.legend(handles=handles, loc="lower right", frameon=False, fontsize=7)
    if title:
        ax.set_title(title)
    return fig
