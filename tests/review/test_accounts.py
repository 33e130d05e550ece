"""Accounts of the store (users, invites, sessions, roles) and the web queue's rules, on
SQLite and PostgreSQL; the schema migration that adds them keeps an older store's data."""

from __future__ import annotations

from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, inspect, text

from metareview.exceptions import InputError
from metareview.review import Store
from metareview.review import accounts as accounts_module
from metareview.review.migrate import HEAD, current_revision, upgrade

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ketamine-crps-review"


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        accounts_module, "ARGON2_PARAMETERS", {"time_cost": 1, "memory_cost": 8, "parallelism": 1}
    )


def _team(store: Store) -> None:
    store.accept_invite(store.bootstrap_invite(), "olga", "olga-password")
    store.add_member("review", "olga", "owner", by="olga", reviewer_name="Olga")
    for user, role in (("ana", "reviewer"), ("ben", "reviewer"), ("vera", "viewer")):
        store.accept_invite(
            store.create_invite("review", role, by="olga"),
            user,
            f"{user}-password",
            user.capitalize(),
        )


def test_default_hash_is_argon2id_with_rfc9106_parameters(monkeypatch) -> None:
    monkeypatch.setattr(accounts_module, "ARGON2_PARAMETERS", {})
    stored = accounts_module.hash_password("a long password")
    # RFC 9106 section 4, second recommended option: t=3, 64 MiB, p=4 (argon2-cffi default)
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PasswordHasher().verify(stored, "a long password")
    assert accounts_module.verify_password(stored, "a long password")
    assert not accounts_module.verify_password(stored, "another password")
    assert not accounts_module.verify_password("not a hash", "a long password")


def test_roles_map_users_to_reviewers(store: Store) -> None:
    _team(store)
    reviewers = store.reviewers("review")
    assert reviewers[["name", "role"]].values.tolist() == [
        ["Olga", "owner"],
        ["Ana", "reviewer"],
        ["Ben", "reviewer"],
    ]  # no reviewer for vera
    olga = next(u for u in store.users() if u.username == "olga")
    assert olga.admin
    assert [(p.project, p.role, p.reviewer) for p in store.user_projects(olga.id)] == [
        ("review", "owner", "Olga")
    ]
    vera = next(u for u in store.users() if u.username == "vera")
    assert store.project_role(vera.id, "review").reviewer is None
    assert store.project_role(vera.id, "elsewhere") is None


def test_invite_rules(store: Store) -> None:
    _team(store)
    with pytest.raises(InputError, match="only owners invite"):
        store.create_invite("review", "reviewer", by="ana")
    with pytest.raises(InputError, match="role must be one of"):
        store.create_invite("review", "admin", by="olga")
    token = store.create_invite("review", "reviewer", by="olga")
    with pytest.raises(InputError, match="belongs to another account"):
        store.accept_invite(token, "anna", "anna-password", "Ana")
    with pytest.raises(InputError, match="is taken"):
        store.accept_invite(token, "ana", "wrong password")
    store.accept_invite(token, "cy", "cy-password-1", "Cy")
    with pytest.raises(InputError, match="used already"):
        store.invite_info(token)
    # an existing user joins another project with an invite and their own password
    store.create_project("second")
    store.add_member("second", "olga", "owner", by="olga")
    store.accept_invite(store.create_invite("second", "viewer", by="olga"), "ana", "ana-password")
    ana = next(u for u in store.users() if u.username == "ana")
    assert [p.project for p in store.user_projects(ana.id)] == ["review", "second"]
    audit = store.audit_log()
    assert {"invite", "user", "membership"} <= set(audit["entity"])
    assert not audit["new"].astype(str).str.contains("password").any()


def test_sessions(store: Store) -> None:
    _team(store)
    assert store.login("ana", "wrong") is None and store.login("nobody", "x" * 12) is None
    token, csrf = store.login("ana", "ana-password")
    again, _ = store.login("ana", "ana-password")
    assert token != again
    info = store.session_user(token)
    assert info.user.username == "ana" and info.csrf_token == csrf
    store.logout(token)
    assert store.session_user(token) is None and store.session_user(again) is not None
    store.deactivate_user("ana", by="olga", reason="left")
    assert store.session_user(again) is None and store.login("ana", "ana-password") is None
    assert not store.reviewers("review").set_index("name").loc["Ana", "active"]
    with pytest.raises(InputError, match="only administrators"):
        store.deactivate_user("ben", by="vera", reason="x")


