"""metareview: systematic review and meta-analysis from search export to report.

The public surface is re-exported here; see ``metareview.stats`` for the statistics layer.
"""

from metareview._version import __version__
from metareview.exceptions import (
    ConvergenceError,
    ConvergenceWarning,
    InputError,
    MetareviewError,
    MissingDataWarning,
    StoreError,
    StudyOmittedWarning,
)

# The statistics and the figures are imported on first use: ``import metareview`` (and so every
# ``metareview`` command, even ``--help``) does not pay for numpy, scipy, pandas and matplotlib
# until a name that needs them is used. A name of ``__all__`` not defined here comes from
# metareview.plots when it is in _PLOTS, else from metareview.stats.
_PLOTS = frozenset(
    {
        "baujat_plot",
        "bubble",
        "forest",
        "funnel",
        "gosh_plot",
        "labbe",
        "league_heatmap",
        "netgraph",
        "prisma",
        "rob",
        "rob_summary",
        "save_figure",
        "simulation_plot",
    }
)


def __getattr__(name: str):
    """Statistics and figures are imported on first use (PEP 562)."""
    if name in ("stats", "plots"):  # ``mr.stats.keep_freed_memory()`` as before
        import importlib

        value = importlib.import_module(f"metareview.{name}")
    elif name in _PLOTS:
        from metareview import plots

        value = getattr(plots, name)
    elif name in __all__:
        from metareview import stats

        value = getattr(stats, name)
    else:
        raise AttributeError(f"module 'metareview' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "BatchResult",
    "Control",
    "ConvergenceError",
    "ConvergenceWarning",
    "GlmmBatchResult",
    "GlmmResult",
    "InputError",
    "KappaResult",
    "MetareviewError",
    "MhResult",
    "MissingDataWarning",
    "MvResult",
    "NmaResult",
    "RmaResult",
    "RobustResult",
    "StoreError",
    "StudyOmittedWarning",
    "__version__",
    "batch",
    "baujat",
    "baujat_plot",
    "bubble",
    "cohen_kappa",
    "cumul",
    "escalc",
    "fleiss_kappa",
    "forest",
    "fsn",
    "funnel",
    "gosh",
    "gosh_plot",
    "impute_covariance_matrix",
    "influence",
    "krippendorff_alpha",
    "labbe",
    "league_heatmap",
    "leave1out",
    "netgraph",
    "nma",
    "permutest",
    "pet_peese",
    "prisma",
    "ranktest",
    "regtest",
    "rma",
    "rma_batch",
    "rma_glmm",
    "rma_glmm_batch",
    "rma_mh",
    "rma_mv",
    "rma_peto",
    "rob",
    "rob_summary",
    "robust",
    "save_figure",
    "sensitivity",
    "simulate",
    "simulation_plot",
    "trimfill",
    "vcalc",
]
