"""`metareview store ...` and `metareview screen`: exit codes, exact output lines, and the
store's state afterwards. Keys are piped one per line, as from `printf 'i\\ne\\n' | ...`."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from metareview.cli import app
from metareview.cli.screen import KeyReader, highlight, record_panel
from metareview.review import Store
from metareview.review.queue import keyword_pattern
from tests.cli.conftest import PROJECT, RECORDS, ids, own_votes, run, write_ris

RUNNER = CliRunner()


# -- store commands ---------------------------------------------------------------------------
def test_init_import_reviewers_exact_lines(tmp_path: Path) -> None:
    path, ris = tmp_path / "r.sqlite", write_ris(tmp_path / "s.ris")
    result = run(path, "store", "init", "--project", PROJECT)
    assert result.exit_code == 0 and result.output == f"created project 'crps' in {path}\n"
    result = run(path, "store", "import", str(ris))
    assert result.output == f"{ris}: 4 records imported as ris (source 1); 0 problems.\n"
    again = run(path, "store", "import", str(ris))
    assert again.exit_code == 0 and "already imported (source 1" in again.output
    result = run(path, "store", "reviewer", "add", "Olga", "--role", "owner")
    assert result.output == "added owner 'Olga' to 'crps'\n"
    listing = run(path, "store", "reviewer", "list").output
    assert "│ Olga │ owner │ yes    │" in listing


def test_import_problems_are_tabled(tmp_path: Path, db: Path) -> None:
    ris = write_ris(tmp_path / "odd.ris", RECORDS[:1], extra="stray words before\n")
    result = run(db, "store", "import", str(ris))
    assert result.exit_code == 0, result.output
    assert "1 records imported as ris" in result.output and "1 problems." in result.output
    assert "Import problems" in result.output
    assert "text between records ignored" in result.output.replace("\n", " ").replace("│", "")


def test_errors_are_one_red_line_with_exit_code_2(tmp_path: Path, db: Path) -> None:
    missing = tmp_path / "nothere.sqlite"
    result = run(missing, "store", "reviewer", "add", "Ana")
    assert result.exit_code == 2
    assert result.output == (
        f"error: --store: no review store at '{missing}'; create one "
        "with `metareview store init --project NAME` or pass --store.\n"
    )
    assert not missing.exists()
    result = run(db, "store", "reviewer", "add", "Ana")
    assert result.exit_code == 2
    assert result.output == "error: name: reviewer 'Ana' is already in project 'crps'.\n"
    result = run(db, "store", "init", "--project", PROJECT)
    assert result.exit_code == 2 and result.output.count("\n") == 1
    # a second project: --project can no longer be left out
    assert run(db, "store", "init", "--project", "other").exit_code == 0
    result = run(db, "store", "conflicts")
    assert result.exit_code == 2 and "--project is needed: the store holds 2 projects" in (
        result.output
    )
    assert run(db, "store", "conflicts", "--project", PROJECT).exit_code == 0


def test_default_store_is_review_sqlite_in_the_current_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = RUNNER.invoke(app, ["store", "init", "--project", PROJECT])
    assert result.exit_code == 0 and (tmp_path / "review.sqlite").exists()


def test_dedup_lists_pairs_and_auto_merges_tier_1(tmp_path: Path) -> None:
    path = tmp_path / "d.sqlite"
    run(path, "store", "init", "--project", PROJECT)
    text = (
        "TY  - JOUR\nTI  - Ketamine infusion for complex regional pain syndrome\n"
        "AU  - Smith, J.\nPY  - 2015\nDO  - 10.1000/crps.1\nER  - \n\n"
    )
    (tmp_path / "a.ris").write_text(text, encoding="utf-8")
    (tmp_path / "b.ris").write_text(text.replace("syndrome", "syndrome."), encoding="utf-8")
    run(path, "store", "import", str(tmp_path / "a.ris"), str(tmp_path / "b.ris"))
    listed = run(path, "store", "dedup")
    assert listed.exit_code == 0, listed.output
    assert listed.output.splitlines() == [
        "1 tier-1 pairs (same DOI/PMID, or title, year, author and journal): merge them with "
        "`metareview store dedup --auto`",
        "no candidate duplicate pairs left",
    ]
    merged = run(path, "store", "dedup", "--auto")
    assert merged.output.splitlines() == [
        "merged 1 tier-1 groups (groups 1)",
        "no candidate duplicate pairs left",
    ]


# -- the screener -----------------------------------------------------------------------------
def test_two_reviewers_screen_blinded(db: Path) -> None:
    rid = ids(db)
    ana = run(db, "screen", "--reviewer", "Ana", input="i\ne\ni\nq\n")
    assert ana.exit_code == 0, ana.output
    assert "record 1 of 4 (your votes 0 / 4)" in ana.output
    assert "record 3 of 4 (your votes 2 / 4)" in ana.output
    assert ana.output.splitlines()[-1] == (
        "Ana: 3 new votes this session; 1 records left for you at title_abstract."
    )
    assert own_votes(db, "Ana") == {
        rid[0]: ("include", None),
        rid[1]: ("exclude", None),
        rid[2]: ("include", None),
    }
    ben = run(db, "screen", "--reviewer", "Ben", input="e\ne\nq\n")
    assert ben.exit_code == 0, ben.output
    # Ben starts at record 1 with his own count and never sees Ana's name or votes
    assert "record 1 of 4 (your votes 0 / 4)" in ben.output
    assert "Ana" not in ben.output and "your vote:" not in ben.output
    assert own_votes(db, "Ben") == {rid[0]: ("exclude", None), rid[1]: ("exclude", None)}
    # the blinded API: Ben sees Ana's votes only on the two records now complete
    store = Store.open(db)
    try:
        seen = store.decisions(PROJECT, "Ben")
    finally:
        store.close()
    assert set(seen.loc[seen["reviewer"] == "Ana", "record_id"]) == {rid[0], rid[1]}


def test_end_of_input_quits_and_unknown_keys_ask_again(db: Path) -> None:
    result = run(db, "screen", "--reviewer", "Ana", input="x\n\ni\n")
    assert result.exit_code == 0, result.output
    assert "'x' is not a key" in result.output and "'' is not a key" in result.output
    assert list(own_votes(db, "Ana").values()) == [("include", None)]


def test_skip_then_undo_revises_the_last_vote(db: Path) -> None:
    rid = ids(db)
    result = run(db, "screen", "--reviewer", "Ana", input="s\ni\nu\ne\nq\n")
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"undo: vote again on {rid[1]}" in out and "your vote: include" in out
    assert "record 3 of 4 (your votes 1 / 4) · 1 skipped" in out
    assert out.splitlines()[-1] == (
        "Ana: 1 new votes (1 revised) this session; 3 records left "
        "for you at title_abstract (1 skipped)."
    )
    assert own_votes(db, "Ana") == {rid[1]: ("exclude", None)}
    store = Store.open(db)
    try:
        log = store.audit_log()
    finally:
        store.close()
    assert log.loc[log["entity"] == "screening_decision", "reason"].tolist() == ["vote", "revised"]
    # skipped records are only skipped for the session: record 1 comes first next time
    again = run(db, "screen", "--reviewer", "Ana", input="q\n")
    assert f"─ {rid[0]} ─" in again.output


def test_nothing_to_undo_and_all_skipped(db: Path) -> None:
    result = run(db, "screen", "--reviewer", "Cy", input="u\ns\ns\ns\ns\n")
    assert "nothing to undo in this session" in result.output
    assert result.output.splitlines()[-1] == (
        "Cy: 0 new votes this session; 4 records left for you at title_abstract (4 skipped)."
    )


def test_keywords_are_highlighted(db: Path) -> None:
    result = run(
        db,
        "screen",
        "--reviewer",
        "Ana",
        "--keywords",
        "ketamine,crps",
        "--exclude-keywords",
        "rat*",
        input="q\n",
    )
    assert result.exit_code == 0, result.output
    # plain text (no terminal): the words are there, unchanged
    assert "Ketamine infusion for complex regional pain syndrome" in result.output
    assert "CRPS-I patients received S-ketamine; pain fell. Rats were not studied." in (
        result.output
    )
    bad = run(db, "screen", "--reviewer", "Ana", "--keywords", "ketamine,*")
    assert bad.exit_code == 2 and bad.output.startswith("error: keywords: '*' has no letter")


def test_highlight_styles_whole_words_and_prefixes() -> None:
    text = "Ketamine for CRPS-I in rats; rates of crpsx"
    spans = highlight(text, ["ketamine", "CRPS"], ["rats"]).spans
    assert [(text[s.start : s.end], s.style) for s in spans] == [
        ("Ketamine", "bold green"),
        ("CRPS", "bold green"),
        ("rats", "bold red"),
    ]
    assert [m.group() for m in keyword_pattern("rat").finditer(text)] == []
    assert [m.group() for m in keyword_pattern("rat*").finditer(text)] == ["rats", "rates"]
    assert keyword_pattern("regional pain").search("complex Regional\n pain") is not None
    # in a colour terminal the words carry the styles (bold green / bold red)
    console = Console(file=io.StringIO(), force_terminal=True, color_system="standard", width=80)
    record = {
        "id": "r1",
        "title": "Ketamine for CRPS",
        "authors": ["Smith, J."],
        "year": 2015,
        "journal": "Pain",
        "abstract": "Tested in rats [sic].",
    }
    console.print(
        record_panel(record, include=["ketamine"], exclude=["rat*"], progress="record 1 of 1")
    )
    ansi = console.file.getvalue()
    assert "\x1b[1;32mKetamine\x1b[0m" in ansi and "\x1b[1;31mrats\x1b[0m" in ansi
    assert "[sic]" in ansi  # square brackets in a record are text, not markup


def test_full_text_exclusion_reasons_menu_is_blinded(db: Path) -> None:
    rid = ids(db)
    for name in ("Ana", "Ben"):  # records 1 and 3 pass title/abstract
        run(db, "screen", "--reviewer", name, input="i\ne\ni\ne\n")
    ana = run(
        db,
        "screen",
        "--reviewer",
        "Ana",
        "--stage",
        "full_text",
        input="e\n7\nwrong population\ne\n\nq\n",
    )
    assert ana.exit_code == 0, ana.output
    assert "no reason numbered 7" in ana.output and "cancelled" in ana.output
    assert "  1  wrong population" in ana.output  # offered again for the second record
    assert own_votes(db, "Ana", "full_text") == {rid[0]: ("exclude", "wrong population")}
    ben = run(
        db, "screen", "--reviewer", "Ben", "--stage", "full_text", input="e\nwrong outcome\ni\n"
    )
    # Ana's reason is on a record still incomplete when Ben votes: never offered to him
    assert "wrong population" not in ben.output and "Ana" not in ben.output
    assert own_votes(db, "Ben", "full_text") == {
        rid[0]: ("exclude", "wrong outcome"),
        rid[2]: ("include", None),
    }


def test_conflicts_resolve_unblind_agreement_and_prisma(tmp_path: Path, db: Path) -> None:
    rid = ids(db)
    run(db, "screen", "--reviewer", "Ana", input="i\ne\ni\ne\n")
    run(db, "screen", "--reviewer", "Ben", input="i\ne\ne\ne\n")
    result = run(db, "store", "conflicts")
    assert result.exit_code == 0 and "1 open conflicts at title_abstract" in result.output
    assert "Ana: include; Ben: exclude" in result.output and rid[2] in result.output

    voter = run(db, "store", "resolve", rid[2], "include", "--by", "Ana", "--reason", "x")
    assert voter.exit_code == 2 and "'Ana' voted on it, so cannot be its third" in voter.output
    ok = run(db, "store", "resolve", rid[2], "include", "--by", "Cy", "--reason", "human RCT")
    assert ok.output == f"resolved {rid[2]} at title_abstract: include (third reviewer, Cy)\n"
    again = run(
        db, "store", "resolve", rid[2], "exclude", "--by", "Olga", "--reason", "y", "--consensus"
    )
    assert again.exit_code == 2 and "only conflicts can be resolved" in again.output
    assert run(db, "store", "conflicts").output == "no open conflicts at title_abstract\n"

    refused = run(db, "store", "unblind", "--by", "Ben", "--reason", "curious")
    assert refused.exit_code == 2 and "not an owner" in refused.output
    assert (
        run(db, "store", "unblind", "--by", "Olga", "--reason", "calibration").output
        == "title_abstract unblinded by Olga\n"
    )

    # Ana i,e,i,e vs Ben i,e,e,e: p_o = 3/4, p_e = 1/2, kappa = PABAK = 0.5
    agreement = run(db, "store", "agreement")
    assert agreement.exit_code == 0, agreement.output
    assert "Agreement at title_abstract (4 complete records)" in agreement.output
    row = next(line for line in agreement.output.splitlines() if "Ana / Ben" in line)
    assert [c.strip() for c in row.split("│")[1:-1]] == [
        "Ana / Ben",
        "4",
        "0.500",
        row.split("│")[4].strip(),
        "75.0%",
        "0.500",
    ]
    assert "all votes agree on 75.0% of records" in agreement.output
    # the large-sample CI of kappa passes 1 with 4 records: shown cut at 1, with the note
    # (issue 21.21); the numbers keep the published formula's bound
    store = Store.open(db)
    try:
        pairs = store.screening_agreement(PROJECT, "title_abstract").pairs
    finally:
        store.close()
    assert pairs["ci_ub"].iloc[0] > 1
    assert row.split("│")[4].strip() == f"{pairs['ci_lb'].iloc[0]:.3f} to 1.000*"
    assert "* The large-sample CI of kappa" in agreement.output

    early = run(db, "store", "prisma")
    assert early.exit_code == 2 and "have no full_text outcome yet" in early.output
    run(db, "screen", "--reviewer", "Ana", "--stage", "full_text", input="i\ne\nwrong dose\n")
    run(db, "screen", "--reviewer", "Ben", "--stage", "full_text", input="i\ne\nWrong dose\n")
    png, csv = tmp_path / "fig" / "prisma.png", tmp_path / "PRISMA.csv"
    result = run(db, "store", "prisma", "-o", str(png), "--csv", str(csv))
    assert result.exit_code == 0, result.output
    lines = [
        [c.strip() for c in line.split("│")[1:-1]]
        for line in result.output.splitlines()
        if line.startswith("│")
    ]
    assert ["Records identified from databases", "4"] in lines and ["PubMed", "4"] in lines
    assert ["Records screened", "4"] in lines and ["Records excluded", "2"] in lines
    assert ["wrong dose", "1"] in lines and ["Studies included in review", "1"] in lines
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert csv.read_text().splitlines()[0] == "data,node,box,description,boxtext,tooltips,url,n"
    assert result.output.splitlines()[-2:] == [f"wrote {csv}", f"wrote {png}"]
    bad = run(db, "store", "prisma", "-o", str(tmp_path / "prisma.jpg"))
    assert bad.exit_code == 2 and "-o must end in .png, .svg or .pdf" in bad.output


def test_a_full_text_conflict_shows_no_reason_for_an_inclusion(db: Path) -> None:
    # an inclusion has no reason: it printed as "Ana: include (nan)" while the votes were a
    # pandas frame (a missing cell of a text column reads NaN), and Store.conflicts held NaN
    rid = ids(db)
    for name in ("Ana", "Ben"):  # record 1 passes title/abstract
        run(db, "screen", "--reviewer", name, input="i\ne\ne\ne\n")
    run(db, "screen", "--reviewer", "Ana", "--stage", "full_text", input="i\n")
    run(db, "screen", "--reviewer", "Ben", "--stage", "full_text", input="e\nwrong dose\n")
    result = run(db, "store", "conflicts", "--stage", "full_text")
    assert result.exit_code == 0, result.output
    assert "1 open conflicts at full_text" in result.output and rid[0] in result.output
    votes = " ".join(  # the table's votes column, its wrapped lines joined
        line.split("│")[3].strip() for line in result.output.splitlines() if line.count("│") == 4
    )
    assert " ".join(votes.split()) == "Ana: include; Ben: exclude (wrong dose)"
    store = Store.open(db)
    try:
        [conflict] = store.conflicts(PROJECT, "full_text").itertuples()
    finally:
        store.close()
    assert conflict.reasons == {"Ana": None, "Ben": "wrong dose"}


# -- keys from a terminal ---------------------------------------------------------------------
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX terminals only")
def test_key_reader_reads_single_keys_and_restores_the_terminal() -> None:
    import pty
    import termios
    import threading

    leader, follower = pty.openpty()
    with os.fdopen(follower, "r") as stream:
        before = termios.tcgetattr(follower)
        os.write(leader, b"m")  # typed before the screener started: kept too
        with KeyReader(stream) as reader:
            assert reader.key() == "m"
            assert reader.is_terminal
            assert not termios.tcgetattr(follower)[3] & termios.ICANON  # no Enter needed
            os.write(leader, b"Ie")  # typed ahead: neither key is lost
            assert (reader.key(), reader.key()) == ("i", "e")
            os.write(leader, b"\x1b[A")  # an arrow key is one non-key
            assert reader.key() == ""
            # a reason is typed as a line, with the terminal's own editing
            threading.Timer(0.2, os.write, (leader, b"wrong dose\n")).start()
            assert reader.line() == "wrong dose"
            assert not termios.tcgetattr(follower)[3] & termios.ICANON
            os.write(leader, b"\x04")  # Ctrl-D quits
            assert reader.key() is None
        assert termios.tcgetattr(follower) == before
    os.close(leader)


# -- one reviewer in two terminals (issue 21.9) -----------------------------------------------
def test_a_vote_cast_meanwhile_elsewhere_is_not_replaced_silently(db: Path, monkeypatch) -> None:
    rid = ids(db)
    original = KeyReader.key
    calls = {"n": 0}

    def key_after_another_terminal_voted(self):
        calls["n"] += 1
        if calls["n"] == 1:  # while record 1 is on screen, Ana votes on it in another terminal
            store = Store.open(db)
            try:
                store.decide(PROJECT, rid[0], "Ana", "exclude")
            finally:
                store.close()
        return original(self)

    monkeypatch.setattr(KeyReader, "key", key_after_another_terminal_voted)
    result = run(db, "screen", "--reviewer", "Ana", input="i\ni\nq\n")
    assert result.exit_code == 0, result.output
    out = result.output.splitlines()
    told = next(i for i, line in enumerate(out) if line.startswith("not recorded:"))
    assert out[told] == (
        f"not recorded: record {rid[0]}: your vote at title_abstract changed "
        "meanwhile (another session stored the vote 'exclude'); nothing was "
        "written. Look at the record again and vote again to replace it."
    )
    # the record is shown again with the vote now stored, and the second key revises it
    assert "your vote: exclude" in "\n".join(out[told:])
    assert own_votes(db, "Ana") == {rid[0]: ("include", None)}
    assert out[-1] == (
        "Ana: 0 new votes (1 revised) this session; 3 records left for you at title_abstract."
    )


def test_the_stage_is_derived_once_per_key_press(db: Path, monkeypatch) -> None:
    from metareview.review import screening

    calls = []
    original = screening.stage_rows

    def counted(s, proj, stage, record_ids=None):
        if record_ids is None:  # a read of the whole stage (a vote reads its record's rows)
            calls.append(stage)
        return original(s, proj, stage, record_ids)

    monkeypatch.setattr(screening, "stage_rows", counted)
    result = run(db, "screen", "--reviewer", "Ana", input="i\ns\ne\nq\n")
    assert result.exit_code == 0, result.output
    # one check before the session, one read per key press (4), one for the goodbye line
    assert calls == ["title_abstract"] * 6
