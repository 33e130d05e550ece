"""Errors and warnings raised by metareview.

The hierarchy::

    MetareviewError (Exception)
     +-- InputError (ValueError)        bad data or arguments; names the study and column
     +-- ConvergenceError (RuntimeError) an iterative estimator did not converge
     +-- StoreError                     the review store refused an operation that would break
                                        its guarantees (e.g. editing the audit log)

    MetareviewWarning (UserWarning)
     +-- StudyOmittedWarning            a study was left out of a fit (e.g. zero variance)
     +-- MissingDataWarning             missing input cells produced missing effect sizes
     +-- ConvergenceWarning             some rows of a batch did not converge

Every message follows one pattern: the argument, what was found (with row labels),
what is required, and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "ConvergenceError",
    "ConvergenceWarning",
    "InputError",
    "MetareviewError",
    "MetareviewWarning",
    "MissingDataWarning",
    "StoreError",
    "StudyOmittedWarning",
]


class MetareviewError(Exception):
    """Base class of every error metareview raises on purpose."""


class InputError(MetareviewError, ValueError):
    """Input data or arguments that cannot be analysed as given."""


class ConvergenceError(MetareviewError, RuntimeError):
    """An iterative estimator did not converge within its iteration limit."""


class StoreError(MetareviewError):
    """The review store refused an operation that would break its guarantees."""


class MetareviewWarning(UserWarning):
    """Base class of metareview's warnings."""


class StudyOmittedWarning(MetareviewWarning):
    """One or more studies were left out of a fit; the message names them."""


class MissingDataWarning(MetareviewWarning):
    """Missing input values gave missing effect sizes; the message names the rows."""


class ConvergenceWarning(MetareviewWarning):
    """Some meta-analyses of a batch did not converge; their rows are flagged."""
