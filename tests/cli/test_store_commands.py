"""`metareview store` commands added for issue 21.16 and 21.17 (merge, dismiss and unmerge a
candidate pair; the votes of a stage once unblinded), and the store's advice spelt as
commands (issue 21.13)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from metareview.cli import app
from metareview.review import Store
from tests.cli.conftest import PROJECT, ids, run, write_ris

RUNNER = CliRunner()
TEXT = (
    "TY  - JOUR\nTI  - Ketamine infusion for complex regional pain syndrome\n"
    "AU  - Smith, J.\nPY  - 2015\nER  - \n\n"
)


@pytest.fixture
def twins(tmp_path: Path) -> Path:
    """A store whose two records (one per file) are a tier-2 candidate pair (no DOI)."""
    path = tmp_path / "d.sqlite"
    run(path, "store", "init", "--project", PROJECT)
    (tmp_path / "a.ris").write_text(TEXT, encoding="utf-8")
    (tmp_path / "b.ris").write_text(TEXT.replace("syndrome", "syndrome (CRPS)"), encoding="utf-8")
    assert (
        run(path, "store", "import", str(tmp_path / "a.ris"), str(tmp_path / "b.ris")).exit_code
        == 0
    )
    return path


def audit(db: Path):
    store = Store.open(db)
    try:
        return store.audit_log()
    finally:
        store.close()


def test_dedup_shows_whole_ids_at_80_columns(twins: Path) -> None:
    a, b = ids(twins)
    listed = run(twins, "store", "dedup")
    assert listed.exit_code == 0, listed.output
    out = listed.output.splitlines()
    assert max(len(line) for line in out) <= 80
    # each id whole on one line, so it can be copied into `store merge` / `store dismiss`
    assert sum(f"a {a}" in line for line in out) == 1
    assert sum(f"b {b}" in line for line in out) == 1
    assert out[-2:] == [
        "merge a pair:   metareview store merge ID ID --reason TEXT",
        "or dismiss it:  metareview store dismiss ID ID --reason TEXT",
    ]


def test_dismiss_is_stored_audited_and_leaves_the_list(twins: Path) -> None:
    a, b = ids(twins)
    result = run(twins, "store", "dismiss", a, b, "--reason", "different trials", "--by", "Ana")
    assert result.exit_code == 0, result.output
    assert result.output == f"dismissed the pair {a} {b}: not duplicates\n"
    assert run(twins, "store", "dedup").output == "no candidate duplicate pairs left\n"
    log = audit(twins)
    row = log[log["entity"] == "not_duplicate"].iloc[-1]
    assert (row["actor"], row["new"]["records"], row["reason"]) == (
        "Ana",
        sorted([a, b]),
        "different trials",
    )
    again = run(twins, "store", "dismiss", b, a, "--reason", "x")
    assert again.exit_code == 2
    first, second = sorted([a, b])
    assert again.output == (
        f"error: records {first} and {second} are already judged not duplicates.\n"
    )
    one = run(twins, "store", "dismiss", a, "--reason", "x")
    assert (
        one.exit_code == 2 and one.output == "error: ID: give the two records of the pair; got 1.\n"
    )


def test_merge_then_unmerge(twins: Path) -> None:
    a, b = ids(twins)
    merged = run(twins, "store", "merge", a, b, "--reason", "same trial", "--by", "Ana")
    assert merged.exit_code == 0, merged.output
    assert merged.output == f"merged 2 records into group 1 (primary {a})\n"
    assert run(twins, "store", "dedup").output == "no candidate duplicate pairs left\n"
    result = run(twins, "store", "unmerge", "1", "--reason", "two reports", "--by", "Ana")
    assert result.exit_code == 0 and result.output == "unmerged group 1\n"
    assert "1 candidate duplicate pairs" in run(twins, "store", "dedup").output
    gone = run(twins, "store", "unmerge", "1", "--reason", "x")
    assert gone.exit_code == 2
    assert gone.output == "error: group_id 1 is already dissolved; nothing unmerged.\n"


def test_votes_are_blinded_until_unblinded(db: Path) -> None:
    rid = ids(db)
    run(db, "screen", "--reviewer", "Ana", input="i\ne\nq\n")
    run(db, "screen", "--reviewer", "Ben", input="i\nq\n")
    ben = run(db, "store", "votes", "--reviewer", "Ben")
    assert ben.exit_code == 0, ben.output
    assert ben.output.splitlines()[0] == (
        "title_abstract is blinded: your votes, and the votes on complete records."
    )
    assert "Ana: include; Ben: include" in ben.output  # record 1 is complete
    assert rid[1] not in ben.output  # Ana's vote on record 2 is still hidden from Ben
    assert run(db, "store", "unblind", "--by", "Olga", "--reason", "calibration").exit_code == 0
    after = run(db, "store", "votes", "--reviewer", "Ben")
    assert after.output.splitlines()[0] == "title_abstract is unblinded: every vote is shown."
    row = next(line for line in after.output.splitlines() if rid[1] in line)
    assert "Ana: exclude" in row
    nobody = run(db, "store", "votes", "--reviewer", "Zed")
    assert nobody.exit_code == 2
    assert nobody.output == (
        "error: reviewer 'Zed' is not in project 'crps'; reviewers are "
        "['Ana', 'Ben', 'Cy', 'Olga'] (`metareview store reviewer add "
        "NAME` first).\n"
    )


def test_resolve_advice_names_the_consensus_flag(db: Path) -> None:
    rid = ids(db)
    run(db, "screen", "--reviewer", "Ana", input="i\nq\n")
    run(db, "screen", "--reviewer", "Ben", input="e\nq\n")
    voter = run(db, "store", "resolve", rid[0], "include", "--by", "Ana", "--reason", "x")
    assert voter.exit_code == 2
    assert voter.output == (
        f"error: record {rid[0]}: 'Ana' voted on it, so cannot be its "
        "third reviewer; use --consensus or another reviewer.\n"
    )


def test_reviewer_roles_and_who_acts_are_spelt_one_way(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    run(path, "store", "init", "--project", PROJECT)
    run(path, "store", "import", str(write_ris(tmp_path / "s.ris")))
    assert run(path, "store", "reviewer", "add", "Olga", "--role", "owner").output == (
        "added owner 'Olga' to 'crps'\n"
    )
    bad = run(path, "store", "reviewer", "add", "Ana", "--role", "boss")
    assert bad.exit_code == 2
    assert bad.output == "error: role must be one of ['reviewer', 'owner']; got 'boss'.\n"
    # every command that records who acts takes --by
    for verb in ("dedup", "merge", "dismiss", "unmerge", "resolve", "unblind"):
        help_text = RUNNER.invoke(app, ["store", verb, "--help"]).output
        assert "--by NAME" in help_text and "--owner" not in help_text, verb


def test_records_set_aside_are_listed_released_and_discarded(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    run(path, "store", "init", "--project", PROJECT)
    ris = tmp_path / "s.ris"
    ris.write_text(
        "TY  - JOUR\nTI  - Ketamine\nER  - \n\nTY  - GEN\nER  - \n\n"
        "TY  - GEN\nPY  - 2001\nER  - \n",
        encoding="utf-8",
    )
    run(path, "store", "import", str(ris))
    run(path, "store", "reviewer", "add", "Olga", "--role", "owner")
    run(path, "store", "reviewer", "add", "Ana")
    blank = ids(path)[1:]
    listed = run(path, "store", "set-aside")
    assert listed.exit_code == 0, listed.output
    assert "2 records set aside" in listed.output
    assert all(sum(rid in line for line in listed.output.splitlines()) == 1 for rid in blank)
    refused = run(path, "store", "release", blank[0], "--by", "Ana", "--reason", "x")
    assert refused.exit_code == 2 and refused.output.startswith("error: ")
    released = run(
        path, "store", "release", blank[0], "--by", "Olga", "--reason", "a conference abstract"
    )
    assert released.output == "released 1 records into the screening queue\n"
    discarded = run(
        path, "store", "discard", blank[1], "--by", "Olga", "--reason", "empty export row"
    )
    assert discarded.output == "discarded 1 records before screening\n"
    assert run(path, "store", "set-aside", "--status", "held").output == (
        "no records set aside (held)\n"
    )
    run(path, "store", "reviewer", "add", "Ben")
    for name in ("Ana", "Ben"):  # the two records in the queue, both excluded
        run(path, "screen", "--reviewer", name, input="e\ne\n")
    prisma = run(path, "store", "prisma")
    assert prisma.exit_code == 0, prisma.output
    rows = [
        [c.strip() for c in line.split("│")[1:-1]]
        for line in prisma.output.splitlines()
        if line.startswith("│")
    ]
    assert ["Records removed for other reasons", "1"] in rows
    assert ["empty export row", "1"] in rows and ["Records screened", "2"] in rows
