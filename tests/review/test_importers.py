"""Importers on the real exports in ../shared/testdata/imports (counts verified by reading).

Expected counts were checked by hand: RIS files by their ``TY  -``/``ER  -`` lines (the BOM
files count the first, BOM-prefixed ``TY`` line too), pubmed.xml by ``<PubmedArticle>``
elements, CSV/TSV by data rows below the header.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from metareview.exceptions import InputError
from metareview.review import detect_format, parse_bytes, parse_file

#: file -> (detected format, records). Extensions lie: the two .txt files are RIS.
EXPECTED = {
    "baseline_reference_types.ris": ("ris", 61),  # BOM; 1st record has an empty TY
    "duplicate_records.csv": ("csv", 14),  # ';'-separated; identical and empty rows
    "embase.ris": ("ris", 6),  # BOM before the first TY
    "faulty_year.ris": ("ris", 1),  # PY  - 10 15
    "generic_semicolon.csv": ("csv", 2),
    "generic_tab.tsv": ("tsv", 2),
    "missing_values.ris": ("ris", 4),  # empty TI and N2 fields
    "ovid_psycinfo.ris": ("ris", 6),  # "1." and link text between records
    "proquest.ris": ("ris", 6),
    "pubmed.xml": ("pubmed_xml", 10),
    "pubmed_endnote.txt": ("ris", 6),
    "pubmed_zotero.ris": ("ris", 6),
    "ris_many_authors.ris": ("ris", 1),  # 7,456 AU lines
    "scopus.ris": ("ris", 6),
    "web_of_science.txt": ("ris", 10),
}


def test_expected_covers_every_file(imports_dir: Path) -> None:
    assert sorted(p.name for p in imports_dir.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_record_counts(imports_dir: Path, name: str) -> None:
    fmt, count = EXPECTED[name]
    result = parse_file(imports_dir / name)
    assert result.format == fmt
    assert len(result.records) == count


@pytest.mark.parametrize("name", ["embase.ris", "baseline_reference_types.ris"])
def test_byte_order_mark_keeps_first_record(imports_dir: Path, name: str) -> None:
    data = (imports_dir / name).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    first = parse_file(imports_dir / name).records[0]
    assert first.line == 1
    if name == "embase.ris":
        assert first.title is not None
        assert first.title.startswith("Duplication cysts")
        assert first.doi == "10.4103/2303-9027.138783"


def test_empty_type_is_kept_and_reported(imports_dir: Path) -> None:
    result = parse_file(imports_dir / "baseline_reference_types.ris")
    assert any(p.line == 1 and "empty type" in p.message for p in result.problems)


def test_unparseable_year_kept_as_missing_with_a_note(imports_dir: Path) -> None:
    path = imports_dir / "faulty_year.ris"
    result = parse_file(path)
    (record,) = result.records
    assert record.year is None
    assert record.title is not None
    (problem,) = result.problems
    assert problem.file == str(path)
    assert problem.line == 1
    assert "'10 15' is not a year" in problem.message


def test_text_between_records_is_reported(imports_dir: Path) -> None:
    result = parse_file(imports_dir / "ovid_psycinfo.ris")
    lines = [p.line for p in result.problems if "text between records" in p.message]
    assert lines[0] == 1  # the "1." before the first record
    assert len(lines) == 6


def test_fields_are_mapped(imports_dir: Path) -> None:
    pubmed = parse_file(imports_dir / "pubmed_endnote.txt").records[0]
    assert pubmed.pmid == "21553931"
    assert pubmed.year == 2011
    assert pubmed.authors[:2] == ["Abdel-Tawab, M.", "Werz, O."]
    assert pubmed.pages == "349-69"
    ovid = parse_file(imports_dir / "ovid_psycinfo.ris").records[0]
    assert ovid.doi == "10.1002/cpp.2398"  # was http://dx.doi.org/10.1002/cpp.2398
    xml = parse_file(imports_dir / "pubmed.xml").records[0]
    assert (xml.pmid, xml.year, xml.doi) == ("31690499", 2019, "10.1016/j.bjoms.2019.09.011")
    many = parse_file(imports_dir / "ris_many_authors.ris").records[0]
    assert len(many.authors) == 7456
    csv = parse_file(imports_dir / "generic_semicolon.csv").records[0]
    assert csv.authors == ["Marx, Karl", "Lindgren, Astrid"]
    assert csv.year == 2014


def test_csv_rows_report_their_line(imports_dir: Path) -> None:
    path = imports_dir / "duplicate_records.csv"
    result = parse_file(path)
    assert [r.line for r in result.records] == list(range(2, 16))
    empty = [p.line for p in result.problems if "no title" in p.message]
    assert empty == [12, 13, 14, 15]


def test_detect_format_ignores_the_extension(imports_dir: Path) -> None:
    text = (imports_dir / "web_of_science.txt").read_text(encoding="utf-8")
    assert detect_format(text) == "ris"


NBIB = """PMID- 12345678
OWN - NLM
TI  - Aspirin for the secondary prevention of stroke: a randomised
      controlled trial.
