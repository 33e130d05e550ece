"""Publication-quality figures (matplotlib): forest, funnel, Baujat, GOSH, bubble and L'Abbé
plots, network graphs and league-table heat maps of a network meta-analysis, risk-of-bias
traffic lights and summaries, PRISMA 2020 flow diagram, and the performance of methods in a
simulation study.

Every function takes a result (or counts), reads it without recomputing any statistic and
returns the matplotlib Figure; :func:`save_figure` writes it as PNG, SVG and PDF.
"""

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
