"""Which kind of fit a figure was given, without importing the modules of the other kinds.

:mod:`metareview.stats.mv` and :mod:`metareview.stats.nma` import ``scipy.optimize``,
``scipy.sparse`` and ``scipy.stats`` (about 0.8 s of start-up), :mod:`~metareview.stats.glmm`
and :mod:`~metareview.stats.mh` pandas: a figure of an ``rma`` fit (``metareview forest``,
``funnel``) need not load them just to learn that its fit is not a multilevel, network,
GLMM or Mantel-Haenszel one. A result of their classes can exist only once its module is
loaded, so a module not loaded yet means the answer is no (issue 21.19).
"""

from __future__ import annotations

import sys

__all__ = ["is_fit"]


def is_fit(res: object, module: str, name: str) -> bool:
    """``isinstance(res, metareview.stats.<module>.<name>)``, importing nothing.

    Examples
    --------
    >>> from metareview import rma
    >>> is_fit(rma([0.1, 0.3], [0.01, 0.02]), "nma", "NmaResult")
    False
    """
    loaded = sys.modules.get(f"metareview.stats.{module}")
    return loaded is not None and isinstance(res, getattr(loaded, name))
