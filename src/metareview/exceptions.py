"""Errors and warnings raised by metareview.

The hierarchy::

    MetareviewError (Exception)
     +-- InputError (ValueError)        bad data or arguments; names the study and column
     |    +-- FieldsError               several fields of one form refused, one message each
     +-- ConvergenceError (RuntimeError) an iterative estimator did not converge
     +-- StoreError                     the review store refused an operation that would break
          |                             its guarantees (e.g. editing the audit log)
          +-- StaleVoteError            a vote would replace one its caller had not seen
          +-- StaleExtractionError      an extracted or agreed value changed since its
                                        caller saw it

    MetareviewWarning (UserWarning)
     +-- StudyOmittedWarning            a study was left out of a fit (e.g. zero variance)
     +-- MissingDataWarning             missing input cells produced missing effect sizes
     +-- ConvergenceWarning             some rows of a batch did not converge

Every message follows one pattern: the argument, what was found (with row labels),
what is required, and how to fix it.

Advice that names an argument or a method is given as an :class:`Argument` or a
:class:`Method` part of the message, not as text: ``str(error)`` spells it in Python
(``missing='omit'``), and an interface that spells it otherwise renders the same error with
:meth:`InputError.render` (the command line writes ``--missing omit``). One message, one
mechanism, however many interfaces.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Argument",
    "ConvergenceError",
    "ConvergenceWarning",
    "FieldsError",
    "InputError",
    "MetareviewError",
    "MetareviewWarning",
    "Method",
    "MissingDataWarning",
    "StaleExtractionError",
    "StaleVoteError",
    "StoreError",
    "StudyOmittedWarning",
]


@dataclass(frozen=True, slots=True)
class Argument:
    """An argument named in an error message's advice, optionally with the value to pass.

    ``placeholder`` stands for a value the user chooses (``subsets=<number>``).

    Examples
    --------
    >>> str(Argument("missing", "omit")), str(Argument("subsets", placeholder="number"))
    ("missing='omit'", 'subsets=<number>')
    """

    name: str
    value: Any = None
    placeholder: str | None = None

    def __str__(self) -> str:
        if self.placeholder is not None:
            return f"{self.name}=<{self.placeholder}>"
        return self.name if self.value is None else f"{self.name}={self.value!r}"


@dataclass(frozen=True, slots=True)
class Method:
    """A function or method named in an error message's advice (``add_reviewer``).

    Examples
    --------
    >>> str(Method("add_reviewer"))
    'add_reviewer'
    """

    name: str

    def __str__(self) -> str:
        return self.name


class MetareviewError(Exception):
    """Base class of every error metareview raises on purpose."""


class InputError(MetareviewError, ValueError):
    """Input data or arguments that cannot be analysed as given.

    Parameters
    ----------
    *parts : str, Argument or Method
        The message; the :class:`Argument` and :class:`Method` parts are advice that each
        interface spells in its own words (see :meth:`render`).

    Examples
    --------
    >>> error = InputError("yi missing at row 2; pass ", Argument("missing", "omit"), ".")
    >>> str(error)
    "yi missing at row 2; pass missing='omit'."
    >>> error.render(lambda part: "--missing omit")
    'yi missing at row 2; pass --missing omit.'
    """

    def __init__(self, *parts: str | Argument | Method) -> None:
        self.parts = parts
        super().__init__(self.render(str))

    def render(self, spell: Callable[[Argument | Method], str]) -> str:
        """The message with each :class:`Argument` and :class:`Method` part spelt by
        ``spell`` (``str`` spells them in Python)."""
        return "".join(p if isinstance(p, str) else spell(p) for p in self.parts)

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), self.parts


class ConvergenceError(MetareviewError, RuntimeError):
    """An iterative estimator did not converge within its iteration limit."""


class StoreError(MetareviewError):
    """The review store refused an operation that would break its guarantees."""


class StaleVoteError(StoreError):
    """A vote would replace one that its caller had not seen (the same reviewer voted
    meanwhile elsewhere); nothing was written.

    Attributes
    ----------
    record_id, stage : str
        The record and stage.
    stored, stored_reason : str or None
        The vote stored now (None: no vote) and its reason.
    """

    def __init__(
        self, record_id: str, stage: str, stored: str | None, stored_reason: str | None = None
    ) -> None:
        self.record_id, self.stage = record_id, stage
        self.stored, self.stored_reason = stored, stored_reason
        found = "no vote" if stored is None else f"the vote {stored!r}"
        super().__init__(
            f"record {record_id}: your vote at {stage} changed meanwhile "
            f"(another session stored {found}); nothing was written. Look at the "
            "record again and vote again to replace it."
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.record_id, self.stage, self.stored, self.stored_reason)


class FieldsError(InputError):
    """Values of several fields of one form refused at once; nothing was written.

    Attributes
    ----------
    errors : dict
        Field name -> its message (each names the study and the field).
    """

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__(" ".join(self.errors.values()))

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.errors,)


class StaleExtractionError(StoreError):
    """Values would replace ones their caller had not seen (another session saved or agreed
    them meanwhile); nothing was written.

    Attributes
    ----------
    study : str
        The study.
    stored : dict
        Field name -> the value stored now, for each field that changed.
    """

    def __init__(self, study: str, stored: dict[str, Any]) -> None:
        self.study, self.stored = study, dict(stored)
        shown = ", ".join(f"{name} = {value!r}" for name, value in self.stored.items())
        super().__init__(
            f"study {study!r}: changed since you opened it ({shown} stored meanwhile by "
            "another session); nothing was written. Look at the values again, then save."
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.study, self.stored)


class MetareviewWarning(UserWarning):
    """Base class of metareview's warnings."""


class StudyOmittedWarning(MetareviewWarning):
    """One or more studies were left out of a fit; the message names them."""


class MissingDataWarning(MetareviewWarning):
    """Missing input values gave missing effect sizes; the message names the rows."""


class ConvergenceWarning(MetareviewWarning):
    """Some meta-analyses of a batch did not converge; their rows are flagged."""
