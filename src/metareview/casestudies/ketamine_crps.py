"""The founding case study: Zhao, Wang & Wang (2018), ketamine infusion for complex regional
pain syndrome, Curr. Pain Headache Rep. 22:12, https://doi.org/10.1007/s11916-018-0664-x.

The data (``examples/ketamine-crps/table1.csv``, Table 1 transcribed cell for cell) and the
protocol (``protocol.toml``) live in the review folder; the full analysis is
``metareview report examples/ketamine-crps``. This module keeps two shortcuts used by the
``metareview seed`` command and the tests.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from metareview.exceptions import MetareviewWarning, StudyOmittedWarning
from metareview.report.analyses import analyse_outcome
from metareview.report.protocol import load_protocol
from metareview.stats.models import RmaResult

__all__ = ["PUBLISHED_IMMEDIATE", "immediate_response_rate", "read_table1"]

#: the paper's abstract: "The immediate pain relief event rate was 69% (95% CI 53%, 84%)"
PUBLISHED_IMMEDIATE = {"estimate": 0.69, "ci_lb": 0.53, "ci_ub": 0.84}


def read_table1(folder: str | Path) -> pd.DataFrame:
    """Table 1 as printed (every cell a string), indexed by "Study (Year)" labels."""
    return load_protocol(folder).table


def immediate_response_rate(folder: str | Path) -> RmaResult:
    """Pool the immediate pain-relief event rate as the paper did (DL on raw proportions).

    Studies left out of the fit (the 0% study has zero variance) are announced with a
    :class:`~metareview.exceptions.StudyOmittedWarning`.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     res = immediate_response_rate("examples/ketamine-crps")
    >>> round(res.estimate, 3), res.k, res.omitted
    (0.688, 8, ('Kiefer, R et al (2008b)',))
    """
    protocol = load_protocol(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetareviewWarning)
        analysis = analyse_outcome(protocol, protocol.outcome("immediate"))
    for note in analysis.published_notes:
        warnings.warn(note, StudyOmittedWarning, stacklevel=2)
    return analysis.published
