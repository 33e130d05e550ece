"""Statistics layer: effect sizes, the batched pooling kernel, meta-analytic models,
publication bias and sensitivity analyses.

Arrays and DataFrames in, result objects out; nothing here knows about reviews. Inter-rater
agreement (kappa, Krippendorff's alpha) lives here too: it is statistics on ratings.
"""

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
