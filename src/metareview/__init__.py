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
from metareview.stats import (
    BatchResult,
    Control,
    GlmmBatchResult,
    GlmmResult,
    KappaResult,
    MhResult,
    MvResult,
    RmaResult,
    RobustResult,
    batch,
    baujat,
    cohen_kappa,
    cumul,
    escalc,
    fleiss_kappa,
    fsn,
    gosh,
    influence,
    krippendorff_alpha,
    leave1out,
    permutest,
    pet_peese,
    ranktest,
    regtest,
    rma,
    rma_batch,
    rma_glmm,
    rma_glmm_batch,
    rma_mh,
    rma_mv,
    rma_peto,
    robust,
    sensitivity,
    simulate,
    trimfill,
)

_PLOTS = frozenset({"baujat_plot", "bubble", "forest", "funnel", "gosh_plot", "labbe", "prisma",
                    "rob", "rob_summary", "save_figure", "simulation_plot"})


def __getattr__(name: str):
    """Figures are imported on first use, so ``import metareview`` does not load matplotlib."""
    if name in _PLOTS:
        from metareview import plots

        return getattr(plots, name)
    raise AttributeError(f"module 'metareview' has no attribute {name!r}")

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
    "influence",
    "krippendorff_alpha",
    "labbe",
    "leave1out",
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
]
