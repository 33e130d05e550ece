"""Bad protocol input (issue 13): an error naming the file, the section and the key; and the
review store's protocol (with its [extraction] form) accepted by `metareview report`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from metareview import InputError
from metareview.report.protocol import load_protocol

EXAMPLES = Path(__file__).parents[2] / "examples"
BCG = EXAMPLES / "bcg-vaccine"


def _with(tmp_path: Path, old: str, new: str) -> Path:
    folder = tmp_path / "bcg"
    shutil.copytree(BCG, folder, ignore=shutil.ignore_patterns("out"))
    path = folder / "protocol.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'ci = "TB cases, control"',
            "# no ci",
            r"protocol.toml: \[outcomes.tuberculosis\]: data = '2x2' needs the columns ai, bi, ci, "
            r"di or ai, n1i, ci, n2i; missing ci",
        ),
        (
            'measure = "RR"',
            'measure = "SMD"',
            r"\[outcomes.tuberculosis\]: measure = 'SMD' does not fit data = '2x2'; expected one of "  # noqa: E501 (a message matched whole)
            r"OR, RR, RD, PETO",
        ),
        (
            'data = "2x2"',
            'data = "counts"',
            r"\[outcomes.tuberculosis\]: data = 'counts'; expected one of",
        ),
        (
            'measure = "RR"',
            'measure = "RR"\nmodel = "REML"',
            r"\[outcomes.tuberculosis\]: unknown key\(s\) \['model'\]",
        ),
        (
            'method = "DL"',
            'method = "DerSimonian"',
            r"\[published.outcomes.tuberculosis\]: method = 'DerSimonian'; expected one of EE, FE, DL",  # noqa: E501 (a message matched whole)
        ),
        (
            "[published.outcomes.tuberculosis]",
            "[published.outcomes.tb]",
            r"\[published.outcomes.tb\]: no outcome 'tb' in \[outcomes\] \(declared: tuberculosis\)",  # noqa: E501 (a message matched whole)
        ),
        (
            'favours = ["Favours vaccine", "Favours no vaccine"]',
            'favours = "vaccine"',
            r"\[outcomes.tuberculosis\]: favours must be two labels",
        ),
        (
            'ai = "TB cases, vaccinated"',
            'ai = "TB+ vaccinated"',
            r"trials.csv: column\(s\) named in protocol.toml not found: \[outcomes.tuberculosis\] ai = "  # noqa: E501 (a message matched whole)
            r"'TB\+ vaccinated'",
        ),
        (
            "[descriptives.latitude]",
            "[descriptives.latitude]\nunit = 1\nextra = 2",
            r"\[descriptives.latitude\]: unknown key\(s\) \['extra'\]",
        ),
        ("[review]", "[reviews]\n[review]", r"unknown section\(s\) \['reviews'\]"),
    ],
)
def test_bad_protocol_names_file_section_key(tmp_path, old, new, message):
    folder = _with(tmp_path, old, new)
    with pytest.raises(InputError, match=message):
        load_protocol(folder)


def test_two_outcomes_with_one_name_is_a_toml_error_with_its_line(tmp_path):
    folder = _with(
        tmp_path,
        "[descriptives.latitude]",
        '[outcomes.tuberculosis]\nlabel = "again"\n\n[descriptives.latitude]',
    )
    with pytest.raises(InputError, match=r"protocol.toml: .*line \d+"):
        load_protocol(folder)


def test_the_store_protocol_is_accepted_with_its_extraction_form(tmp_path):
    # one protocol per review: the store's [extraction] form and the report's outcomes
    folder = EXAMPLES / "ketamine-crps-review"
    table = tmp_path / "studies.csv"
    table.write_text(
        "study,year,n,immediate_relief_pct,duration_days,intervention\n"
        '"Correl, G et al (2004)",2004,33,76,4.7,S+ketamine\n'
        '"Webster, L et al (2006)",2006,13,62,16.4,S+ketamine\n',
        encoding="utf-8",
    )
    protocol = load_protocol(folder, table=table)
    assert [o.name for o in protocol.outcomes] == ["immediate"]
    assert list(protocol.table.index) == ["Correl, G et al (2004)", "Webster, L et al (2006)"]


SEED = EXAMPLES / "ketamine-crps"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            '"Kiefer, R et al (2008a)", "Sigtermans',
            '"Kiefer 2008a", "Sigtermans',
            r"\[outcomes.pain\] sd_may_be_se: no study 'Kiefer 2008a' in the table; its studies are "  # noqa: E501 (a message matched whole)
            r"labelled 'Correl, G et al \(2004\)'",
        ),
        (
            'exclude = ["Kiefer, R et al (2008a)"], reason = "low quality:',
            'exclude = ["Kiefer (2008a)"], reason = "low quality:',
            r"\[outcomes.immediate\] sensitivity\[0\].exclude: no study 'Kiefer \(2008a\)'",
        ),
        (
            "correlation = 0.5",
            "correlation = 5",
            r"\[outcomes.pain\]: correlation = 5; expected a "
            r"number between -1 and 1",
        ),
        (
            "scale = [0, 10]",
            "scale = [10, 0]",
            r"\[outcomes.pain\]: scale = \[10, 0\]; expected "
            r"\[low, high\]",
        ),
        (
            "reference = 0.5",
            "reference = 50",
            r"\[outcomes.immediate\]: reference = 50; expected a proportion between 0 and 1",
        ),
        (
            'baseline = "Baseline (pain score)"',
            'baseline = "Baseline (pain score)"\nai = "N"',
            r"\[outcomes.pain\]: ai is not a column of data = 'prepost' \(it reads baseline, end, ni\)",  # noqa: E501 (a message matched whole)
        ),
    ],
)
def test_bad_outcome_options_name_the_key(tmp_path, old, new, message):
    folder = tmp_path / "seed"
    shutil.copytree(SEED, folder, ignore=shutil.ignore_patterns("out"))
    path = folder / "protocol.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_protocol(folder)
