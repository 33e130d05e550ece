"""Publication-quality figures (matplotlib): forest and funnel plots, PRISMA 2020 flow diagram.

Every function takes a result (or counts), reads it without recomputing any statistic and
returns the matplotlib Figure; :func:`save_figure` writes it as PNG, SVG and PDF.
"""

from metareview.plots._save import save_figure
from metareview.plots.forest import forest
from metareview.plots.funnel import funnel
from metareview.plots.prisma import prisma

__all__ = ["forest", "funnel", "prisma", "save_figure"]
