"""The review folder's protocol file (``protocol.toml``): load and validate it.

A review folder holds ``protocol.toml`` and the extraction table it names. The protocol
declares the outcomes (any number), each with its data type, the table columns it reads, the
effect measure and the model; a ``[published]`` section switches the report to reproduction
mode. One protocol serves the whole review: the store's sections (``[extraction]``,
``[screening]``) are accepted and left to the store. Errors name the file, the section and
the key (or the table's file, row and column).

Data types, the metafor arguments their columns fill, and the default measure and model
(cited in :data:`DEFAULTS`):

=============  ======================================================  ===========
data           columns (``argument = "table column"``)                 measures
=============  ======================================================  ===========
proportion     ``xi`` (events) or ``percent``; ``ni``                   PR PLN PLO PAS PFT
2x2            ``ai, bi, ci, di`` or ``ai, n1i, ci, n2i``               OR RR RD PETO
means          ``m1i, sd1i, n1i, m2i, sd2i, n2i``                       MD SMD ROM
prepost        ``baseline, end`` (mean±SD cells) or ``m1i, sd1i,        SMCR SMCC MC
               m2i, sd2i``; ``ni``
correlation    ``ri, ni``                                               ZCOR COR
generic        ``yi`` with ``vi``, ``sei`` or ``ci_lb, ci_ub``          GEN
               (``ratio = true``: ratios and their CIs, pooled as logs)
=============  ======================================================  ===========

``ni``/``n1i`` default to the ``n`` column of ``[columns]`` where one is needed.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from metareview.cells import Cell, parse_cell
from metareview.exceptions import InputError
from metareview.report.reading import CellSpec, Finding, check_cells, check_events_within

__all__ = ["DATA_TYPES", "DEFAULTS", "Descriptive", "Outcome", "Protocol", "load_protocol"]

#: sections `metareview report` reads; the store's own sections are accepted and not read here
REPORT_SECTIONS = {"review", "columns", "outcomes", "descriptives", "harms", "published", "prisma"}
STORE_SECTIONS = {"extraction", "screening", "search"}

#: data type -> (measures it allows, column sets it accepts (any one), kind of each column)
DATA_TYPES: dict[str, tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]] = {
    "proportion": (("PR", "PLN", "PLO", "PAS", "PFT"), (("xi", "ni"), ("percent", "ni"))),
    "2x2": (("OR", "RR", "RD", "PETO"), (("ai", "bi", "ci", "di"), ("ai", "n1i", "ci", "n2i"))),
    "means": (("MD", "SMD", "ROM"), (("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"),)),
    "prepost": (
        ("SMCR", "SMCC", "MC"),
        (("baseline", "end", "ni"), ("m1i", "sd1i", "m2i", "sd2i", "ni")),
    ),
    "correlation": (("ZCOR", "COR"), (("ri", "ni"),)),
    "generic": (("GEN",), (("yi", "vi"), ("yi", "sei"), ("yi", "ci_lb", "ci_ub"))),
}

#: what each column's cells must hold (see metareview.report.reading.KINDS)
COLUMN_KINDS = {
    "xi": "events",
    "ni": "count",
    "percent": "percent",
    "ai": "events",
    "bi": "events",
    "ci": "events",
    "di": "events",
    "n1i": "count",
    "n2i": "count",
    "m1i": "number",
    "m2i": "number",
    "sd1i": "positive",
    "sd2i": "positive",
    "baseline": "mean_sd",
    "end": "mean_sd",
    "yi": "number",
    "vi": "positive",
    "sei": "positive",
    "ri": "correlation",
    "ci_lb": "number",
    "ci_ub": "number",
}

#: default measure, method and test per data type, with the literature that supports them
DEFAULTS: dict[str, dict[str, str]] = {
    "proportion": {
        "measure": "PLO",
        "method": "REML",
        "test": "knha",
        "why": "logit-transformed proportions (the Freeman-Tukey back-transformation can "
        "mislead: Schwarzer et al. 2019, Res Synth Methods 10:476, "
        "doi:10.1002/jrsm.1348)",
    },
    "2x2": {
        "measure": "RR",
        "method": "REML",
        "test": "knha",
        "why": "risk ratios (relative measures are more consistent across studies than risk "
        "differences, and easier to read than odds ratios: Deeks 2002, Stat Med "
        "21:1575, doi:10.1002/sim.1188)",
    },
    "means": {
        "measure": "MD",
        "method": "REML",
        "test": "knha",
        "why": "mean differences when every study uses the same scale (SMD otherwise; "
        "Cochrane Handbook v6.4, section 6.5.1)",
    },
    "prepost": {
        "measure": "SMCR",
        "method": "REML",
        "test": "knha",
        "why": "standardised mean changes with the baseline SD (Becker 1988, Br J Math Stat "
        "Psychol 41:257, doi:10.1111/j.2044-8317.1988.tb00901.x; Morris 2000, "
        "Psychol Methods 5:79)",
    },
    "correlation": {
        "measure": "ZCOR",
        "method": "REML",
        "test": "knha",
        "why": "Fisher's z-transformed correlations, whose variance does not depend on the "
        "correlation (Hedges & Olkin 1985, Statistical Methods for Meta-Analysis, ch. 11)",
    },
    "generic": {
        "measure": "GEN",
        "method": "REML",
        "test": "knha",
        "why": "the estimates and variances as given",
    },
}
MODEL_WHY = (
    "REML for tau² (Veroniki et al. 2016, Res Synth Methods 7:55, "
    "doi:10.1002/jrsm.1164) with Hartung-Knapp-Sidik-Jonkman CIs, which keep their "
    "coverage with few studies where Wald CIs do not (IntHout et al. 2014, BMC Med Res "
    "Methodol 14:25, doi:10.1186/1471-2288-14-25)"
)

METHODS = ("EE", "FE", "DL", "REML", "ML", "PM", "HE", "HS", "SJ", "EB", "MH", "PETO", "GLMM")
TESTS = ("z", "knha")
#: models that pool the counts, not per-study estimates (metafor's rma.mh, rma.peto and
#: rma.glmm): the data types and measures each takes, and the measure it implies when the
#: protocol names none
COUNT_MODELS: dict[str, dict[str, tuple[str, ...]]] = {
    "MH": {"2x2": ("OR", "RR", "RD")},
    "PETO": {"2x2": ("PETO",)},
    "GLMM": {"2x2": ("OR",), "proportion": ("PLO",)},
}
OUTCOME_KEYS = {
    "label",
    "data",
    "measure",
    "method",
    "test",
    "axis",
    "favours",
    "reference",
    "correlation",
    "correlation_sensitivity",
    "scale",
    "rescale",
    "sd_may_be_se",
    "percent_given_as_fraction",
    "complement",
    "n_two_counts",
    "sensitivity",
    "note",
    "add",
    "to",
    "subgroup",
    "moderators",
    "ratio",
    "ci_level",
} | set(COLUMN_KINDS)
PUBLISHED_OUTCOME_KEYS = {
    "estimate",
    "ci_lb",
    "ci_ub",
    "k",
    "measure",
    "method",
    "test",
    "add",
    "to",
    "egger_p_below",
    "digits",
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """One outcome the protocol declares (a ``[outcomes.<name>]`` table)."""

    name: str
    label: str
    data: str
    columns: dict[str, str]
    measure: str
    method: str
    test: str
    options: dict[str, Any] = field(default_factory=dict)
    published: dict[str, Any] | None = None

    def option(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)

    @property
    def default_model(self) -> bool:
        """True when measure, method and test are the data type's recommended defaults."""
        d = DEFAULTS[self.data]
        return (self.measure, self.method, self.test) == (d["measure"], d["method"], d["test"])


