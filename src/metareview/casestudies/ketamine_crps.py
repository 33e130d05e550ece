"""The founding case study: Zhao, Wang & Wang (2018), ketamine infusion for complex regional
pain syndrome, Curr. Pain Headache Rep. 22:12, https://doi.org/10.1007/s11916-018-0664-x.

This module reproduces the headline immediate pain-relief event rate from the review's own
Table 1 (``examples/ketamine-crps/table1.csv``, transcribed cell for cell). The authors pooled
raw proportions with DerSimonian-Laird in Stata; a 0% study has zero variance there and drops
out of the fit, which metareview reports instead of hiding.

Interim scope: only the two cells this analysis needs are parsed (N, where "19(26)" is read
as 19 as the paper did, and "Immediate response (% relief)", where "-" is missing). The full
cell parser, integrity checks and report are the case-study issue's work.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from metareview.exceptions import InputError
from metareview.stats import escalc, rma
from metareview.stats.models import RmaResult

__all__ = ["PUBLISHED_IMMEDIATE", "immediate_response_rate", "read_table1"]

#: the paper's abstract: "The immediate pain relief event rate was 69% (95% CI 53%, 84%)"
PUBLISHED_IMMEDIATE = {"estimate": 0.69, "ci_lb": 0.53, "ci_ub": 0.84}

N_COLUMN = "N"
RESPONSE_COLUMN = "Immediate response (% relief)"
_LEADING_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)")


def read_table1(folder: str | Path) -> pd.DataFrame:
    """Read ``table1.csv`` from a case-study folder, every cell as printed (strings)."""
    path = Path(folder) / "table1.csv"
    if not path.is_file():
        raise InputError(f"{path} not found: the case-study folder needs table1.csv.")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    for column in ("Study", "Year", N_COLUMN, RESPONSE_COLUMN):
        if column not in table.columns:
            raise InputError(f"{path}: column {column!r} is missing; found {list(table.columns)}.")
    labels = [f"{s} ({y})" for s, y in zip(table["Study"], table["Year"], strict=True)]
    table.index = _disambiguate(labels)
    return table


def _disambiguate(labels: list[str]) -> list[str]:
    """Suffix repeated labels a, b, ... in table order ("Kiefer, R et al (2008a)")."""
    counts = {lab: labels.count(lab) for lab in labels}
    seen: dict[str, int] = {}
    out = []
    for lab in labels:
        if counts[lab] == 1:
            out.append(lab)
            continue
        seen[lab] = seen.get(lab, 0) + 1
        out.append(f"{lab[:-1]}{'abcdefghij'[seen[lab] - 1]})")
    return out


def _leading_number(cell: str, column: str, study: str) -> float | None:
    if cell.strip() in {"-", ""}:
        return None
    match = _LEADING_NUMBER.match(cell)
    if match is None:
        raise InputError(f"study {study!r}, column {column!r}: cannot read a number from {cell!r}.")
    return float(match.group(1))


def immediate_response_rate(folder: str | Path) -> RmaResult:
    """Pool the immediate pain-relief event rate as the paper did (DL on raw proportions).

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     res = immediate_response_rate("examples/ketamine-crps")
    >>> round(res.estimate, 3), res.k, res.omitted
    (0.688, 8, ('Kiefer, R et al (2008b)',))
    """
    table = read_table1(folder)
    rows = []
    for study, row in table.iterrows():
        pct = _leading_number(row[RESPONSE_COLUMN], RESPONSE_COLUMN, str(study))
        if pct is None:
            continue
        n = _leading_number(row[N_COLUMN], N_COLUMN, str(study))
        rows.append({"study": study, "pi": pct / 100, "ni": n})
    data = pd.DataFrame(rows).set_index("study")
    effects = escalc("PR", data, pi="pi", ni="ni", add=0)  # raw proportions, as Stata's metan
    return rma(effects, method="DL")
