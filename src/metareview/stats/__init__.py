"""Statistics layer: effect sizes, the batched pooling kernel and meta-analytic models.

Arrays and DataFrames in, result objects out; nothing here knows about reviews.
"""

from metareview.stats.effects import escalc
from metareview.stats.kernel import BatchResult, Control, rma_batch
from metareview.stats.models import RmaResult, rma
from metareview.stats.transforms import back_transform

__all__ = [
    "BatchResult",
    "Control",
    "RmaResult",
    "back_transform",
    "escalc",
    "rma",
    "rma_batch",
]