@dataclass(frozen=True, slots=True)
class Descriptive:
    """A descriptive number recomputed from a column (a ``[descriptives.<name>]`` table)."""

    name: str
    label: str
    column: str
    statistic: str  # "sum", "mean" or "mean_sd" (mean and SD of the study values)
    unit: str | None = None
    leave_one_out: bool = False
    published: Any = None


@dataclass(frozen=True, slots=True)
class Protocol:
    """A parsed protocol plus the extraction table it points to (every cell a string)."""

    folder: Path
    path: Path
    table_path: Path
    review: dict[str, Any]
    columns: dict[str, Any]
    outcomes: tuple[Outcome, ...]
    descriptives: tuple[Descriptive, ...]
    harms: dict[str, Any]
    published: dict[str, Any] | None
    prisma: dict[str, Any]
    table: pd.DataFrame
    findings: tuple[Finding, ...] = ()

    @property
    def reproduction(self) -> bool:
        """True when the protocol has a ``[published]`` section: a published review is
        reproduced, and its own methods are fitted beside the protocol's."""
        return self.published is not None

    def column(self, role: str) -> str | None:
        """The table column ``[columns]`` names for ``role`` ("study", "year", "n"), if any."""
        value = self.columns.get(role)
        return value if isinstance(value, str) else None

    def outcome(self, name: str) -> Outcome:
        return next(o for o in self.outcomes if o.name == name)

    def cell(self, study: str, column: str) -> Cell:
        """The parsed cell; one the protocol allowed to be unreadable reads as missing."""
        raw = self.table.at[study, column]
        if any(f.study == study and f.column == column for f in self.findings):
            return Cell(raw, "missing")
        return parse_cell(raw)


