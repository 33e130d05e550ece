"""Related reports in the store, and automatic merges without identifiers (issue 17): every
link and merge audited and reversible, the review queue showing only uncertain pairs, and a
store made before migration 0009 upgraded."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from metareview.exceptions import InputError
from metareview.review import Store
from metareview.review.migrate import HEAD, current_revision, upgrade

TITLE = "Intrapleural streptokinase for pleural infection: a randomised controlled trial"


def _ris(title: str, author: str, pages: str, year: str = "2005") -> str:
    start, end = pages.split("-") if "-" in pages else (pages, pages)
    return (
        f"TY  - JOUR\nTI  - {title}\nAU  - {author}\nPY  - {year}\n"
        f"JO  - New England Journal of Medicine\nVL  - 352\nSP  - {start}\nEP  - {end}\nER  - \n"
    )


@pytest.fixture
def search(tmp_path: Path) -> Path:
    """An article twice (MEDLINE and Embase style, no identifiers), its erratum, and a study
    whose title differs in one word (left for a person)."""
    path = tmp_path / "search.ris"
    path.write_text(
        _ris(TITLE, "Maskell, Nicholas A.", "865-874")
        + _ris(TITLE.upper() + ".", "Maskell N.A.", "865-74")
        + _ris(f"Erratum: {TITLE}", "Maskell, N.", "2146")
        + _ris(TITLE.replace("randomised", "pilot"), "Maskell, N.", "880-890", year="2006"),
        encoding="utf-8",
    )
    return path


def test_sure_pairs_merge_uncertain_ones_wait_and_reports_are_linked(
    store: Store, search: Path
) -> None:
    store.import_file("review", search)
    article, copy, erratum, other = store.records("review")["id"].tolist()
    (group,) = store.auto_merge("review", actor="metareview")
    assert store.duplicate_groups("review")["record_id"].tolist() == [article, copy]
    assert "same first author" in store.audit_log()["reason"].iloc[-1]
    # only the uncertain pair waits for a person; the erratum is not a candidate duplicate
    assert store.duplicate_queue("review") == []  # article and copy are grouped
    store.unmerge(group, reason="check by hand", actor="Ana")  # reversible, as before
    queued = {(p["id_a"], p["id_b"]) for p in store.duplicate_queue("review")}
    assert erratum not in {i for pair in queued for i in pair}

    first, second = store.link_related_reports("review", actor="metareview")
    assert store.link_related_reports("review", actor="metareview") == []  # once only
    links = store.related_reports("review")
    # linked to each record of the article, not to the other study
    assert sorted(links[["report_id", "article_id", "kind"]].values.tolist()) == sorted(
        [[erratum, article, "erratum"], [erratum, copy, "erratum"]]
    )
    entry = store.audit_log().iloc[-1]
    assert (entry["entity"], entry["new"]["kind"]) == ("related_report", "erratum")
    store.unlink_report("review", first, actor="Ana", reason="it is a separate study")
    store.unlink_report("review", second, actor="Ana", reason="it is a separate study")
    assert not store.related_reports("review")["active"].any()
    assert store.audit_log().iloc[-1]["new"] == {"active": False}
    assert other not in set(store.related_reports("review")["report_id"])


def test_a_person_links_a_report_and_bad_links_are_refused(store: Store, search: Path) -> None:
    store.import_file("review", search)
    article, _, _, other = store.records("review")["id"].tolist()
    link = store.link_report(
        "review", other, article, kind="conference abstract", actor="Ana", reason="abstract"
    )
    assert store.related_reports("review")["link_id"].tolist() == [link]
    with pytest.raises(InputError, match="linked already"):
        store.link_report("review", article, other, kind="comment", actor="Ana", reason="x")
    with pytest.raises(InputError, match="kind must be one of"):
        store.link_report("review", other, article, kind="poster", actor="Ana", reason="x")
    with pytest.raises(InputError, match="two different records"):
        store.link_report("review", other, other, kind="comment", actor="Ana", reason="x")
    with pytest.raises(InputError, match="is not in project"):
        store.link_report("review", "nope", article, kind="comment", actor="Ana", reason="x")
    with pytest.raises(InputError, match="not found"):
        store.unlink_report("review", 999, actor="Ana", reason="x")
    store.unlink_report("review", link, actor="Ana", reason="not related")
    with pytest.raises(InputError, match="not an active link"):
        store.unlink_report("review", link, actor="Ana", reason="again")


def test_a_store_from_before_0009_is_upgraded(store_url: str, search: Path) -> None:
    engine = create_engine(store_url)
    upgrade(engine, "0008")
    assert "related_reports" not in inspect(engine).get_table_names()
    engine.dispose()
    store = Store.open(store_url)
    try:
        assert current_revision(store.engine) == HEAD
        store.create_project("old")
        store.import_file("old", search)
        assert len(store.link_related_reports("old", actor="metareview")) == 2
    finally:
        store.close()
