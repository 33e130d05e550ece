"""Property tests: no input crashes the importers; they import or raise InputError."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from metareview.exceptions import InputError
from metareview.review import parse_bytes

TAGS = ["TY", "ER", "TI", "T1", "AU", "A1", "PY", "Y1", "DO", "AB", "JO", "SP", "EP", "XX", "N1"]

ris_line = st.one_of(
    st.builds(
        lambda tag, sep, value: f"{tag}{sep}{value}",
        st.sampled_from(TAGS),
        st.sampled_from(["  - ", "  -", " - ", "  -  ", ""]),
        st.text(max_size=40),
    ),
    st.text(max_size=40),
)
ris_text = st.lists(ris_line, max_size=30).map("\n".join)


def _parse_or_input_error(data: bytes) -> None:
    try:
        result = parse_bytes(data, "fuzz.ris")
    except InputError as exc:
        assert "fuzz.ris" in str(exc)
    else:
        assert result.records
        for problem in result.problems:
            assert problem.file == "fuzz.ris"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_never_crash(data: bytes) -> None:
    _parse_or_input_error(data)


@settings(max_examples=300, deadline=None)
@given(ris_text, st.sampled_from(["", "\ufeff"]), st.sampled_from(["\n", "\r\n"]))
def test_random_ris_like_text_never_crashes(text: str, bom: str, newline: str) -> None:
    _parse_or_input_error((bom + text.replace("\n", newline)).encode("utf-8", "surrogatepass"))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(max_size=20), min_size=1, max_size=6), st.sampled_from([",", ";", "\t"]))
def test_random_tables_never_crash(cells: list[str], sep: str) -> None:
    header = sep.join(["title", "year", "doi"])
    _parse_or_input_error((header + "\n" + sep.join(cells)).encode("utf-8", "surrogatepass"))


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_random_pubmed_xml_like_text_never_crashes(body: str) -> None:
    data = f"<PubmedArticleSet><PubmedArticle>{body}</PubmedArticle></PubmedArticleSet>"
    _parse_or_input_error(data.encode("utf-8", "surrogatepass"))