def load_protocol(folder: str | Path, table: str | Path | None = None) -> Protocol:
    """Read ``<folder>/protocol.toml`` and the table it names; check that they fit together.

    Parameters
    ----------
    folder : path
        The review folder.
    table : path, optional
        An extraction table to read instead of the one ``[review] table`` names (e.g. the
        studies table a review store exported).

    Raises
    ------
    InputError
        Missing folder or file, TOML syntax errors (with line), unknown sections or keys, an
        outcome whose columns are missing or whose measure does not fit its data, published
        numbers for an outcome that does not exist, a column the table lacks, an empty or
        repeated study label, or a cell an analysis cannot read (file, row and column).
    """
    folder = Path(folder)
    path = folder / "protocol.toml"
    if not folder.is_dir():
        raise InputError(
            f"{folder} is not a folder; a review folder holds protocol.toml and "
            "the extraction table."
        )
    if not path.is_file():
        raise InputError(f"{path} not found: every review folder needs a protocol.toml.")
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"{path}: {error}") from None
    unknown = set(raw) - REPORT_SECTIONS - STORE_SECTIONS
    if unknown:
        raise InputError(
            f"{path}: unknown section(s) {sorted(unknown)}; known sections are "
            f"{sorted(REPORT_SECTIONS | STORE_SECTIONS)}."
        )
    review = _table(path, raw, "review")
    if "table" not in review and table is None:
        raise InputError(f'{path}: [review] needs table = "<file>.csv" (the extraction table).')
    columns = _table(path, raw, "columns")
    if "study" not in columns:
        raise InputError(f'{path}: [columns] must name the study column (study = "...").')
    table_path = Path(table) if table is not None else folder / review["table"]
    if not table_path.is_file():
        where = "" if table is not None else f"{path}: [review] table = {review['table']!r}, but "
        raise InputError(f"{where}{table_path} does not exist.")
    frame = pd.read_csv(table_path, dtype=str, keep_default_na=False)
    outcomes = tuple(
        _outcome(path, name, spec, columns) for name, spec in _table(path, raw, "outcomes").items()
    )
    descriptives = tuple(
        _descriptive(path, name, spec) for name, spec in _table(path, raw, "descriptives").items()
    )
    published = _published(path, raw, outcomes, descriptives)
    if published is not None:
        numbers = published.get("outcomes", {})
        outcomes = tuple(replace(o, published=numbers.get(o.name)) for o in outcomes)
        values = published.get("descriptives", {})
        descriptives = tuple(replace(d, published=values.get(d.name)) for d in descriptives)
    _check_columns_exist(path, table_path, frame, columns, outcomes, descriptives)
    frame.index = pd.Index(_labels(frame, columns, table_path), name="study")
    _check_studies(path, outcomes, frame.index)
    allow = review.get("unreadable_cells", "error")
    if allow not in ("error", "report"):
        raise InputError(
            f'{path}: [review] unreadable_cells = {allow!r}; expected "error" '
            '(default: stop at a cell that cannot be read) or "report" (leave '
            "its study out of that analysis and list it at the top of the report)."
        )
    findings = check_cells(
        frame, table_path, _cell_specs(outcomes), allow=allow == "report", protocol_path=path
    )
    findings += check_events_within(
        frame, table_path, _event_pairs(outcomes), allow=allow == "report", protocol_path=path
    )
    return Protocol(
        folder,
        path,
        table_path,
        review,
        columns,
        outcomes,
        descriptives,
        _table(path, raw, "harms"),
        published,
        _table(path, raw, "prisma"),
        frame,
        tuple(findings),
    )


