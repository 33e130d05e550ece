"""Duplicate detection on constructed records: tier 1 rules, tier-2 evidence, no clustering."""

from __future__ import annotations

import pandas as pd
import pytest

from metareview.exceptions import InputError
from metareview.review import find_duplicates
from metareview.review._normalise import normalise_text
from metareview.review.dedup import journals_agree, pairs_from_groups, report_kind

TITLE = "Intrapleural streptokinase for pleural infection: a randomised controlled trial"


def frame(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame([{"id": f"r{k}", **row} for k, row in enumerate(rows, start=1)])


def test_same_doi_and_agreeing_titles_is_tier1() -> None:
    recs = frame(
        {"title": TITLE, "doi": "10.1056/NEJMoa042473"},
        {"title": TITLE.upper() + ".", "doi": "https://doi.org/10.1056/nejmoa042473"},
    )
    (pair,) = find_duplicates(recs).pairs
    assert (pair.id_a, pair.id_b, pair.tier, pair.score) == ("r1", "r2", 1, 1.0)
    assert pair.reasons == ("same DOI", "title 100")


def test_same_pmid_and_agreeing_titles_is_tier1() -> None:
    recs = frame({"title": TITLE, "pmid": "15746001"}, {"title": TITLE, "pmid": "15746001"})
    assert [p.tier for p in find_duplicates(recs).pairs] == [1]


def test_same_doi_with_different_titles_is_not_merged() -> None:
    recs = frame(
        {"title": TITLE, "doi": "10.1000/x"},
        {"title": "Erratum to a completely unrelated cohort study of asthma", "doi": "10.1000/x"},
    )
    result = find_duplicates(recs)
    assert result.tier1 == ()
    (pair,) = result.tier2
    assert pair.reasons[0] == "same DOI but titles differ"


def test_same_title_different_journal_and_pages_is_not_a_candidate() -> None:
    recs = frame(
        {
            "title": TITLE,
            "authors": ["Maskell, N."],
            "year": 2005,
            "journal": "Thorax",
            "pages": "100-110",
        },
        {
            "title": TITLE,
            "authors": ["Maskell, N."],
            "year": 2005,
            "journal": "New England Journal of Medicine",
            "pages": "865-874",
        },
    )
    assert find_duplicates(recs).pairs == ()


def test_shared_title_alone_is_not_enough_and_empty_fields_never_match() -> None:
    recs = frame({"title": TITLE}, {"title": TITLE}, {"title": "", "doi": ""}, {"title": ""})
    assert find_duplicates(recs).pairs == ()


def test_same_title_and_bibliographic_fields_merge_without_identifiers() -> None:
    recs = frame(
        {
            "title": TITLE,
            "authors": "Maskell, N. A. and Davies, C.",
            "year": "2005",
            "journal": "New England Journal of Medicine",
            "pages": "865-874",
            "volume": "352",
        },
        {
            "title": "[" + TITLE.lower() + "]",
            "authors": ["Maskell, Nicholas A."],
            "year": 2005,
            "journal": "N Engl J Med",
            "pages": "865",
            "volume": "352",
        },
    )
    (pair,) = find_duplicates(recs).pairs
    assert pair.tier == 1  # title, year, first author, journal, page and volume all agree
    assert {"same year", "same first author", "same journal", "same start page"} <= set(
        pair.reasons
    )
    assert 0.9 < pair.score <= 1.0
    # one year apart (e-pub and print): left for a person
    recs.loc[1, "year"] = 2006
    (pair,) = find_duplicates(recs).pairs
    assert pair.tier == 2
    # the same with only year and first author to go on: left for a person
    bare = recs[["id", "title", "authors"]].assign(year=2005)
    assert [p.tier for p in find_duplicates(bare).pairs] == [2]


def test_pairs_are_not_joined_transitively() -> None:
    # r1~r2 and r2~r3 are each supported, r1 and r3 disagree on year and pages: no r1-r3 pair.
    base = {"authors": ["Lee, A."], "journal": "Thorax", "volume": "57"}
    recs = frame(
        {**base, "title": TITLE, "year": 2002, "pages": "30"},
        {**base, "title": TITLE, "year": 2002},
        {**base, "title": TITLE, "year": 2009, "pages": "99"},
    )
    found = {(p.id_a, p.id_b) for p in find_duplicates(recs).pairs}
    assert ("r1", "r2") in found
    assert ("r1", "r3") not in found


def test_journal_abbreviations() -> None:
    assert journals_agree("Nat Rev Nephrol", "Nature reviews. Nephrology")
    assert journals_agree(
        "JPEN. Journal of parenteral and enteral nutrition",
        "Jpen: Journal of Parenteral & Enteral Nutrition",
    )
    assert not journals_agree("Thorax", "Chest")
    assert journals_agree("", "Chest") is None


def test_summary_and_input_checks() -> None:
    recs = frame({"title": TITLE, "doi": "10.1/x"}, {"title": TITLE, "doi": "10.1/x"})
    summary = find_duplicates(recs).summary()
    assert list(summary.columns) == ["id_a", "id_b", "tier", "score", "reasons"]
    assert find_duplicates(recs).to_dict()["pairs"][0]["tier"] == 1
    with pytest.raises(InputError, match="records needs an 'id' column"):
        find_duplicates(pd.DataFrame({"title": [TITLE]}))
    with pytest.raises(InputError, match="repeated values"):
        find_duplicates(pd.DataFrame({"id": ["a", "a"], "title": [TITLE, TITLE]}))


def test_pairs_from_groups() -> None:
    assert pairs_from_groups([["b", "a", "c"], ["d"]]) == {("a", "b"), ("a", "c"), ("b", "c")}


ARTICLE = {
    "title": TITLE,
    "authors": ["Maskell, N."],
    "year": 2005,
    "journal": "New England Journal of Medicine",
    "volume": "352",
    "pages": "865-874",
}


@pytest.mark.parametrize(
    ("title", "kind"),
    [
        (f"Erratum: {TITLE}", "erratum"),
        (f"{TITLE} (vol 352, pg 865, 2005)", "erratum"),
        (f"Retraction notice to: {TITLE}", "retraction"),
        (f"Comment on: {TITLE}", "comment"),
        (f"{TITLE} - Reply", "comment"),
    ],
)
def test_related_reports_are_linked_never_merged(title: str, kind: str) -> None:
    recs = frame(ARTICLE, {**ARTICLE, "title": title, "pages": "1290"})
    result = find_duplicates(recs)
    assert result.pairs == ()
    (link,) = result.related
    assert (link.report_id, link.article_id, link.kind) == ("r2", "r1", kind)


def test_medline_erratum_note_does_not_make_an_article_an_erratum() -> None:
    noted = f"{TITLE}.[Erratum appears in N Engl J Med. 2005 May 19;352(20):2146]"
    result = find_duplicates(frame(ARTICLE, {**ARTICLE, "title": noted}))
    assert result.related == ()
    assert [p.tier for p in result.pairs] == [1]


def test_conference_abstract_of_a_later_paper_is_related() -> None:
    abstract = {
        **ARTICLE,
        "year": 2004,
        "journal": "American Journal of Respiratory and Critical Care Medicine",
        "volume": "169 Suppl",
        "pages": "A512",
    }
    result = find_duplicates(frame(ARTICLE, abstract))
    assert result.pairs == ()
    assert [(r.report_id, r.kind) for r in result.related] == [("r2", "conference abstract")]


def test_two_articles_of_one_volume_are_not_duplicates() -> None:
    # a letter with the article's title, same journal and volume, pages far apart
    other = {**ARTICLE, "title": TITLE + " in adults", "pages": "1290-1291"}
    assert find_duplicates(frame(ARTICLE, other)).pairs == ()


def test_candidates_are_found_far_apart_in_sort_order() -> None:
    # 400 distinct records between a title and its typo'd copy (first word changed): the
    # title-word index, not the sorted neighbourhood, finds the pair
    filler = [
        {"title": f"Study number {k} of pleural disease cohort {k * 7}", "year": 1990 + k % 30}
        for k in range(400)
    ]
    typo = {
        **ARTICLE,
        "title": "Zntrapleural streptokinase for pleural infection: a randomised controlled trial",
        "authors": ["Maskell, N. A."],
    }
    result = find_duplicates(frame(ARTICLE, *filler, typo))
    assert ("r1", "r402") in {(p.id_a, p.id_b) for p in result.pairs}


def test_one_word_titles_with_a_typo_stay_candidates() -> None:
    # the word-signature pre-filter must not drop titles too short to share a word
    # (a one-word title with a typo shares none; found on a grown corpus of 100,000 records)
    fields = {
        "authors": ["Dubois, E. A.", "Cohen, A. F."],
        "year": 2009,
        "journal": "British Journal of Clinical Pharmacology",
        "volume": "68",
    }
    recs = frame(
        {"title": "Eculizumab", "pages": "318-319", **fields},
        {"title": "Eculizumeb", "pages": "318-9", **fields},
    )
    (pair,) = find_duplicates(recs).pairs
    assert (pair.id_a, pair.id_b) == ("r1", "r2")


def test_journal_abbreviations_by_contraction_and_run_together() -> None:
    # ISO 4 contracts words ("Dtsch" for "Deutsche", "Natl" for "National"); some databases
    # write the abbreviation without spaces. Both disagreed before (issue 17 follow-up).
    assert journals_agree("Dtsch-Med-Wochenschr", "Deutsche medizinische Wochenschrift")
    assert journals_agree(
        "Proc Natl Acad Sci U S A",
        "Proceedings of the National Academy of Sciences of the United States of America",
    )
    assert journals_agree("Jthoraccardiovascsurg", "Journal of Thoracic & Cardiovascular Surgery")
    # a contraction keeps the first letter and the order of letters
    assert not journals_agree("Thorax", "Thoracic Surgery Clinics")
    assert not journals_agree("Jthoraxcardiolsurg", "Journal of Thoracic & Cardiovascular Surgery")


PAPER = {
    "authors": ["Oliveira, J. F.", "Mello, F. C.", "Rodrigues, R. S."],
    "year": 2010,
    "volume": "14",
    "pages": "127-132",
}


def test_one_article_under_two_journal_names_is_for_review() -> None:
    # a title followed by its translation, and the journal's English and Portuguese names:
    # year, first author, co-authors, volume and start page agree, only the journal's name
    # differs -> a pair for review (it was no pair: any disagreement rejected it)
    title = "Effect of continuous positive airway pressure on pleural effusion due to tuberculosis"
    recs = frame(
        {"title": title, "journal": "Revista Brasileira de Fisioterapia", **PAPER},
        {
            "title": title + "; Efeito da pressao positiva nas vias aereas no derrame pleural",
            "journal": "Braz. j. phys. ther. (Impr.)",
            **PAPER,
        },
    )
    (pair,) = find_duplicates(recs).pairs
    assert pair.tier == 2
    assert "same co-authors" in pair.reasons and "but different journals" in pair.reasons
    # with another start page as well, it stays no pair
    recs.loc[1, "pages"] = "140-145"
    assert find_duplicates(recs).pairs == ()


def test_retitled_letter_with_the_same_authors_is_for_review() -> None:
    # a letter indexed under two titles; no volume or pages in one database: year, first
    # author, journal and two co-authors agree -> for review (three fields were too few)
    authors = ["Lapeyraque, A. L.", "Malina, M.", "Fremeaux-Bacchi, V."]
    recs = frame(
        {
            "title": "Eculizumab in severe Shiga-toxin-associated HUS",
            "authors": authors,
            "year": 2011,
            "journal": "New England Journal of Medicine",
            "volume": "364",
            "pages": "2561-2563",
        },
        {
            "title": "Complement Blockade in Severe Shiga-Toxin-Associated HUS",
            "authors": ["Lapeyraque, AL", "Malina, M", "Fremeaux-Bacchi, V"],
            "year": 2011,
            "journal": "New Engl J Med",
        },
    )
    (pair,) = find_duplicates(recs).pairs
    assert pair.tier == 2 and "same co-authors" in pair.reasons
    recs.at[1, "authors"] = ["Lapeyraque, AL", "Other, B", "Someone, C"]
    assert find_duplicates(recs).pairs == ()


NEJM = {"authors": ["Nurnberger, J.", "Philipp, T."], "year": 2009, "volume": "360"}


def test_the_page_an_erratum_note_names_is_linked_as_the_erratum() -> None:
    # MEDLINE's "[Erratum appears in ...;360(23):2487]" names the erratum's volume and page;
    # the one-page record there has the article's title and no mark of its own (it was
    # flagged as a duplicate of the article)
    article = "Eculizumab for atypical hemolytic-uremic syndrome"
    recs = frame(
        {
            "title": f"{article}.[Erratum appears in N Engl J Med. 2009 Jun 4;360(23):2487]",
            "journal": "New England Journal of Medicine",
            "pages": "542-544",
            **NEJM,
        },
        {"title": article, "journal": "N Engl J Med", "pages": "2487", **NEJM},
        # the same page in another volume is another record
        {"title": article, "journal": "N Engl J Med", "pages": "2487", **NEJM, "volume": "361"},
    )
    result = find_duplicates(recs)
    assert [(r.report_id, r.article_id, r.kind) for r in result.related] == [
        ("r2", "r1", "erratum")
    ]
    assert ("r1", "r2") not in {(p.id_a, p.id_b) for p in result.pairs}


def test_a_cut_off_erratum_note_links_a_one_page_record() -> None:
    # the note is cut off before its page: a one-page record of the same title on another
    # page of the journal is the erratum; a multi-page one is not linked that way
    title = "Predisposition to atypical hemolytic uremic syndrome involves several alleles"
    fields = {"authors": ["Esparza-Gordillo, J."], "year": 2005, "volume": "14"}
    recs = frame(
        {"title": f"{title}.[Erratum appears in Hu", "pages": "703-712", **fields},
        {"title": title, "pages": "1107-1107", **fields},
    )
    result = find_duplicates(recs)
    assert [(r.report_id, r.kind) for r in result.related] == [("r2", "erratum")]
    assert result.pairs == ()


def test_companion_papers_on_adjacent_pages_are_no_pair() -> None:
    # parts 1 and 2 of one trial, consecutive page ranges of one volume, titles differing in
    # the arm: two articles (they were a pair for review: start pages only 7 apart)
    fields = {
        "authors": ["Stemmler, H. J.", "Harbeck, N."],
        "year": 2010,
        "journal": "Oncology",
        "volume": "79",
    }
    recs = frame(
        {
            "title": "Phase III study of weekly versus standard docetaxel (D2) for breast cancer",
            "pages": "197-203",
            **fields,
        },
        {
            "title": "Phase III study of weekly versus standard docetaxel plus doxorubicin (D4) "
            "for breast cancer",
            "pages": "204-210",
            **fields,
        },
    )
    assert find_duplicates(recs).pairs == ()


def test_pnas_is_a_journal_not_a_meeting() -> None:
    # "Proceedings" made every PNAS article a conference abstract (issue 17 follow-up)
    pnas = normalise_text("Proceedings of the National Academy of Sciences of the USA")
    assert report_kind("gain of function mutations in factor b", venue=pnas) is None
    meeting = normalise_text("Proceedings of the American Society of Clinical Oncology")
    assert report_kind("gain of function mutations", venue=meeting) == "conference abstract"
