"""Statistics layer: effect sizes, the batched pooling kernel, meta-analytic models,
publication bias and sensitivity analyses.

Arrays and DataFrames in, result objects out; nothing here knows about reviews. Inter-rater
agreement (kappa, Krippendorff's alpha) lives here too: it is statistics on ratings.
"""

import typing

import metareview._lazy as _lazy

if typing.TYPE_CHECKING:  # the names for type checkers; at run time they come from __getattr__
    from metareview.stats.agreement import (
        KappaResult,
        cohen_kappa,
        fleiss_kappa,
        krippendorff_alpha,
        wide_ratings,
    )
    from metareview.stats.batch import batch
    from metareview.stats.bias import (
        FsnResult,
        PetPeeseResult,
        RanktestResult,
        RegtestResult,
        TrimfillResult,
        fsn,
        pet_peese,
        ranktest,
        regtest,
        trimfill,
    )
    from metareview.stats.effects import escalc
    from metareview.stats.glmm import GlmmBatchResult, GlmmResult, rma_glmm, rma_glmm_batch
    from metareview.stats.kernel import BatchResult, Control, keep_freed_memory, rma_batch
    from metareview.stats.mh import MhResult, rma_mh, rma_peto
    from metareview.stats.models import RmaResult, rma
    from metareview.stats.mv import MvResult, impute_covariance_matrix, rma_mv, vcalc
    from metareview.stats.nma import NmaResult, nma
    from metareview.stats.robust import RobustResult, robust
    from metareview.stats.sensitivity import (
        GoshResult,
        PermutestResult,
        SensitivityResult,
        baujat,
        cumul,
        gosh,
        influence,
        leave1out,
        permutest,
        sensitivity,
    )
    from metareview.stats.simulate import SimulationResult, simulate
    from metareview.stats.transforms import back_transform

#: where each public name lives. A module is imported when one of its names is first used, so
#: ``import metareview.stats`` (and ``from metareview.stats import rma``) loads only what it
#: needs: not scipy.stats, scipy.optimize or dask (issue 21.19, start-up time).
_ORIGIN = {
    "BatchResult": "kernel",
    "Control": "kernel",
    "FsnResult": "bias",
    "GlmmBatchResult": "glmm",
    "GlmmResult": "glmm",
    "GoshResult": "sensitivity",
    "KappaResult": "agreement",
    "MhResult": "mh",
    "MvResult": "mv",
    "NmaResult": "nma",
    "PermutestResult": "sensitivity",
    "PetPeeseResult": "bias",
    "RanktestResult": "bias",
    "RegtestResult": "bias",
    "RmaResult": "models",
    "RobustResult": "robust",
    "SensitivityResult": "sensitivity",
    "SimulationResult": "simulate",
    "TrimfillResult": "bias",
    "back_transform": "transforms",
    "batch": "batch",
    "baujat": "sensitivity",
    "cohen_kappa": "agreement",
    "cumul": "sensitivity",
    "escalc": "effects",
    "fleiss_kappa": "agreement",
    "fsn": "bias",
    "gosh": "sensitivity",
    "impute_covariance_matrix": "mv",
    "influence": "sensitivity",
    "keep_freed_memory": "kernel",
    "krippendorff_alpha": "agreement",
    "leave1out": "sensitivity",
    "nma": "nma",
    "permutest": "sensitivity",
    "pet_peese": "bias",
    "ranktest": "bias",
    "regtest": "bias",
    "rma": "models",
    "rma_batch": "kernel",
    "rma_glmm": "glmm",
    "rma_glmm_batch": "glmm",
    "rma_mh": "mh",
    "rma_mv": "mv",
    "rma_peto": "mh",
    "robust": "robust",
    "sensitivity": "sensitivity",
    "simulate": "simulate",
    "trimfill": "bias",
    "vcalc": "mv",
    "wide_ratings": "agreement",
}

__all__ = [
    "BatchResult",
    "Control",
    "FsnResult",
    "GlmmBatchResult",
    "GlmmResult",
    "GoshResult",
    "KappaResult",
    "MhResult",
    "MvResult",
    "NmaResult",
    "PermutestResult",
    "PetPeeseResult",
    "RanktestResult",
    "RegtestResult",
    "RmaResult",
    "RobustResult",
    "SensitivityResult",
    "SimulationResult",
    "TrimfillResult",
    "back_transform",
    "batch",
    "baujat",
    "cohen_kappa",
    "cumul",
    "escalc",
    "fleiss_kappa",
    "fsn",
    "gosh",
    "impute_covariance_matrix",
    "influence",
    "keep_freed_memory",
    "krippendorff_alpha",
    "leave1out",
    "nma",
    "permutest",
    "pet_peese",
    "ranktest",
    "regtest",
    "rma",
    "rma_batch",
    "rma_glmm",
    "rma_glmm_batch",
    "rma_mh",
    "rma_mv",
    "rma_peto",
    "robust",
    "sensitivity",
    "simulate",
    "trimfill",
    "vcalc",
    "wide_ratings",
]


def __getattr__(name: str) -> object:
    """Public names are imported on first use (PEP 562)."""
    return _lazy.lazy_attribute(__name__, _ORIGIN, name)


def __dir__() -> list[str]:
    return _lazy.lazy_dir(__name__)


_lazy.keep_functions_named_like_modules(__name__, _ORIGIN)