def _table(path: Path, raw: dict[str, Any], section: str) -> dict[str, Any]:
    value = raw.get(section, {})
    if not isinstance(value, dict):
        raise InputError(f"{path}: [{section}] must be a table of keys, got {value!r}.")
    return value


def _outcome(path: Path, name: str, spec: Any, columns: dict[str, Any]) -> Outcome:
    where = f"{path}: [outcomes.{name}]"
    if not isinstance(spec, dict):
        raise InputError(
            f"{where} must be a table (label, data, columns, measure, ...); got {spec!r}."
        )
    unknown = set(spec) - OUTCOME_KEYS
    if unknown:
        raise InputError(
            f"{where}: unknown key(s) {sorted(unknown)}; known keys are {sorted(OUTCOME_KEYS)}."
        )
    for key in ("label", "data"):
        if key not in spec:
            raise InputError(f'{where} needs {key} = "...".')
    data = spec["data"]
    if data not in DATA_TYPES:
        raise InputError(f"{where}: data = {data!r}; expected one of {sorted(DATA_TYPES)}.")
    measures, column_sets = DATA_TYPES[data]
    given = {key: spec[key] for key in COLUMN_KINDS if key in spec}
    for size_key in ("ni", "n1i"):
        if (
            size_key not in given
            and isinstance(columns.get("n"), str)
            and any(size_key in s for s in column_sets)
        ):
            given.setdefault(size_key, columns["n"])
    chosen = next((s for s in column_sets if set(s) <= set(given)), None)
    if chosen is None:
        needs = " or ".join(", ".join(s) for s in column_sets)
        missing = sorted(set(column_sets[0]) - set(given))
        raise InputError(
            f"{where}: data = {data!r} needs the columns {needs}; missing "
            f'{", ".join(missing)} (write e.g. {missing[0]} = "<table column>").'
        )
    stray = sorted(k for k in spec if k in COLUMN_KINDS and k not in chosen)
    if stray:
        raise InputError(
            f"{where}: {', '.join(stray)} is not a column of data = {data!r} "
            f"(it reads {', '.join(chosen)})."
        )
    _check_options(where, data, spec)
    defaults = DEFAULTS[data]
    measure = spec.get("measure", defaults["measure"])
    if measure not in measures:
        raise InputError(
            f"{where}: measure = {measure!r} does not fit data = {data!r}; "
            f"expected one of {', '.join(measures)}."
        )
    method = spec.get("method", defaults["method"])
    if "measure" not in spec:
        measure = implied_measure(method, data, measure)
    test = spec.get("test", "z" if method in COUNT_MODELS else defaults["test"])
    _check_model(where, {"method": method, "test": test, "measure": measure}, data)
    if not isinstance(spec.get("moderators", []), list):
        raise InputError(
            f"{where}: moderators must be a list of table columns, e.g. "
            f'["Latitude"]; got {spec["moderators"]!r}.'
        )
    favours = spec.get("favours")
    if favours is not None and (not isinstance(favours, list) or len(favours) != 2):
        raise InputError(
            f"{where}: favours must be two labels [left, right], e.g. "
            f'["Favours treatment", "Favours control"]; got {favours!r}.'
        )
    for i, item in enumerate(spec.get("sensitivity", [])):
        if not isinstance(item, dict) or not {"exclude", "reason"} <= set(item):
            raise InputError(
                f'{where}: sensitivity[{i}] needs exclude = [studies] and reason = "...".'
            )
    options = {
        k: v
        for k, v in spec.items()
        if k not in COLUMN_KINDS and k not in ("label", "data", "measure", "method", "test")
    }
    return Outcome(
        name, spec["label"], data, {k: given[k] for k in chosen}, measure, method, test, options
    )