AB  - Background text.
FAU - Smith, John
AU  - Smith J
FAU - Lee, Ann
DP  - 2004 Mar
TA  - Stroke
JT  - Stroke; a journal of cerebral circulation
VI  - 35
IP  - 3
PG  - 100-9
LID - 10.1161/01.STR.0000 [doi]

PMID- 23456789
TI  - Second record.
DP  - Spring
FAU - Roe, Richard
"""


def test_nbib_parser() -> None:
    result = parse_bytes(NBIB.encode(), "search.nbib")
    assert result.format == "nbib"
    first, second = result.records
    assert first.title == (
        "Aspirin for the secondary prevention of stroke: a randomised controlled trial."
    )
    assert first.authors == ["Smith, John", "Lee, Ann"]
    assert (first.year, first.pmid, first.doi) == (2004, "12345678", "10.1161/01.str.0000")
    assert (first.volume, first.issue, first.pages) == ("35", "3", "100-9")
    assert second.line == 17
    assert second.year is None
    assert [(p.line, "not a year" in p.message) for p in result.problems] == [(17, True)]


def test_ris_record_without_er_is_kept_and_reported() -> None:
    text = "TY  - JOUR\nTI  - One\nTY  - JOUR\nTI  - Two\nER  - \n"
    result = parse_bytes(text.encode(), "x.ris")
    assert [r.title for r in result.records] == ["One", "Two"]
    assert result.problems[0].line == 1
    assert "no ER line" in result.problems[0].message


def test_zero_records_from_a_non_empty_file_is_an_error() -> None:
    with pytest.raises(InputError, match=r"x\.csv: 0 records read from a non-empty csv file"):
        parse_bytes(b"title;doi\n;\n", "x.csv")
    with pytest.raises(InputError, match=r"empty\.ris: the file is empty"):
        parse_bytes(b"  \n", "empty.ris")
    with pytest.raises(InputError, match=r"notes\.txt: format not recognised"):
        parse_bytes(b"just some words", "notes.txt")
    with pytest.raises(InputError, match=r"t\.csv: the header .* names none of the columns"):
        parse_bytes(b"a;b\n1;2\n", "t.csv")


def test_unknown_xml_is_an_error() -> None:
    with pytest.raises(InputError, match=r"lib\.xml: format not recognised"):
        parse_bytes(b"<library><item><title>T</title></item></library>", "lib.xml")
    with pytest.raises(
        InputError,
        match=r"en\.xml: 0 records read from a non-empty endnote_xml file \(en\.xml:1: "
        r"record 1 is empty; skipped\)",
    ):
        parse_bytes(b"<xml><records><record/></records></xml>", "en.xml")
    with pytest.raises(InputError, match=r"bad\.xml: not well-formed XML"):
        parse_bytes(b"<PubmedArticleSet><PubmedArticle></PubmedArticleSet>", "bad.xml")
    with pytest.raises(InputError, match="entity declarations"):
        parse_bytes(
            b'<!DOCTYPE x [<!ENTITY a "aaaa">]><PubmedArticleSet><PubmedArticle/>'
            b"</PubmedArticleSet>",
            "bomb.xml",
        )


def test_non_utf8_file_is_read_and_noted() -> None:
    data = "TY  - JOUR\nTI  - Caf\u00e9 au lait spots\nER  -\n".encode("cp1252")
    result = parse_bytes(data, "latin.ris")
    assert result.records[0].title == "Caf\u00e9 au lait spots"
    assert result.problems[0].line is None
    assert "not UTF-8; read as cp1252" in result.problems[0].message
