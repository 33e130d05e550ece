"""BibTeX and EndNote XML import, field by field, and through ``Store.import_file``.

The fixtures in ``data/`` are hand-written (see ``data/README.md``); their expected values were
read off the fixture text, not from this package's output. The real EndNote export is the
human-deduplicated tafenoquine library in ``../shared/testdata/dedup`` (179 ``<record>``
elements; 73 with a PubMed accession number from NLM, 156 with an ``electronic-resource-num``
DOI, counted with grep).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from metareview.exceptions import InputError
from metareview.review import Store, detect_format, parse_bytes, parse_file
from metareview.review.importers.bibtex import latex_text, split_names

DATA = Path(__file__).parent / "data"
BIB = DATA / "references.bib"
ENDNOTE = DATA / "library_endnote.xml"
BROKEN_ENDNOTE = DATA / "broken_endnote.xml"


@pytest.fixture
def tafenoquine(imports_dir: Path) -> Path:
    """The real EndNote XML export of the shared test data; skips when absent."""
    path = imports_dir.parent / "dedup" / "tafenoquine" / "tafenoquine.xml"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


# -- BibTeX -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bib() -> dict[str, object]:
    result = parse_file(BIB)
    return {"result": result, **{r.raw["ID"]: r for r in result.records}}


def test_bibtex_is_detected_by_content_not_extension(tmp_path: Path) -> None:
    text = BIB.read_text(encoding="utf-8")
    assert detect_format(text) == "bibtex"
    # the first line of an entry holds a comma: it must not be taken for a CSV header
    assert detect_format("@article{smith2004,\n  title = {A},\n}\n") == "bibtex"
    path = tmp_path / "export.txt"
    path.write_text(text, encoding="utf-8")
    assert parse_file(path).format == "bibtex"


def test_bibtex_keeps_good_entries_and_reports_broken_ones(bib: dict[str, object]) -> None:
    result = bib["result"]
    assert [r.raw["ID"] for r in result.records] == [
        "sigtermans2009",
        "egger1997",
        "rucker2008",
        "sanchezmeca2008",
        "juni1999",
        "higgins2002",
        "higgins2009a",
        "page2021",
        "wallace2012",
        "borenstein2009",
        "who_malaria",
        "ketamine_pending",
        "schwartzman2009",
        "dersimonian1986",
    ]
    assert [r.line for r in result.records] == [
        10, 26, 39, 49, 60, 71, 87, 98, 114, 125, 135, 143, 158, 177
    ]  # fmt: skip
    assert [(p.file, p.line, p.message) for p in result.problems] == [
        (str(BIB), 143, "year 'in press' is not a year; kept as missing"),
        (
            str(BIB),
            150,
            "@article entry could not be read (Expected '}' at line 153, column 3); skipped",
        ),
        (
            str(BIB),
            171,
            "entry has no closing '}'; read up to line 175, and field 'title' runs into the "
            "next field (an unclosed '{'?); skipped",
        ),
        (str(BIB), 177, "entry has no closing '}'; read up to line 185; kept"),
    ]


def test_bibtex_article_fields(bib: dict[str, object]) -> None:
    rec = bib["sigtermans2009"]
    assert rec.authors == [
        "Sigtermans, Marnix J.",
        "van Hilten, Jacobus J.",  # "von" part kept in front of the surname
        "Bauer, Martin C. R.",
        "Arbous, M. Sesmu",
        "Marinus, Johan",
        "Sarton, Elise Y.",
        "Dahan, Albert",
    ]
    assert rec.title == (
        "Ketamine produces effective and long-term pain relief in patients with "
        "Complex Regional Pain Syndrome Type 1"
    )
    assert rec.journal == "Pain"  # @string pain
    assert rec.year == 2009  # bare number
    assert (rec.volume, rec.issue, rec.pages) == ("145", "3", "304-311")
    assert (rec.doi, rec.pmid) == ("10.1016/j.pain.2009.06.023", "19604642")
    assert rec.abstract is None
    assert rec.raw["ENTRYTYPE"] == "article"  # @Article, lower-cased
    assert rec.raw["month"] == "October"  # predefined month macro
    assert rec.raw["keywords"] == "Ketamine; Complex regional pain syndromes; NMDA receptor"
    assert list(rec.raw)[:4] == ["ENTRYTYPE", "ID", "author", "title"]  # file order


def test_bibtex_quoted_values_braced_surname_and_pubmed_eprint(bib: dict[str, object]) -> None:
    rec = bib["egger1997"]
    assert rec.authors == [
        "Egger, Matthias",
        "Davey Smith, George",
        "Schneider, Martin",
        "Minder, Christoph",
    ]
    assert rec.title == "Bias in meta-analysis detected by a simple, graphical test"
    assert (rec.journal, rec.year, rec.volume, rec.issue) == ("BMJ", 1997, "315", "7109")
    assert rec.pages == "629-634"
    assert rec.doi == "10.1136/bmj.315.7109.629"  # https://doi.org/ removed
    assert rec.pmid == "9310563"  # eprint with eprinttype = {pubmed}


def test_bibtex_latex_accents_biblatex_fields_and_math(bib: dict[str, object]) -> None:
    rucker = bib["rucker2008"]
    assert rucker.authors[0] == "Rücker, Gerta"
    assert rucker.title == "Undue reliance on I^2 in assessing heterogeneity may mislead"
    assert rucker.journal == "BMC Medical Research Methodology"  # journaltitle
    assert rucker.year == 2008  # date = {2008-11-27}
    assert (rucker.volume, rucker.issue, rucker.pages) == ("8", None, "79")
    # two accented dotless i in one name (bibtexparser 1.x garbles the second one)
    assert bib["sanchezmeca2008"].authors == ["Sánchez-Meca, Julio", "Marín-Martínez, Fulgencio"]
    assert bib["sanchezmeca2008"].doi == "10.1037/1082-989x.13.1.31"
    assert bib["juni1999"].authors[0] == "Jüni, Peter"  # UTF-8 in the file
    assert bib["page2021"].authors[13] == "Hróbjartsson, Asbjørn"


def test_bibtex_first_last_names_abstract_and_year_suffix(bib: dict[str, object]) -> None:
    higgins = bib["higgins2002"]
    assert higgins.authors == ["Higgins, Julian P. T.", "Thompson, Simon G."]
    assert higgins.pmid == "12111919"
    assert higgins.abstract is not None
    assert higgins.abstract.startswith("The extent of heterogeneity in a meta-analysis partly")
    assert higgins.abstract.endswith(
        "such as I^2, the proportion of total variation due to "
        "heterogeneity rather than chance (e.g. 25%, 50% and 75%)."
    )
    later = bib["higgins2009a"]
    assert later.year == 2009  # "2009a"
    assert later.doi == "10.1111/j.1467-985x.2008.00552.x"


def test_bibtex_many_authors_and_other_entry_types(bib: dict[str, object]) -> None:
    page = bib["page2021"]
    assert len(page.authors) == 26
    assert (page.authors[0], page.authors[-1]) == ("Page, Matthew J.", "Moher, David")
    assert (page.volume, page.issue, page.pages, page.doi) == (
        "372",
        None,
        "n71",
        "10.1136/bmj.n71",
    )
    wallace = bib["wallace2012"]
    assert wallace.raw["ENTRYTYPE"] == "inproceedings"
    assert wallace.title == (
        "Deploying an interactive machine learning system in an evidence-based practice "
        "center: abstrackr"
    )
    assert wallace.journal == (
        "Proceedings of the 2nd ACM SIGHIT International Health Informatics Symposium"
    )  # booktitle
    assert wallace.pages == "819-824"
    book = bib["borenstein2009"]
    assert (book.raw["ENTRYTYPE"], book.title, book.journal) == (
        "book",
        "Introduction to Meta-Analysis",
        None,
    )
    assert book.raw["publisher"] == r"John Wiley \& Sons"  # raw keeps the file's text
    assert bib["schwartzman2009"].issue == "1-3"


def test_bibtex_corporate_author_missing_year_and_in_press(bib: dict[str, object]) -> None:
    who = bib["who_malaria"]
    assert who.authors == ["World Health Organization"]
    assert who.title == "WHO guidelines for malaria"
    assert who.year is None  # missing: no problem reported for it
    assert who.raw["url"].startswith("https://www.who.int/")
    pending = bib["ketamine_pending"]
    assert pending.authors == ["Schönfeld, Anna", "Østergaard, Lars"]  # "and others" left out
    assert pending.year is None  # "in press": reported
    assert pending.raw["ENTRYTYPE"] == "unpublished"


def test_bibtex_unclosed_last_entry_is_kept(bib: dict[str, object]) -> None:
    last = bib["dersimonian1986"]
    assert last.authors == ["DerSimonian, Rebecca", "Laird, Nan"]
    assert last.doi == "10.1016/0197-2456(86)90046-2"
    assert (last.year, last.volume, last.issue, last.pages) == (1986, "7", "3", "177-188")


@pytest.mark.parametrize(
    ("latex", "text"),
    [
        (r"M{\"u}ller", "Müller"),
        (r"M\"{u}ller", "Müller"),
        (r"M\"uller", "Müller"),
        (r"{\'E}tienne", "Étienne"),
        (r"\'Eric", "Éric"),
        (r"Fran\c{c}ois", "François"),
        (r"Fran{\c c}ois", "François"),
        (r"\v{S}koda Dvo\v{r}\'{a}k", "Škoda Dvořák"),
        (r"Erd\H{o}s", "Erdős"),
        (r"Pe{\~n}a", "Peña"),
        (r"Mar{\'\i}n-Mart{\'\i}nez", "Marín-Martínez"),
        (r"Mar{\'i}n-Mart{\'i}nez", "Marín-Martínez"),
        (r"na\"{\i}ve", "naïve"),
        (r"na\"{i}ve", "naïve"),
        (r"Wa{\l}\k{e}sa", "Wałęsa"),
        (r"{\ss}, {\o}, {\O}, {\aa}, {\AE}", "ß, ø, Ø, å, Æ"),
        (r"Smith \& Wesson, 10\% of \$5", "Smith & Wesson, 10% of $5"),
        (r"The {\em in vivo} and \textit{in vitro} {DNA}", "The in vivo and in vitro DNA"),
        (r"$\omega$-3 fatty acids", r"\omega-3 fatty acids"),  # math kept as written
        ("pages 1--9, a --- b, non~breaking", "pages 1\u20139, a \u2014 b, non breaking"),
        ("line\n   break", "line break"),
        ("Smith\\", "Smith\\"),  # a trailing backslash does not crash
    ],
)
def test_latex_text(latex: str, text: str) -> None:
    assert latex_text(latex) == text


@pytest.mark.parametrize(
    ("field", "names"),
    [
        ("Smith, John and Doe, Jane", ["Smith, John", "Doe, Jane"]),
        ("John Smith and Jane Doe", ["Smith, John", "Doe, Jane"]),
        ("Ludwig van Beethoven", ["van Beethoven, Ludwig"]),
        ("van der Berg, Jr, Jan", ["van der Berg, Jan, Jr"]),
        ("{Barnes and Noble} and Smith, A.", ["Barnes and Noble", "Smith, A."]),
        ("{World Health Organization}", ["World Health Organization"]),
        ("Smith JA and Doe J and Li X", ["Smith, JA", "Doe, J", "Li, X"]),  # PubMed style
        ("Aristotle", ["Aristotle"]),
        ("Smith, A. and others", ["Smith, A."]),
        ("Smith, A. and  and Doe, B.", ["Smith, A.", "Doe, B."]),
        ("", []),
        ("Smith\\", ["Smith\\"]),
    ],
)
def test_split_names(field: str, names: list[str]) -> None:
    assert split_names(field) == names


def _bib(text: str) -> object:
    return parse_bytes(text.encode("utf-8"), "x.bib")


def test_bibtex_parenthesised_entry_with_parentheses_in_a_quoted_value() -> None:
    result = _bib('@article(k1,\n  title = "Pain (CRPS) after fracture",\n  year = 2001\n)\n')
    (record,) = result.records
    assert (record.title, record.year) == ("Pain (CRPS) after fracture", 2001)
    assert result.problems == ()


def test_bibtex_nonstandard_types_are_kept() -> None:
    # bibtexparser's default drops types outside classic BibTeX, silently
    result = _bib("@online{w1, title = {A web page}, year = 2020}\n@dataset{d1, title = {Data}}\n")
    assert [r.raw["ENTRYTYPE"] for r in result.records] == ["online", "dataset"]


def test_bibtex_undefined_macro_duplicate_key_and_stray_text() -> None:
    result = _bib(
        "@article{a, title = {One}, journal = jpain, year = 2001}\n"
        "} year = 2002\n"
        "@article{a, title = {Two}, year = 2003}\n"
    )
    assert [r.title for r in result.records] == ["One", "Two"]
    assert result.records[0].journal == "jpain"
    assert [(p.line, p.message) for p in result.problems] == [
        (1, "@string 'jpain' is not defined; kept as written"),
        (2, "text outside entries ignored: '} year = 2002'"),
        (3, "key 'a' already used at line 1; both kept"),
    ]


def test_bibtex_entry_without_key_is_reported() -> None:
    result = _bib("@article{title = {No key}, year = 2001}\n@article{ok, title = {Fine}}\n")
    assert [r.title for r in result.records] == ["Fine"]
    (problem,) = result.problems
    assert problem.line == 1
    assert problem.message.startswith("@article entry could not be read (")


def test_bibtex_comments_preamble_and_strings_only_is_zero_records() -> None:
    text = '@comment{unbalanced { comment}\n@preamble{"x"}\n@string{a = "b"}\n'
    with pytest.raises(InputError, match=r"x\.bib: 0 records read from a non-empty bibtex file"):
        _bib(text)


def test_bibtex_in_latin1_is_read_and_noted() -> None:
    data = "@article{k, author = {Müller, Anna}, title = {Café}}\n".encode("latin-1")
    result = parse_bytes(data, "old.bib")
    assert result.records[0].authors == ["Müller, Anna"]
    assert "not UTF-8" in result.problems[0].message


# -- EndNote XML -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def endnote() -> dict[str, object]:
    result = parse_file(ENDNOTE)
    return {"result": result, **{r.raw["rec-number"][0]: r for r in result.records}}


def test_endnote_is_detected_by_content_not_extension(tmp_path: Path) -> None:
    text = ENDNOTE.read_text(encoding="utf-8")
    assert detect_format(text) == "endnote_xml"
    path = tmp_path / "library.txt"
    path.write_text(text, encoding="utf-8")
    result = parse_file(path)
    assert (result.format, len(result.records), result.database) == ("endnote_xml", 6, "NLM")


def test_endnote_records_lines_and_problems(endnote: dict[str, object]) -> None:
    result = endnote["result"]
    assert [r.line for r in result.records] == [2, 3, 4, 5, 6, 7]
    assert [(p.line, p.message) for p in result.problems] == [
        (7, "record 6 (rec-number 41): year 'In press' is not a year; kept as missing")
    ]


def test_endnote_journal_article_fields(endnote: dict[str, object]) -> None:
    rec = endnote["12"]
    assert rec.authors == [
        "Sigtermans, M. J.",
        "van Hilten, J. J.",
        "Bauer, M. C.",
        "Arbous, M. S.",
        "Marinus, J.",
        "Sarton, E. Y.",
        "Dahan, A.",
    ]
    assert rec.title == (
        "Ketamine produces effective and long-term pain relief in patients with Complex "
        "Regional Pain Syndrome Type 1"
    )
    assert (rec.journal, rec.year, rec.volume, rec.issue, rec.pages) == (
        "Pain",
        2009,
        "145",
        "3",
        "304-11",
    )
    assert rec.doi == "10.1016/j.pain.2009.06.023"  # the PII after &#xD; is left out
    assert rec.pmid == "19604642"  # accession-num from NLM
    assert rec.abstract is not None
    assert rec.abstract.endswith("was infused for 4.2 days & pain scores fell.")
    assert rec.raw["ref-type@name"] == "Journal Article"
    assert rec.raw["keywords/keyword"] == [
        "Adult",
        "*Complex Regional Pain Syndromes/drug therapy",
        "Ketamine/*administration & dosage",
    ]
    assert rec.raw["remote-database-provider"] == ["NLM"]


def test_endnote_styles_are_flattened_and_identifiers_checked(endnote: dict[str, object]) -> None:
    egger = endnote["3"]
    assert egger.title == "Bias in meta-analysis detected by a simple, graphical test"
    assert egger.authors[1] == "Davey Smith, G."
    rucker = endnote["27"]
    assert rucker.title == "Undue reliance on I2 in assessing heterogeneity may mislead"
    assert rucker.authors[0] == "Rücker, G."  # &#xFC;
    assert rucker.doi == "10.1186/1471-2288-8-79"  # from https://doi.org/...
    assert rucker.pmid is None  # an Embase accession number is not a PMID
    assert rucker.raw["accession-num"] == ["2008624735"]
    observer = endnote["31"]
    assert observer.authors[0] == "Hróbjartsson, A."
    assert len(observer.authors) == 8
    assert (observer.pages, observer.pmid, observer.issue) == ("e1119", "22371859", None)


def test_endnote_corporate_author_and_missing_year(endnote: dict[str, object]) -> None:
    who = endnote["40"]
    assert who.authors == ["World Health Organization"]  # EndNote's trailing comma removed
    assert (who.year, who.journal, who.doi) == (None, None, None)
    assert who.raw["ref-type@name"] == "Generic"
    pending = endnote["41"]
    assert pending.authors == ["Østergaard, L.", "Núñez, M."]
    assert (pending.year, pending.journal) == (None, "Pain Med")


def test_endnote_broken_records_are_reported_and_the_others_kept() -> None:
    result = parse_file(BROKEN_ENDNOTE)
    assert [r.raw["rec-number"][0] for r in result.records] == ["3", "31", "40"]
    assert [r.line for r in result.records] == [2, 4, 6]
    assert result.records[1].title is not None
    assert result.records[1].title.startswith("Observer bias in randomised")  # \x0b -> space
    assert [(p.line, p.message) for p in result.problems] == [
        (3, "record 2 (rec-number 12) is not well-formed XML (not well-formed (invalid token)); "
            "skipped"),
        (4, "1 control character(s) not allowed in XML (first '\\x0b' at offset 5945) replaced "
            "by spaces"),
        (5, "record 4 is empty; skipped"),
        (7, "record 6 (rec-number 41) has no </record> (truncated?); skipped"),
    ]  # fmt: skip


def test_endnote_on_one_line_names_the_record() -> None:
    text = ENDNOTE.read_text(encoding="utf-8").replace("\n", "")
    result = parse_bytes(text.encode("utf-8"), "oneline.xml")
    assert len(result.records) == 6
    assert [r.line for r in result.records] == [1] * 6
    assert result.problems[0].message.startswith("record 6 (rec-number 41): year 'In press'")


def test_endnote_junk_outside_the_records_is_reported() -> None:
    text = ENDNOTE.read_text(encoding="utf-8").replace("</records></xml>", "</records>")
    result = parse_bytes(text.encode("utf-8"), "cut.xml")
    assert len(result.records) == 6
    (note,) = [p for p in result.problems if "not well-formed" in p.message]
    assert note.message.startswith("file is not well-formed XML (no element found, column ")
    assert note.message.endswith("records were read one by one")


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>',  # expansion
        '<!DOCTYPE xml [<!ENTITY ext SYSTEM "file:///etc/passwd">]>',  # external entity
        '<!DOCTYPE xml [<!ENTITY % p SYSTEM "http://example.invalid/x.dtd"> %p;]>',
    ],
)
def test_endnote_entity_declarations_are_refused(doctype: str) -> None:
    data = (
        f'<?xml version="1.0"?>{doctype}<xml><records><record><titles><title>&b;</title>'
        "</titles></record></records></xml>"
    )
    with pytest.raises(InputError, match=r"evil\.xml: .*entity declarations are not accepted"):
        parse_bytes(data.encode(), "evil.xml")


def test_endnote_internal_subset_without_entities_is_refused() -> None:
    data = (
        "<!DOCTYPE xml [<!ELEMENT xml ANY>]><xml><records><record><titles><title>T</title>"
        "</titles></record></records></xml>"
    )
    with pytest.raises(InputError, match=r"DTD internal subset in <!DOCTYPE xml> not accepted"):
        parse_bytes(data.encode(), "subset.xml")


def test_endnote_external_dtd_is_not_fetched() -> None:
    # expat never loads an external DTD unless asked to; the record is read, nothing fetched
    data = (
        '<!DOCTYPE xml SYSTEM "http://example.invalid/endnote.dtd"><xml><records><record>'
        "<titles><title>T</title></titles></record></records></xml>"
    )
    assert parse_bytes(data.encode(), "dtd.xml").records[0].title == "T"


def test_endnote_real_export(tafenoquine: Path) -> None:
    result = parse_file(tafenoquine)
    assert (result.format, len(result.records), result.database) == ("endnote_xml", 179, "NLM")
    assert result.problems == ()
    assert sum(r.pmid is not None for r in result.records) == 73
    assert sum(r.doi is not None for r in result.records) == 156
    first = result.records[0]
    assert first.authors == ["Baird, J. K."]
    assert first.title == "8-Aminoquinoline Therapy for Latent Malaria"
    assert (first.journal, first.year, first.volume, first.issue) == (
        "Clin Microbiol Rev",
        2019,
        "32",
        "4",
    )
    assert (first.pmid, first.doi) == ("31366609", "10.1128/cmr.00011-19")
    assert first.raw["custom2"] == ["PMC6750137"]


# -- through the store ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "fmt", "n_records"), [(BIB, "bibtex", 14), (ENDNOTE, "endnote_xml", 6)]
)
def test_store_imports_both_formats_idempotently(
    store: Store, tmp_path: Path, path: Path, fmt: str, n_records: int
) -> None:
    report = store.import_file("review", path)
    assert (report.format, report.n_records, report.n_imported) == (fmt, n_records, n_records)
    assert report.problems == parse_file(path).problems
    frame = store.records("review")
    assert len(frame) == n_records
    assert list(frame["source_line"]) == [r.line for r in parse_file(path).records]
    ids = frame["id"].tolist()
    assert len(set(ids)) == n_records
    assert ids[0].endswith("-000001")
    copy = tmp_path / f"renamed{path.suffix}"
    copy.write_bytes(path.read_bytes())
    again = store.import_file("review", copy)
    assert again.already_imported
    assert again.n_imported == 0
    assert store.records("review")["id"].tolist() == ids


def test_store_keeps_fields_of_both_formats(store: Store) -> None:
    store.import_file("review", BIB)
    store.import_file("review", ENDNOTE)
    frame = store.records("review").set_index("doi")
    sigtermans = frame.loc["10.1016/j.pain.2009.06.023"]
    assert len(sigtermans) == 2  # one from each file; deduplication is a later step
    assert sigtermans["pmid"].tolist() == ["19604642", "19604642"]
    assert sigtermans["year"].tolist() == [2009, 2009]
    assert sigtermans["authors"].iloc[0][1] == "van Hilten, Jacobus J."
    assert sigtermans["authors"].iloc[1][1] == "van Hilten, J. J."


def test_store_imports_the_real_endnote_export(store: Store, tafenoquine: Path) -> None:
    report = store.import_file("review", tafenoquine)
    assert (report.format, report.n_imported, report.database) == ("endnote_xml", 179, "NLM")
    assert len(store.records("review")) == 179