#: outcome options that list studies (by their report label, "Study (year)")
STUDY_LISTS = ("percent_given_as_fraction", "sd_may_be_se")


def _check_options(where: str, data: str, spec: dict[str, Any]) -> None:
    """Types and ranges of an outcome's options, named by key."""

    def fail(key: str, need: str) -> None:
        raise InputError(f"{where}: {key} = {spec[key]!r}; expected {need}.")

    number = (int, float)
    if "correlation" in spec and not (
        isinstance(spec["correlation"], number) and -1 < spec["correlation"] < 1
    ):
        fail("correlation", "a number between -1 and 1 (e.g. 0.5)")
    if "correlation_sensitivity" in spec and not (
        isinstance(spec["correlation_sensitivity"], list)
        and all(isinstance(r, number) and -1 < r < 1 for r in spec["correlation_sensitivity"])
    ):
        fail("correlation_sensitivity", "a list of correlations, e.g. [0.2, 0.5, 0.8]")
    if "scale" in spec and not (
        isinstance(spec["scale"], list)
        and len(spec["scale"]) == 2
        and all(isinstance(x, number) for x in spec["scale"])
        and spec["scale"][0] < spec["scale"][1]
    ):
        fail("scale", "[low, high], e.g. [0, 10]")
    if "reference" in spec and not (
        isinstance(spec["reference"], number)
        and (data != "proportion" or 0 < spec["reference"] < 1)
    ):
        fail("reference", "a proportion between 0 and 1 (e.g. 0.5)")
    if "rescale" in spec and not (
        isinstance(spec["rescale"], dict)
        and isinstance(spec["rescale"].get("factor"), number)
        and isinstance(spec["rescale"].get("studies"), list)
    ):
        fail("rescale", '{ factor = 0.1, studies = ["..."], reason = "..." }')
    if "n_two_counts" in spec and spec["n_two_counts"] not in ("first", "second"):
        fail("n_two_counts", '"first" or "second" (which count of "19(26)" is n)')
    for key in STUDY_LISTS:
        if key in spec and not isinstance(spec[key], list):
            fail(key, 'a list of study labels, e.g. ["Smith (2001)"]')


def _check_studies(path: Path, outcomes: tuple[Outcome, ...], labels: pd.Index) -> None:
    """Every study an outcome option names must be a study of the table."""
    known = set(labels)
    for o in outcomes:
        named = [(key, s) for key in STUDY_LISTS for s in o.option(key, [])]
        named += [("rescale.studies", s) for s in o.option("rescale", {}).get("studies", [])]
        named += [
            (f"sensitivity[{i}].exclude", s)
            for i, item in enumerate(o.option("sensitivity", []))
            for s in item["exclude"]
        ]
        unknown = [(key, s) for key, s in named if s not in known]
        if unknown:
            key, study = unknown[0]
            raise InputError(
                f"{path}: [outcomes.{o.name}] {key}: no study {study!r} in the "
                f"table; its studies are labelled {', '.join(map(repr, labels))}."
            )


def implied_measure(method: str, data: str, measure: str) -> str:
    """The measure a model pools when the protocol names none: ``measure`` (the outcome's, or
    the data type's default), unless a count model cannot pool it (Peto: the Peto odds ratio;
    a GLMM of 2x2 tables: the odds ratio)."""
    fits = COUNT_MODELS.get(method, {}).get(data)
    return fits[0] if fits and measure not in fits else measure


