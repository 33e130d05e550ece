"""The duplicate review queue in the browser's pages: tier-2 pairs side by side with the
differing fields marked, merge / not duplicates / undo, tier-1 auto-merge; judged with the
example's own answer key (search/truth.csv), the owner ends with its 12 planted duplicates."""

from __future__ import annotations

import re

from tests.web.conftest import EXAMPLE, World, example_rows

D = "/p/fresh/duplicates"


def _fresh(world: World) -> None:
    olga = world.client("olga")
    olga.post("/projects", data={"name": "fresh", "csrf_token": world.csrf(olga)})
    for name, db in (("pubmed.nbib", "PubMed"), ("embase.ris", "Embase")):
        world.store.import_file("fresh", EXAMPLE / "search" / name, database=db)


def _post(world: World, path: str, **data: str):
    olga = world.client("olga")
    response = olga.post(path, data={**data, "csrf_token": world.csrf(olga)})
    assert response.status_code == 303, response.text
    return response


def _pairs(world: World) -> list[tuple[str, str]]:
    page = world.client("olga").get(D).text
    return [tuple(p.split()) for p in re.findall(r'data-pair="([^"]+)"', page)]


def test_queue_merge_not_duplicates_and_undo(sqlite_world: World) -> None:
    w = sqlite_world
    _fresh(w)
    assert w.client("olga").get(D).status_code == 200  # no group yet (was a 500)
    _post(w, f"{D}/auto-merge")
    tier1 = len(w.store.duplicate_groups("fresh")["group_id"].unique())
    assert tier1 > 0
    page = w.client("olga").get(D).text
    assert 'class="differs"' in page  # e.g. title case or journal abbreviation
    records = w.store.records("fresh")
    key = {
        f"{s}:{o}": rid
        for s, o, rid in zip(records["source"], records["ordinal"], records["id"], strict=True)
    }
    same = {
        frozenset((key[f"{r['file']}:{r['ordinal']}"], key[r["duplicate_of"]]))
        for r in example_rows("search/truth.csv")
        if r["duplicate_of"]
    }
    pairs = _pairs(w)
    assert pairs
    first = pairs[0]
    _post(w, f"{D}/merge", record_a=first[0], record_b=first[1])
    assert first not in _pairs(w)
    group = int(
        w.store.duplicate_groups("fresh").query(f"record_id == '{first[0]}'")["group_id"].iloc[0]
    )
    _post(w, f"{D}/unmerge", group_id=str(group))  # undo: back in the queue
    assert first in _pairs(w)
    _post(w, f"{D}/not-duplicates", record_a=first[0], record_b=first[1])
    assert first not in _pairs(w)
    _post(w, f"{D}/withdraw", record_a=first[0], record_b=first[1])
    assert first in _pairs(w)
    # now judge every pair by the answer key
    while pairs := _pairs(w):
        a, b = pairs[0]
        action = "merge" if frozenset((a, b)) in same else "not-duplicates"
        _post(w, f"{D}/{action}", record_a=a, record_b=b)
    assert "queue-empty" in w.client("olga").get(D).text
    # search/README.md: 12 planted duplicates
    counts = w.store.prisma_so_far("fresh")
    assert counts["duplicates_removed"] == 12
    audit = w.store.audit_log()
    assert {"duplicate_group", "not_duplicate"} <= set(audit["entity"])
