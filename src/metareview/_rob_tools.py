"""Risk-of-bias tools as data, and the rules for reading an assessment table.

A tool is its published domains and either its judgement levels (best first, with the other
spellings accepted for each) or, for star scales, the most stars per domain. These are
review-domain rules -- the store checks every judgement entered with :func:`judgement_cell`
-- and the figures need the same vocabulary to read the table they draw.

Where this module sits (the direction of the layers): it is a neutral leaf that imports
nothing of ``stats``, ``plots``, ``review``, ``report``, ``cli`` or ``web`` (only
``exceptions`` and ``_validation``), like ``_validation`` itself. ``review`` uses it to
check judgements as they are entered (:mod:`metareview.review.risk_of_bias`);
:func:`metareview.plots.rob` uses it to read the table it is given
(:func:`read_assessments`), and draws the result with its own colours and symbols
(presentation lives in ``plots/rob.py``, never here). So ``plots`` never imports ``review``
and ``review`` never imports ``plots``; ``tests/test_layers.py`` checks both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from metareview._validation import Options
from metareview.exceptions import InputError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

__all__ = [
    "NOS",
    "ROB2",
    "ROBINS_I",
    "TOOLS",
    "TOOL_NAMES",
    "Assessments",
    "Level",
    "Tool",
    "judgement_cell",
    "normalise_name",
    "read_assessments",
    "shown_value",
    "star_count",
]


@dataclass(frozen=True, slots=True)
class Level:
    """One judgement level: its label and the other spellings accepted for it (matched
    case-insensitively)."""

    label: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Tool:
    """A risk-of-bias tool: ``domains`` as (code, name) pairs in the tool's order; either
    judgement ``levels`` (best first) or, for star scales, the maximum ``stars`` per domain."""

    name: str
    domains: tuple[tuple[str, str], ...]
    levels: tuple[Level, ...] = ()
    stars: tuple[int, ...] = ()
    column_aliases: tuple[tuple[str, str], ...] = ()  # (accepted column name, domain code)
    overall: str = "Overall"
    citation: str = ""

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(code for code, _ in self.domains)

    @property
    def is_star_scale(self) -> bool:
        return bool(self.stars)


LOW = Level("Low", ("low risk", "low risk of bias"))
SOME_CONCERNS = Level("Some concerns", ("some concern", "some concerns of bias"))
HIGH = Level("High", ("high risk", "high risk of bias"))
MODERATE = Level("Moderate", ("moderate risk", "moderate risk of bias"))
SERIOUS = Level("Serious", ("serious risk", "serious risk of bias"))
CRITICAL = Level("Critical", ("critical risk", "critical risk of bias"))
NO_INFORMATION = Level("No information", ("ni", "no info"))

#: RoB 2 for randomised trials (Sterne et al., 2019), the five domains of the BMJ paper
ROB2 = Tool(
    name="RoB 2",
    domains=(
        ("D1", "Bias arising from the randomisation process"),
        ("D2", "Bias due to deviations from intended interventions"),
        ("D3", "Bias due to missing outcome data"),
        ("D4", "Bias in measurement of the outcome"),
        ("D5", "Bias in selection of the reported result"),
    ),
    levels=(LOW, SOME_CONCERNS, HIGH),
    citation=(
        "Sterne JAC, Savović J, Page MJ, et al. (2019). RoB 2: a revised tool for "
        "assessing risk of bias in randomised trials. BMJ 366:l4898. "
        "https://doi.org/10.1136/bmj.l4898"
    ),
)

#: ROBINS-I, the original (2016) seven-domain version, with its five judgement levels
ROBINS_I = Tool(
    name="ROBINS-I (2016)",
    domains=(
        ("D1", "Bias due to confounding"),
        ("D2", "Bias in selection of participants into the study"),
        ("D3", "Bias in classification of interventions"),
        ("D4", "Bias due to deviations from intended interventions"),
        ("D5", "Bias due to missing data"),
        ("D6", "Bias in measurement of outcomes"),
        ("D7", "Bias in selection of the reported result"),
    ),
    levels=(LOW, MODERATE, SERIOUS, CRITICAL, NO_INFORMATION),
    citation=(
        "Sterne JAC, Hernán MA, Reeves BC, et al. (2016). ROBINS-I: a tool for "
        "assessing risk of bias in non-randomised studies of interventions. BMJ "
        "355:i4919. https://doi.org/10.1136/bmj.i4919"
    ),
)

#: Newcastle-Ottawa Scale (cohort studies; "Exposure" is accepted for case-control studies)
NOS = Tool(
    name="Newcastle\u2013Ottawa Scale",
    domains=(
        ("Selection", "Selection"),
        ("Comparability", "Comparability"),
        ("Outcome", "Outcome (or exposure)"),
    ),
    stars=(4, 2, 3),
    column_aliases=(
        ("exposure", "Outcome"),
        ("outcome/exposure", "Outcome"),
        ("exposure/outcome", "Outcome"),
    ),
    overall="Total",
    citation=(
        "Wells GA, Shea B, O'Connell D, et al. The Newcastle-Ottawa Scale (NOS) for "
        "assessing the quality of nonrandomised studies in meta-analyses. Ottawa "
        "Hospital Research Institute. "
        "https://www.ohri.ca/programs/clinical_epidemiology/oxford.asp"
    ),
)

TOOLS = {"RoB2": ROB2, "ROBINS-I": ROBINS_I, "NOS": NOS}
#: accepted ``tool`` values (case-insensitive)
TOOL_NAMES = Options(
    "tool",
    tuple(TOOLS),
    aliases={
        "RoB 2": "RoB2",
        "RoB 2.0": "RoB2",
        "ROBINS-I 2016": "ROBINS-I",
        "ROBINS_I": "ROBINS-I",
        "ROBINSI": "ROBINS-I",
        "Newcastle-Ottawa": "NOS",
        "Newcastle\u2013Ottawa": "NOS",
    },
    case_sensitive=False,
)


def judgement_cell(spec: Tool, study: str, code: str, value: Any) -> Any:
    """The :class:`Level` (or star count) that ``value`` means for ``study``/``code``;
    InputError naming the study and domain otherwise."""
    import numpy as np

    names = dict(spec.domains)
    where = f"study {study!r}, domain {code}" + (
        f" ({names[code]})" if code in names and names[code] != code else ""
    )
    if spec.is_star_scale:
        return star_count(study, code, value, spec.stars[spec.codes.index(code)], where)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        raise InputError(
            f"the judgement for {where} is missing; give one of "
            f"{', '.join(level.label for level in spec.levels)}."
        )
    text = re.sub(r"\s+", " ", str(value).strip()).lower()
    for level in spec.levels:
        if text == level.label.lower() or text in level.aliases:
            return level
    also = ", ".join(repr(level.aliases[0]) for level in spec.levels if level.aliases)
    raise InputError(
        f"the judgement for {where} must be one of "
        f"{', '.join(level.label for level in spec.levels)} (in any case; also {also}); "
        f"got {shown_value(value)!r}."
    )


def shown_value(value: Any) -> Any:
    """A cell as the user wrote it (numpy scalars as plain Python values)."""
    import numpy as np

    return value.item() if isinstance(value, np.generic) else value


def star_count(study: str, code: str, value: Any, most: int, where: str | None = None) -> int:
    """Stars given as a number or as that many ``*``, checked against ``most``."""
    import numpy as np

    where = where or f"study {study!r}, {code}"
    count: float | None
    if isinstance(value, str) and value.strip() and set(value.strip()) <= {"*", "\u2605"}:
        count = len(value.strip())
    else:
        try:
            count = float(value)
        except (TypeError, ValueError):
            count = None
    if count is None or not np.isfinite(count) or count != int(count) or not 0 <= count <= most:
        raise InputError(
            f"the star count for {where} must be a whole number from 0 to {most} (or that many "
            f"'*'); got {shown_value(value)!r}."
        )
    return int(count)


@dataclass(frozen=True, slots=True)
class Assessments:
    """An assessment table read against its tool: what :func:`read_assessments` returns."""

    tool: Tool
    studies: tuple[str, ...]
    columns: tuple[str, ...]  # domain codes in tool order, then the overall column
    values: tuple[tuple[Any, ...], ...]  # per study: Level, or int stars
    weights: np.ndarray | None  # from a "Weight" column, if any
    has_overall: bool


def normalise_name(name: str) -> str:
    """A column or domain name as compared: lower case, one space, ``-`` for dashes."""
    text = str(name).strip().lower().replace("\u2013", "-").replace("\u2212", "-")
    text = text.replace("randomization", "randomisation")
    return re.sub(r"\s+", " ", text)


def read_assessments(assessments: Any, tool: str) -> Assessments:
    """Read an assessment table (see :func:`metareview.plots.rob`) against ``tool``.

    Columns are matched to the tool's domains by code, full name or alias (case, dashes
    and spaces normalised); an ``Overall`` (NOS: ``Total``) and a ``Weight`` column are
    optional. Every cell is checked by :func:`judgement_cell`; a NOS total must equal the
    sum of its domains' stars.

    Raises
    ------
    InputError
        Naming the study, the domain and what is accepted.

    Examples
    --------
    >>> data = read_assessments({"Trial A": ["low"] * 5 + ["some concerns"]}, "RoB2")
    >>> data.columns, [level.label for level in data.values[0]][-1]
    (('D1', 'D2', 'D3', 'D4', 'D5', 'Overall'), 'Some concerns')
    """
    import pandas as pd

    spec = TOOLS[TOOL_NAMES.check(tool)]
    frame = _as_frame(assessments, spec)
    by_name: dict[str, str] = {}
    for code, name in spec.domains:
        by_name[normalise_name(code)] = code
        by_name[normalise_name(name)] = code
    for alias, code in spec.column_aliases:
        by_name[normalise_name(alias)] = code
    overall_names = {
        "overall",
        "overall risk of bias",
        "overall bias",
        normalise_name(spec.overall),
    }
    mapped: dict[str, Any] = {}
    weights = None
    unknown = []
    for column in frame.columns:
        key = normalise_name(column)
        if key in by_name:
            target = by_name[key]
        elif key in overall_names:
            target = "Overall"
        elif key == "weight":
            weights = frame[column]
            continue
        else:
            unknown.append(str(column))
            continue
        if target in mapped:
            raise InputError(
                f"assessments has two columns for domain {target} "
                f"({mapped[target].name!r} and {column!r}); keep one."
            )
        mapped[target] = frame[column]
    accepted = [f"{code} ({name})" if code != name else code for code, name in spec.domains]
    if unknown:
        raise InputError(
            f"assessments has columns that are not {spec.name} domains: {unknown}. Accepted: "
            f"{'; '.join(accepted)}; {spec.overall}; Weight."
        )
    missing = [code for code in spec.codes if code not in mapped]
    if missing:
        raise InputError(
            f"assessments lacks {spec.name} domain column(s) {', '.join(missing)}; needed: "
            f"{'; '.join(accepted)} (and optionally {spec.overall})."
        )
    studies = tuple(str(s) for s in frame.index)
    if not studies:
        raise InputError("assessments holds no studies; give one row per study.")
    counts = pd.Series(studies).value_counts()
    duplicated = sorted(counts.index[counts > 1])
    if duplicated:
        raise InputError(
            f"study labels must be unique; {duplicated} appear more than once. Label "
            "assessments of several outcomes of one study apart, e.g. 'Smith 2001 (pain)'."
        )
    codes = list(spec.codes)
    has_overall = "Overall" in mapped
    rows = []
    for i, study in enumerate(studies):
        cells = []
        for code in codes:
            cells.append(judgement_cell(spec, study, code, mapped[code].iloc[i]))
        if spec.is_star_scale:
            total = sum(cells)
            if has_overall:
                given = star_count(study, spec.overall, mapped["Overall"].iloc[i], sum(spec.stars))
                if given != total:
                    raise InputError(
                        f"{spec.overall} of study {study!r} is {given} but its domain stars add "
                        f"up to {total}; correct one of them (or drop the {spec.overall} "
                        "column: it is computed)."
                    )
            cells.append(total)
        elif has_overall:
            cells.append(judgement_cell(spec, study, "Overall", mapped["Overall"].iloc[i]))
        rows.append(tuple(cells))
    columns = tuple(codes) + (("Overall",) if has_overall or spec.is_star_scale else ())
    w = None if weights is None else weights.to_numpy()
    return Assessments(spec, studies, columns, tuple(rows), w, has_overall)


def _as_frame(assessments: Any, spec: Tool) -> pd.DataFrame:
    import pandas as pd

    if isinstance(assessments, pd.DataFrame):
        frame = assessments
        study_cols = [c for c in frame.columns if normalise_name(c) in {"study", "studies"}]
        if study_cols and isinstance(frame.index, pd.RangeIndex):
            frame = frame.set_index(study_cols[0])
        return frame
    if isinstance(assessments, Mapping):
        first = next(iter(assessments.values()), None)
        if isinstance(first, Mapping):
            return pd.DataFrame.from_dict(dict(assessments), orient="index")
        n = len(spec.domains)
        extra = spec.overall
        rows = {}
        for study, cells in assessments.items():
            if isinstance(cells, str) or not isinstance(cells, Sequence):
                raise InputError(
                    f"assessments[{study!r}] must be a mapping domain -> judgement or a list "
                    f"of {n} (or {n + 1} with {extra}) judgements; got {type(cells).__name__}."
                )
            if len(cells) not in (n, n + 1):
                raise InputError(
                    f"assessments[{study!r}] has {len(cells)} entries; {spec.name} needs {n} "
                    f"({', '.join(spec.codes)}) or {n + 1} with {extra} last."
                )
            rows[study] = dict(zip([*spec.codes, extra], cells, strict=False))
        return pd.DataFrame.from_dict(rows, orient="index")
    raise InputError(
        "assessments must be a DataFrame (one row per study, one column per domain) or a "
        f"mapping study -> judgements; got {type(assessments).__name__}."
    )
