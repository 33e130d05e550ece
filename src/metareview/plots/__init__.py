"""Publication-quality figures (matplotlib): forest, funnel, Baujat, GOSH, bubble and L'Abbé
plots, network graphs and league-table heat maps of a network meta-analysis, risk-of-bias
traffic lights and summaries, PRISMA 2020 flow diagram, and the performance of methods in a
simulation study.

Every function takes a result (or counts), reads it without recomputing any statistic and
returns the matplotlib Figure; :func:`save_figure` writes it as PNG, SVG and PDF.
"""

import typing

import metareview._lazy as _lazy

if typing.TYPE_CHECKING:  # the names for type checkers; at run time they come from __getattr__
    from metareview.plots._save import save_figure
    from metareview.plots.baujat import baujat_plot
    from metareview.plots.bubble import bubble
    from metareview.plots.forest import forest
    from metareview.plots.funnel import funnel
    from metareview.plots.gosh import gosh_plot
    from metareview.plots.labbe import labbe
    from metareview.plots.network import league_heatmap, netgraph
    from metareview.plots.prisma import prisma
    from metareview.plots.recall import recall_curve_plot
    from metareview.plots.rob import rob, rob_summary
    from metareview.plots.simulation import simulation_plot

#: where each public name lives. A module is imported when one of its names is first used, so
#: ``from metareview.plots import forest`` (``metareview forest``) loads neither the other
#: figures nor the statistics they draw (the GOSH, Baujat and simulation figures import
#: pandas with their statistics; issue 21.19, start-up time).
_ORIGIN = {
    "baujat_plot": "baujat",
    "bubble": "bubble",
    "forest": "forest",
    "funnel": "funnel",
    "gosh_plot": "gosh",
    "labbe": "labbe",
    "league_heatmap": "network",
    "netgraph": "network",
    "prisma": "prisma",
    "recall_curve_plot": "recall",
    "rob": "rob",
    "rob_summary": "rob",
    "save_figure": "_save",
    "simulation_plot": "simulation",
}

__all__ = [
    "baujat_plot",
    "bubble",
    "forest",
    "funnel",
    "gosh_plot",
    "labbe",
    "league_heatmap",
    "netgraph",
    "prisma",
    "recall_curve_plot",
    "rob",
    "rob_summary",
    "save_figure",
    "simulation_plot",
]


def __getattr__(name: str) -> object:
    """Public names are imported on first use (PEP 562)."""
    return _lazy.lazy_attribute(__name__, _ORIGIN, name)


def __dir__() -> list[str]:
    return _lazy.lazy_dir(__name__)


_lazy.keep_functions_named_like_modules(__name__, _ORIGIN)