def test_cast_vote_is_idempotent_and_refuses_complete_records(store: Store) -> None:
    store.import_file("review", EXAMPLE / "search" / "pubmed.nbib")
    _team(store)
    first = store.queue("review", "Ana")["next"]
    assert store.cast_vote("review", first, "Ana", "include") == "recorded"
    assert store.cast_vote("review", first, "Ana", "include") == "unchanged"
    assert store.cast_vote("review", first, "Ana", "maybe") == "revised"
    assert store.last_open_vote("review", "Ana", "title_abstract") == first
    assert store.visible_votes("review", "title_abstract", "Ben").empty
    assert store.visible_votes("review", "title_abstract").empty  # a viewer
    store.cast_vote("review", first, "Ben", "exclude")
    with pytest.raises(InputError, match="complete"):
        store.cast_vote("review", first, "Ana", "include")
    assert store.cast_vote("review", first, "Ana", "maybe") == "unchanged"
    assert len(store.visible_votes("review", "title_abstract")) == 2
    assert store.last_open_vote("review", "Ana", "title_abstract") is None
    with pytest.raises(InputError, match="not at the full_text stage"):
        store.cast_vote("review", first, "Ana", "include", "full_text")


def test_migration_adds_the_account_tables_to_an_older_store(store_url: str) -> None:
    engine = create_engine(store_url)
    upgrade(engine, "0003")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO projects (id, name, created_at, reviewers_per_record) "
                "VALUES (1, 'old', '2026-11-01 10:00:00+00', 2)"
            )
        )
    engine.dispose()
    store = Store.open(store_url)
    try:
        assert current_revision(store.engine) == HEAD
        tables = set(inspect(store.engine).get_table_names())
        assert {"users", "memberships", "invites", "login_sessions", "screening_keywords"} <= tables
        assert store.projects() == ["old"] and not store.has_users()
        store.accept_invite(store.bootstrap_invite(), "admin", "admin-password")
        store.add_member("old", "admin", "owner", by="admin")
        assert store.reviewers("old")["name"].tolist() == ["admin"]
    finally:
        store.close()


@pytest.mark.parametrize("n_votes", [40, 70, 200])
def test_one_record_status_agrees_with_the_stage_table(store: Store, n_votes: int) -> None:
    """record_status reads one record's rows; stage_table the whole stage: the
    same status for every record, part-way through the example's screening and at its end."""
    import contextlib
    import csv

    from metareview.review.screening import record_status, stage_table

    for name in ("pubmed.nbib", "embase.ris"):
        store.import_file("review", EXAMPLE / "search" / name)
    store.auto_merge("review", actor="Olga")
    for name in ("Ana", "Ben", "Cy"):
        store.add_reviewer("review", name)
    records = store.records("review")
    ids = {
        f"{s}:{o}": r
        for s, o, r in zip(records["source"], records["ordinal"], records["id"], strict=True)
    }
    with (EXAMPLE / "decisions.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    with (EXAMPLE / "resolutions.csv").open(encoding="utf-8") as handle:
        resolutions = list(csv.DictReader(handle))
    done = 0
    for stage in ("title_abstract", "full_text"):
        for row in (r for r in rows if r["stage"] == stage and r["record"] in ids):
            if done == n_votes:
                break
            try:
                store.decide(
                    "review",
                    ids[row["record"]],
                    row["reviewer"],
                    row["decision"],
                    stage,
                    row["reason"] or None,
                )
            except InputError:  # a secondary duplicate (tier 2 not merged here)
                continue
            done += 1
        for row in (r for r in resolutions if r["stage"] == stage):
            with contextlib.suppress(InputError):  # not (yet) a conflict here
                store.resolve(
                    "review",
                    ids[row["record"]],
                    row["decision"],
                    by=row["by"],
                    reason=row["reason"],
                    stage=stage,
                )
    with store.session() as s:
        proj = store._project(s, "review")
        for stage in ("title_abstract", "full_text"):
            table = stage_table(s, proj, stage).set_index("record_id")["status"].to_dict()
            for rid in records["id"]:
                assert record_status(s, proj, stage, rid) == table.get(rid), (stage, rid)