def _check_model(where: str, spec: dict[str, Any], data: str) -> None:
    """method and test (and, for the models that pool counts, the data type and measure)."""
    method, test = spec.get("method", "REML"), spec.get("test", "z")
    if method not in METHODS:
        raise InputError(f"{where}: method = {method!r}; expected one of {', '.join(METHODS)}.")
    if test not in TESTS:
        raise InputError(f'{where}: test = {test!r}; expected "z" or "knha".')
    if method not in COUNT_MODELS:
        return
    fits = COUNT_MODELS[method]
    if data not in fits:
        raise InputError(
            f"{where}: method = {method!r} pools counts of data = "
            f"{' or '.join(map(repr, fits))}, not data = {data!r}; choose an inverse-variance "
            "method (e.g. REML) for this outcome."
        )
    measure = spec.get("measure")
    if measure is not None and measure not in fits[data]:
        raise InputError(
            f"{where}: method = {method!r} with data = {data!r} pools measure = "
            f"{' or '.join(map(repr, fits[data]))}; got measure = {measure!r}."
        )
    if test == "knha":
        raise InputError(
            f'{where}: test = "knha" (Hartung-Knapp) adjusts inverse-variance random-effects '
            f'fits; method = {method!r} has none: use test = "z" or leave test out.'
        )


def _descriptive(path: Path, name: str, spec: Any) -> Descriptive:
    where = f"{path}: [descriptives.{name}]"
    keys = {"label", "column", "statistic", "unit", "leave_one_out"}
    if not isinstance(spec, dict) or not {"label", "column", "statistic"} <= set(spec):
        raise InputError(f"{where} needs label, column and statistic (sum, mean or mean_sd).")
    if set(spec) - keys:
        raise InputError(
            f"{where}: unknown key(s) {sorted(set(spec) - keys)}; known keys are {sorted(keys)}."
        )
    if spec["statistic"] not in ("sum", "mean", "mean_sd"):
        raise InputError(
            f'{where}: statistic = {spec["statistic"]!r}; expected "sum", "mean" or "mean_sd".'
        )
    return Descriptive(
        name,
        spec["label"],
        spec["column"],
        spec["statistic"],
        spec.get("unit"),
        bool(spec.get("leave_one_out", False)),
    )


def _published(
    path: Path,
    raw: dict[str, Any],
    outcomes: tuple[Outcome, ...],
    descriptives: tuple[Descriptive, ...],
) -> dict[str, Any] | None:
    """The ``[published]`` section, checked against the outcomes and descriptives."""
    if "published" not in raw:
        return None
    published = _table(path, raw, "published")
    if not isinstance(published.get("source", ""), str):
        raise InputError(
            f"{path}: [published] source = {published['source']!r}; expected text saying where "
            'the published numbers come from, e.g. source = "Table 2 of the paper".'
        )
    names = {o.name for o in outcomes}
    for name, numbers in _table(path, published, "outcomes").items():
        where = f"{path}: [published.outcomes.{name}]"
        if name not in names:
            raise InputError(
                f"{where}: no outcome {name!r} in [outcomes] (declared: "
                f"{', '.join(sorted(names)) or 'none'})."
            )
        if not isinstance(numbers, dict) or set(numbers) - PUBLISHED_OUTCOME_KEYS:
            extra = (
                sorted(set(numbers) - PUBLISHED_OUTCOME_KEYS)
                if isinstance(numbers, dict)
                else numbers
            )
            raise InputError(
                f"{where}: unknown key(s) {extra}; known keys are {sorted(PUBLISHED_OUTCOME_KEYS)}."
            )
        outcome = next(o for o in outcomes if o.name == name)
        measure = numbers.get(
            "measure",
            implied_measure(numbers.get("method", outcome.method), outcome.data, outcome.measure),
        )
        if measure not in DATA_TYPES[outcome.data][0]:
            raise InputError(
                f"{where}: measure = {measure!r} does not fit data = "
                f"{outcome.data!r} of outcome {name!r}."
            )
        _check_model(where, {"measure": measure, **numbers}, outcome.data)
    declared = {d.name for d in descriptives}
    for name in _table(path, published, "descriptives"):
        if name not in declared:
            raise InputError(
                f"{path}: [published.descriptives] {name} = ...: no "
                f"[descriptives.{name}] declares it (declared: "
                f"{', '.join(sorted(declared)) or 'none'})."
            )
    return published


