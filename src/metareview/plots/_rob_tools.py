"""Risk-of-bias tools as data: domains, judgement levels (colour, symbol) or star maxima.

Colours follow robvis's green / yellow / red convention (McGuinness & Higgins, 2021) in
Okabe-Ito hues (bluish green, yellow, vermillion; a dark vermillion for Critical and a light
grey for No information), and every level also has its own symbol, so colour is never the
only cue (greyscale print, colour-vision deficiency). Black symbols on the light fills and a
white one on the dark fill keep a contrast of at least 4.5:1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from metareview._validation import Options
from metareview.exceptions import InputError
from metareview.plots._style import OKABE_ITO

__all__ = [
    "NOS",
    "ROB2",
    "ROBINS_I",
    "TOOLS",
    "TOOL_NAMES",
    "Level",
    "Tool",
    "judgement_cell",
    "shown_value",
    "star_count",
]


@dataclass(frozen=True, slots=True)
class Level:
    """One judgement level: its label, the symbol drawn on it, fill and symbol colours and
    the other spellings accepted for it (matched case-insensitively)."""

    label: str
    symbol: str
    fill: str
    ink: str
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


_BLACK = "#000000"
LOW = Level("Low", "+", OKABE_ITO["bluish_green"], _BLACK, ("low risk", "low risk of bias"))
SOME_CONCERNS = Level("Some concerns", "\u2212", OKABE_ITO["yellow"], _BLACK,
                      ("some concern", "some concerns of bias"))
HIGH = Level("High", "\u00d7", OKABE_ITO["vermillion"], _BLACK,
             ("high risk", "high risk of bias"))
MODERATE = Level("Moderate", "\u2212", OKABE_ITO["yellow"], _BLACK,
                 ("moderate risk", "moderate risk of bias"))
SERIOUS = Level("Serious", "\u00d7", OKABE_ITO["vermillion"], _BLACK,
                ("serious risk", "serious risk of bias"))
CRITICAL = Level("Critical", "!", "#7a2e00", "#ffffff",
                 ("critical risk", "critical risk of bias"))
NO_INFORMATION = Level("No information", "?", "#c8c8c8", _BLACK, ("ni", "no info"))

#: RoB 2 for randomised trials (Sterne et al., 2019), the five domains of the BMJ paper
ROB2 = Tool(
    name="RoB 2",
    domains=(("D1", "Bias arising from the randomisation process"),
             ("D2", "Bias due to deviations from intended interventions"),
             ("D3", "Bias due to missing outcome data"),
             ("D4", "Bias in measurement of the outcome"),
             ("D5", "Bias in selection of the reported result")),
    levels=(LOW, SOME_CONCERNS, HIGH),
    citation=("Sterne JAC, Savović J, Page MJ, et al. (2019). RoB 2: a revised tool for "
              "assessing risk of bias in randomised trials. BMJ 366:l4898. "
              "https://doi.org/10.1136/bmj.l4898"),
)

#: ROBINS-I, the original (2016) seven-domain version, with its five judgement levels
ROBINS_I = Tool(
    name="ROBINS-I (2016)",
    domains=(("D1", "Bias due to confounding"),
             ("D2", "Bias in selection of participants into the study"),
             ("D3", "Bias in classification of interventions"),
             ("D4", "Bias due to deviations from intended interventions"),
             ("D5", "Bias due to missing data"),
             ("D6", "Bias in measurement of outcomes"),
             ("D7", "Bias in selection of the reported result")),
    levels=(LOW, MODERATE, SERIOUS, CRITICAL, NO_INFORMATION),
    citation=("Sterne JAC, Hernán MA, Reeves BC, et al. (2016). ROBINS-I: a tool for "
              "assessing risk of bias in non-randomised studies of interventions. BMJ "
              "355:i4919. https://doi.org/10.1136/bmj.i4919"),
)

#: Newcastle-Ottawa Scale (cohort studies; "Exposure" is accepted for case-control studies)
NOS = Tool(
    name="Newcastle\u2013Ottawa Scale",
    domains=(("Selection", "Selection"), ("Comparability", "Comparability"),
             ("Outcome", "Outcome (or exposure)")),
    stars=(4, 2, 3),
    column_aliases=(("exposure", "Outcome"), ("outcome/exposure", "Outcome"),
                    ("exposure/outcome", "Outcome")),
    overall="Total",
    citation=("Wells GA, Shea B, O'Connell D, et al. The Newcastle-Ottawa Scale (NOS) for "
              "assessing the quality of nonrandomised studies in meta-analyses. Ottawa "
              "Hospital Research Institute. "
              "https://www.ohri.ca/programs/clinical_epidemiology/oxford.asp"),
)

TOOLS = {"RoB2": ROB2, "ROBINS-I": ROBINS_I, "NOS": NOS}
#: accepted ``tool`` values (case-insensitive)
TOOL_NAMES = Options(
    "tool", tuple(TOOLS),
    aliases={"RoB 2": "RoB2", "RoB 2.0": "RoB2", "ROBINS-I 2016": "ROBINS-I",
             "ROBINS_I": "ROBINS-I", "ROBINSI": "ROBINS-I",
             "Newcastle-Ottawa": "NOS", "Newcastle\u2013Ottawa": "NOS"},
    case_sensitive=False,
)


def judgement_cell(spec: Tool, study: str, code: str, value: Any) -> Any:
    """The :class:`Level` (or star count) that ``value`` means for ``study``/``code``;
    InputError naming the study and domain otherwise."""
    names = dict(spec.domains)
    where = f"study {study!r}, domain {code}" + (f" ({names[code]})" if code in names and
                                                  names[code] != code else "")
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
    return value.item() if isinstance(value, np.generic) else value


def star_count(study: str, code: str, value: Any, most: int, where: str | None = None) -> int:
    """Stars given as a number or as that many ``*``, checked against ``most``."""
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
