"""Fixtures of the web tests: a store with the ketamine-CRPS review-store example's search
exports, its accounts in every role, and logged-in HTTP clients.

``world`` runs once on SQLite and once on PostgreSQL (the review tests' ``store_url``).
Accounts (password = user name + ``"-password"``)::

    olga   administrator, owner of "crps" (reviewer name Olga)
    ana    reviewer of "crps" (Ana)        ben   reviewer of "crps" (Ben)
    cy     reviewer of "crps" (Cy)         vera  viewer of "crps"
    otto   reviewer of "other" only        sam   reviewer of "crps" (Sam; removable)

Password hashing uses argon2id with its smallest cost here, so that the suite does not spend
a fifth of a second per login; ``test_accounts`` checks the default parameters separately.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from metareview.review import Store
from metareview.review import accounts as accounts_module
from metareview.web import create_app
from metareview.web.auth import SESSION_COOKIE
from tests.review.conftest import postgres_server, store_url  # noqa: F401  (fixtures)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ketamine-crps-review"
PROJECT = "crps"
ROLES = {
    "olga": "owner",
    "ana": "reviewer",
    "ben": "reviewer",
    "cy": "reviewer",
    "vera": "viewer",
    "sam": "reviewer",
}
REVIEWER_NAMES = {"olga": "Olga", "ana": "Ana", "ben": "Ben", "cy": "Cy", "sam": "Sam"}


def password(user: str) -> str:
    return f"{user}-password"


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id at its lowest cost (the default costs 0.2 s per hash on this machine)."""
    monkeypatch.setattr(
        accounts_module, "ARGON2_PARAMETERS", {"time_cost": 1, "memory_cost": 8, "parallelism": 1}
    )


@dataclass
class World:
    store: Store
    app: object
    clients: dict[str, TestClient] = field(default_factory=dict)

    def client(self, user: str | None, *, base_url: str = "http://testserver") -> TestClient:
        """A client logged in as ``user`` through the login form (None: anonymous)."""
        key = f"{user}@{base_url}"
        if key not in self.clients:
            client = TestClient(self.app, base_url=base_url, follow_redirects=False)
            if user is not None:
                login(client, user)
            self.clients[key] = client
        return self.clients[key]

    def csrf(self, client: TestClient) -> str:
        """The CSRF token of the client's session."""
        return self.store.session_user(client.cookies.get(SESSION_COOKIE)).csrf_token

    def record_ids(self) -> list[str]:
        return self.store.screening_status(PROJECT)["record_id"].tolist()


def pre_csrf(client: TestClient, path: str = "/login") -> str:
    page = client.get(path)
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def login(client: TestClient, user: str, secret: str | None = None):
    token = pre_csrf(client)
    return client.post(
        "/login",
        data={
            "username": user,
            "password": secret or password(user),
            "csrf_token": token,
            "next": "/",
        },
    )


def example_rows(name: str) -> list[dict[str, str]]:
    """Rows of a CSV file of the example (decisions.csv, resolutions.csv, search/truth.csv)."""
    with (EXAMPLE / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def example_ids(store: Store) -> dict[str, str]:
    """Record ids by the example's key ``"<file>:<ordinal>"``."""
    records = store.records(PROJECT)
    return {
        f"{s}:{o}": rid
        for s, o, rid in zip(records["source"], records["ordinal"], records["id"], strict=True)
    }


def merge_confirmed_duplicates(store: Store) -> None:
    """The owner's tier-2 judgements of the example (its search/truth.csv), as review.py."""
    ids = example_ids(store)
    same = {
        frozenset((ids[r["file"] + ":" + r["ordinal"]], ids[r["duplicate_of"]]))
        for r in example_rows("search/truth.csv")
        if r["duplicate_of"]
    }
    grouped = set(store.records(PROJECT).dropna(subset=["duplicate_group"])["id"])
    for pair in store.find_duplicates(PROJECT).tier2:
        if frozenset((pair.id_a, pair.id_b)) in same and not {pair.id_a, pair.id_b} & grouped:
            store.merge([pair.id_a, pair.id_b], actor="Olga", reason="tier 2 confirmed")
            grouped |= {pair.id_a, pair.id_b}


def build_world(url: str) -> World:
    store = Store.open(url)
    admin = store.accept_invite(store.bootstrap_invite(), "olga", password("olga"))
    assert admin.admin
    store.create_project(PROJECT)
    store.add_member(PROJECT, "olga", "owner", by="olga", reviewer_name="Olga")
    store.import_file(PROJECT, EXAMPLE / "search" / "pubmed.nbib", database="PubMed")
    store.import_file(PROJECT, EXAMPLE / "search" / "embase.ris", database="Embase")
    store.auto_merge(PROJECT, actor="Olga")
    merge_confirmed_duplicates(store)
    for user, role in ROLES.items():
        if user != "olga":
            token = store.create_invite(PROJECT, role, by="olga")
            store.accept_invite(token, user, password(user), REVIEWER_NAMES.get(user))
    store.create_project("other")
    store.add_member("other", "olga", "owner", by="olga")
    store.accept_invite(
        store.create_invite("other", "reviewer", by="olga"), "otto", password("otto")
    )
    return World(store=store, app=create_app(store))


@pytest.fixture
def world(store_url: str) -> Iterator[World]:  # noqa: F811
    w = build_world(store_url)
    yield w
    for client in w.clients.values():
        client.close()
    w.store.close()


@pytest.fixture
def sqlite_world(tmp_path: Path) -> Iterator[World]:
    """The same world on SQLite only (tests about the app's own state, not the database)."""
    w = build_world(f"sqlite:///{tmp_path / 'web.sqlite'}")
    yield w
    for client in w.clients.values():
        client.close()
    w.store.close()
