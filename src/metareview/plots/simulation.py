"""Dot plot of a simulation study: one performance measure per scenario and method."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from metareview._validation import Options
from metareview.exceptions import InputError
from metareview.plots._axes import style_axes
from metareview.plots._style import GRID_GREY, INK, LINE_WIDTH, OKABE_ITO, check_glyphs
from metareview.stats.simulate import METRICS, SimulationResult

__all__ = ["MEASURES", "simulation_plot"]

#: measures of :attr:`SimulationResult.table` that can be drawn
MEASURES = Options("measure", METRICS, case_sensitive=True)
_Z = 1.96  # +/- 1.96 Monte Carlo SE: a 95% interval for the measure


def simulation_plot(
    result: SimulationResult, measure: str = "coverage", *, ax: Axes | None = None
) -> Figure:
    """Draw ``measure`` for every scenario and method with +/- 1.96 Monte Carlo SE bars.

    One row per row of ``result.table`` (scenario: method), top to bottom in table order.
    Coverage measures get a dashed line at the nominal level (``result.level``).

    Parameters
    ----------
    result : SimulationResult
        What :func:`metareview.simulate` returned; drawn as given, nothing is recomputed.
    measure : str
        A column of ``result.table`` with its ``_mcse``: "bias", "mse", "coverage",
        "rejection", "mean_tau2" or "pi_coverage".
    ax : matplotlib Axes, optional
        Where to draw; by default a new figure 6.5 inches wide and 0.35 inch per row.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InputError
        If ``result`` is not a :class:`SimulationResult` or ``measure`` is not one of the
        measures above.

    References
    ----------
    Morris TP, White IR, Crowther MJ (2019). Using simulation studies to evaluate
    statistical methods. Stat Med 38(11):2074-2102. https://doi.org/10.1002/sim.8086

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from metareview import simulate
    >>> out = simulate({"k5": {"theta": 0.0, "tau2": 0.1, "k": 5}}, ["DL", "REML"],
    ...                reps=200, seed=3)
    >>> fig = simulation_plot(out, "coverage")
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['k5: DL', 'k5: REML']
    >>> plt.close(fig)
    """
    if not isinstance(result, SimulationResult):
        raise InputError(
            "simulation_plot() needs the result of metareview.simulate(); "
            f"got {type(result).__name__}."
        )
    measure = MEASURES.check(measure)
    table = result.table
    if measure not in table.columns:  # pi_coverage is absent when only EE was simulated
        raise InputError(
            f"the simulation has no {measure!r} column (methods: "
            f"{', '.join(table['method'].unique())}); choose one of {', '.join(table.columns)}."
        )
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 0.35 * len(table) + 1.2), layout="constrained")
    else:
        fig = ax.figure
    labels = [f"{row.scenario}: {row.method}" for row in table.itertuples()]
    y = np.arange(len(labels))[::-1]
    ax.errorbar(
        table[measure],
        y,
        xerr=_Z * table[f"{measure}_mcse"],
        fmt="o",
        markersize=4,
        color=OKABE_ITO["blue"],
        ecolor=INK,
        elinewidth=LINE_WIDTH,
        capsize=2,
        gid="estimates",
    )
    if measure.endswith("coverage"):
        ax.axvline(
            result.level / 100, color=GRID_GREY, linewidth=LINE_WIDTH, linestyle="--", gid="nominal"
        )
    style_axes(ax, f"{measure} (\u00b1 1.96 Monte Carlo SE, {result.reps:,} reps)")
    ax.set_yticks(y, labels)
    ax.set_ylim(-0.7, len(labels) - 0.3)
    ax.tick_params(axis="y", length=0)
    return check_glyphs(fig)
