"""The protocol.toml reference (docs/user_guide/protocol.rst) keeps up with the loader: every
key, section, data type, measure, model and descriptive statistic that
:func:`metareview.report.protocol.load_protocol` accepts is named on the page, and the page's
complete TOML examples load and fit as printed."""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import pytest

from metareview.report import protocol as loader
from metareview.report.analyses import analyse_outcome
from metareview.report.protocol import Descriptive, load_protocol
from metareview.stats.effects import CONTINUITY

PAGE = Path(__file__).resolve().parents[1] / "docs" / "user_guide" / "protocol.rst"
TEXT = PAGE.read_text("utf-8")
#: the words inside the page's inline literals (``m1i``, ``ai, bi, ci, di``, ``"mean_sd"``);
#: the TOML code blocks have none, so a key used only in an example does not count
NAMED = {word for literal in re.findall(r"``(.+?)``", TEXT) for word in re.findall(r"\w+", literal)}


def _descriptive_statistics() -> set[str]:
    """The statistics ``[descriptives.*] statistic`` accepts, read from the loader's check."""
    source = inspect.getsource(loader._descriptive)
    allowed = re.search(r'spec\["statistic"\] not in \(([^)]*)\)', source)
    assert allowed, "the loader's statistic check changed: update this test"
    return set(re.findall(r'"(\w+)"', allowed[1]))


ACCEPTED = {
    "section": loader.REPORT_SECTIONS | loader.STORE_SECTIONS,
    "outcome key": loader.OUTCOME_KEYS,
    "column key": set(loader.COLUMN_KINDS),
    "published outcome key": loader.PUBLISHED_OUTCOME_KEYS,
    "data type": set(loader.DATA_TYPES),
    "measure": {m for measures, _ in loader.DATA_TYPES.values() for m in measures},
    "method": set(loader.METHODS),
    "test": set(loader.TESTS),
    "descriptive key": {
        f.name for f in dataclasses.fields(Descriptive) if f.name not in ("name", "published")
    },
    "descriptive statistic": _descriptive_statistics(),
    "continuity correction (to)": set(CONTINUITY.values),
    "[published] key": {"source", "studies", "harms_rate"},
}


@pytest.mark.parametrize("kind", sorted(ACCEPTED))
def test_every_accepted_key_is_named_on_the_page(kind):
    missing = sorted(ACCEPTED[kind] - NAMED)
    assert not missing, f"{PAGE.name} does not name the {kind}(s) {missing}"


def test_the_defaults_table_matches_the_loader():
    rows = {
        m[1]: (m[2], m[3], m[4])
        for m in re.finditer(r"^``(\w+)``\s+``(\w+)``\s+``(\w+)``\s+``(\w+)``", TEXT, re.M)
    }
    for data, default in loader.DEFAULTS.items():
        expected = (default["measure"], default["method"], default["test"])
        assert rows.get(data) == expected, f"defaults of data = {data!r} on the page"


#: the extraction tables the examples name: a few studies each, values of the kinds the
#: columns need (the first has a study the sensitivity analysis excludes, and a zero cell)
TABLES = {
    "studies.csv": (
        "Study,Year,Mean; treated,SD; treated,N; treated,Mean; control,SD; control,N; control,"
        "Setting,Sessions per day\n"
        "Adams,2001,8.1,3.2,40,9.5,3.6,41,ward,10\n"
        "Baker,2005,7.4,2.9,55,8.8,3.1,52,ward,20\n"
        "Chen,2010,10.2,4.1,30,10.9,4.4,31,ICU,15\n"
        "Diaz,2014,6.9,2.5,80,8.1,2.8,78,ICU,25\n"
        "Evans,2019,9.0,3.0,62,9.9,3.3,60,ward,30\n"
    ),
    "trials.csv": (
        "Trial,Year,Infections; prophylaxis,Patients; prophylaxis,Infections; placebo,"
        "Patients; placebo\n"
        "Fox,1998,4,50,11,52\n"
        "Grant,2003,0,45,3,44\n"
        "Hale,2008,9,60,14,58\n"
        "Ito,2015,6,51,12,52\n"
    ),
}


def _toml_blocks() -> list[str]:
    blocks = re.findall(r"^\.\. code-block:: toml\n\n((?:   .*\n|\n)+)", TEXT, re.M)
    return [re.sub(r"^   ", "", b, flags=re.M) for b in blocks]


def test_the_page_has_a_means_and_a_2x2_example():
    data = sorted(re.search(r'^data = "(\S+)"', b, re.M)[1] for b in _toml_blocks())
    assert data == ["2x2", "means"]


@pytest.mark.parametrize("index", range(2))
def test_the_examples_load_and_fit(tmp_path, index):
    block = _toml_blocks()[index]
    (tmp_path / "protocol.toml").write_text(block, "utf-8")
    name = re.search(r'^table = "(\S+)"', block, re.M)[1]
    # the page's column names have commas ("N, treated"): the CSV writes them quoted
    header, *rows = TABLES[name].splitlines()
    columns = ",".join(f'"{c.replace("; ", ", ")}"' for c in header.split(","))
    (tmp_path / name).write_text("\n".join([columns, *rows]) + "\n", "utf-8")
    protocol = load_protocol(tmp_path)
    assert not protocol.findings
    for outcome in protocol.outcomes:
        analysis = analyse_outcome(protocol, outcome)
        assert analysis.main.k == len(protocol.table)
    if protocol.reproduction:
        assert protocol.published["source"]
        assert all(o.published for o in protocol.outcomes)