def _check_columns_exist(
    path: Path,
    table_path: Path,
    frame: pd.DataFrame,
    columns: dict[str, Any],
    outcomes: tuple[Outcome, ...],
    descriptives: tuple[Descriptive, ...],
) -> None:
    wanted = [
        (f"[columns] {role}", name) for role, name in columns.items() if isinstance(name, str)
    ]
    wanted += [
        (f"[columns] {role}", name)
        for role, names in columns.items()
        if isinstance(names, list)
        for name in names
    ]
    for o in outcomes:
        wanted += [(f"[outcomes.{o.name}] {key}", name) for key, name in o.columns.items()]
        for key in ("complement", "subgroup"):
            if o.option(key):
                wanted.append((f"[outcomes.{o.name}] {key}", o.option(key)))
        wanted += [(f"[outcomes.{o.name}] moderators", name) for name in o.option("moderators", [])]
    wanted += [(f"[descriptives.{d.name}] column", d.column) for d in descriptives]
    absent = [(where, name) for where, name in wanted if name not in frame.columns]
    if absent:
        details = "; ".join(f"{where} = {name!r}" for where, name in absent)
        raise InputError(
            f"{table_path}: column(s) named in {path.name} not found: {details}. "
            f"The table has {list(frame.columns)}."
        )


def _labels(frame: pd.DataFrame, columns: dict[str, Any], table_path: Path) -> list[str]:
    study, year = columns["study"], columns.get("year")
    for row, value in enumerate(frame[study], start=2):
        if not value.strip():
            raise InputError(f"{table_path}, row {row}, column {study!r}: empty study label.")
    years = frame[year] if isinstance(year, str) else [""] * len(frame)
    return _disambiguate([_label(s, y) for s, y in zip(frame[study], years, strict=True)])


def _cell_specs(outcomes: tuple[Outcome, ...]) -> list[CellSpec]:
    specs = []
    for o in outcomes:
        specs += [
            CellSpec(column, COLUMN_KINDS[key], f"outcome {o.name!r}")
            for key, column in o.columns.items()
        ]
        specs += [
            CellSpec(column, "number", f"the meta-regression of outcome {o.name!r}")
            for column in o.option("moderators", [])
        ]
    return specs


def _event_pairs(outcomes: tuple[Outcome, ...]) -> list[tuple[str, str, str]]:
    pairs = []
    for o in outcomes:
        for events, size in (("xi", "ni"), ("ai", "n1i"), ("ci", "n2i")):
            if events in o.columns and size in o.columns:
                pairs.append((o.columns[events], o.columns[size], f"outcome {o.name!r}"))
    return pairs


def _label(study: str, year: str) -> str:
    """``"Study (year)"``, unless there is no year or the study label already ends with its
    year in brackets (``"Kiefer, R et al (2008a)"``, as a review store's studies table has them).

    >>> _label("Correl, G et al", "2004"), _label("Kiefer, R et al (2008a)", "2008")
    ('Correl, G et al (2004)', 'Kiefer, R et al (2008a)')
    """
    year = str(year).strip()
    if not year or re.search(rf"\({re.escape(year)}[a-z]?\)\s*$", study):
        return study.strip()
    return f"{study} ({year})"


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
        letter = "abcdefghijklmnopqrstuvwxyz"[seen[lab] - 1]
        out.append(f"{lab[:-1]}{letter})" if lab.endswith(")") else f"{lab} {letter}")
    return out
