"""The extraction pages over HTTP: the authorisation matrix of every route of
``web/routes/extraction.py`` (route x anonymous / viewer / reviewer of another project /
reviewer / owner), blinding (no response shows another extractor's values before both have
submitted), the form's messages next to the field (422, nothing saved), saves over a value
another session stored (409, nothing lost), reconciliation with who and why and of a field
changed since (409), the live check endpoint, and hostile study labels escaped."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from metareview.web.routes import extraction
from tests.web.conftest import PROJECT, World, build_world
from tests.web.extraction_helpers import add_studies, typed_rows

P = f"/p/{PROJECT}"
CALLERS = ("anonymous", "viewer", "other", "reviewer", "owner")
USERS = {"anonymous": None, "viewer": "vera", "other": "otto", "reviewer": "ana", "owner": "olga"}
KIEFER = "Kiefer, R et al (2008a)"
GOEBEL = "Goebel, A et al (2015)"
ROWS = typed_rows()
FORM_TOML = (
    Path(__file__).resolve().parents[2] / "examples" / "ketamine-crps-review" / "protocol.toml"
).read_text(encoding="utf-8")


@pytest.fixture
def team(tmp_path: Path) -> Iterator[World]:
    """The example's world (SQLite) with its first eight studies and the form."""
    world = build_world(f"sqlite:///{tmp_path / 'extraction.sqlite'}")
    add_studies(world.store, limit=8)
    yield world
    for client in world.clients.values():
        client.close()
    world.store.close()


def _fields(row: dict[str, str], seen: dict[str, str] | None = None) -> dict[str, str]:
    data = {f"f.{k}": v for k, v in row.items()}
    data.update({f"seen.{k}": v for k, v in (seen or {}).items()})
    return data


def _seen(page: str) -> dict[str, str]:
    return dict(re.findall(r'name="seen\.([^"]+)" value="([^"]*)"', page))


def _save(world: World, user: str, study: str, row: dict[str, str], action: str = "save"):
    client = world.client(user)
    page = client.get(f"{P}/extract", params={"study": study})
    assert page.status_code == 200, page.text
    return client.post(
        f"{P}/extract",
        data={
            "study": study,
            "csrf_token": world.csrf(client),
            "action": action,
            **_fields(row, _seen(page.text)),
        },
    )


def _complete(world: World, study: str, ben_row: dict[str, str] | None = None) -> None:
    assert _save(world, "ana", study, ROWS[study], "submit").status_code == 303
    assert _save(world, "ben", study, ben_row or ROWS[study], "submit").status_code == 303


def _token(world: World, client: TestClient, study: str, field: str) -> str:
    page = client.get(f"{P}/reconcile", params={"study": study}).text
    form = re.search(
        rf'name="field" value="{field}">\s*<input type="hidden" name="token" value="([^"]*)"',
        page,
    )
    return form.group(1)


def _included_free_report(world: World) -> str:
    """A record included at both stages by Ana and Ben that is in no study yet."""
    used = set(world.store.studies(PROJECT)["record_ids"].sum())
    rid = next(r for r in world.record_ids() if r not in used)
    for stage in ("title_abstract", "full_text"):
        for who in ("Ana", "Ben"):
            world.store.decide(PROJECT, rid, who, "include", stage=stage)
    return rid


def test_authorisation_matrix_of_every_extraction_route(team: World) -> None:
    _complete(team, GOEBEL, {**ROWS[GOEBEL], "n": "6"})
    owner_form = {"protocol": FORM_TOML}
    new_study = {"label": "New study 2020", "record": _included_free_report(team)}
    cases = [
        ("GET", f"{P}/extraction", None, (303, 200, 404, 200, 200)),
        ("POST", f"{P}/extraction/form", owner_form, (303, 403, 404, 403, 303)),
        ("POST", f"{P}/extraction/studies", new_study, (303, 403, 404, 403, 303)),
        ("GET", f"{P}/extract?study={KIEFER}", None, (303, 403, 404, 200, 200)),
        ("POST", f"{P}/extract", "save", (303, 403, 404, 303, 303)),
        ("POST", f"{P}/extract/check", "json", (303, 403, 404, 200, 200)),
        ("GET", f"{P}/reconcile?study={GOEBEL}", None, (303, 200, 404, 200, 200)),
        ("POST", f"{P}/reconcile", "reconcile", (303, 403, 404, 303, 303)),
    ]
    covered = set()
    for method, path, body, expected in cases:
        covered.add((method, path.split("?")[0]))
        for caller, status in zip(CALLERS, expected, strict=True):
            user = USERS[caller]
            client = team.client(user)
            csrf = team.csrf(client) if user else "x"
            if body == "json":
                answer = client.post(
                    path,
                    json={"study": KIEFER, "values": ROWS[KIEFER]},
                    headers={"X-CSRF-Token": csrf},
                )
            elif body == "save":
                answer = client.post(
                    path,
                    data={"study": KIEFER, "csrf_token": csrf, **_fields({"year": "2008"})},
                )
            elif body == "reconcile":
                token = _token(team, team.client("olga"), GOEBEL, "n")
                answer = client.post(
                    path,
                    data={
                        "study": GOEBEL,
                        "field": "n",
                        "value": "5",
                        "reason": f"Table 1 ({caller})",
                        "token": token,
                        "csrf_token": csrf,
                    },
                )
            elif body is not None:
                answer = client.post(path, data={**body, "csrf_token": csrf})
            else:
                answer = client.get(path)
            assert answer.status_code == status, (method, path, caller, answer.text[:300])
            if caller == "anonymous":
                assert answer.headers["location"].startswith("/login?next=")
    routes = {
        (m, r.path.replace("{project}", PROJECT))
        for r in extraction.router.routes
        for m in r.methods
    }
    assert routes == covered


def test_csrf_is_required_on_every_state_change(team: World) -> None:
    ana = team.client("ana")
    for path, data in (
        (f"{P}/extract", {"study": KIEFER, **_fields({"year": "2008"})}),
        (f"{P}/reconcile", {"study": KIEFER, "field": "n", "value": "1", "reason": "x"}),
    ):
        assert ana.post(path, data={**data, "csrf_token": "wrong"}).status_code == 403
    assert ana.post(f"{P}/extract/check", json={"study": KIEFER, "values": {}}).status_code == 403
    olga = team.client("olga")
    assert olga.post(f"{P}/extraction/form", data={"protocol": FORM_TOML}).status_code == 403
    assert team.store.extraction_sheet(PROJECT, KIEFER, "Ana").values == {}


def test_blinding_until_both_extractors_submit(team: World) -> None:
    planted = {**ROWS[KIEFER], "n": "777", "duration_days": "37.25"}
    assert _save(team, "ana", KIEFER, planted, "submit").status_code == 303
    secrets = ("777", "37.25")
    ben, olga, vera = (team.client(u) for u in ("ben", "olga", "vera"))
    answers = [
        ben.get(f"{P}/extract", params={"study": KIEFER}),
        ben.get(f"{P}/extraction"),
        olga.get(f"{P}/extraction"),
        vera.get(f"{P}/extraction"),
        ben.post(
            f"{P}/extract/check",
            json={"study": KIEFER, "values": {"year": "2008"}},
            headers={"X-CSRF-Token": team.csrf(ben)},
        ),
    ]
    for answer in answers:
        assert answer.status_code == 200
        assert not any(s in answer.text for s in secrets), answer.url
    for client in (ben, olga, vera, team.client("ana")):
        blinded = client.get(f"{P}/reconcile", params={"study": KIEFER})
        assert blinded.status_code == 409
        assert "stay blinded" in blinded.text
        assert not any(s in blinded.text for s in secrets)
    # Ben's page shows no value he did not type; the count of extractors is all he learns
    page = ben.get(f"{P}/extraction").text
    assert "blinded until both submit" in page
    assert 'id="kappa"' not in page
    assert _save(team, "ben", KIEFER, ROWS[KIEFER], "submit").status_code == 303
    shown = ben.get(f"{P}/reconcile", params={"study": KIEFER})
    assert shown.status_code == 200 and "777" in shown.text


def test_form_messages_next_to_the_field_and_nothing_saved(team: World) -> None:
    bad = {**ROWS[KIEFER], "year": "1889", "intervention": "ketamine", "n": "7-8"}
    answer = _save(team, "ana", KIEFER, bad)
    assert answer.status_code == 422
    page = answer.text
    for field, message in (
        ("year", "study &#39;Kiefer, R et al (2008a)&#39;, field &#39;year&#39;: 1889 is outside"),
        ("intervention", "&#39;ketamine&#39; is not one of"),
        ("n", "&#39;7-8&#39; reads as a range (7 to 8); this field takes one whole number"),
    ):
        box = re.search(rf'<p id="error-{field}" class="field-error"[^>]*>([^<]*)</p>', page)
        assert message in box.group(1), field
    assert 'value="1889"' in page  # what was typed is kept for correcting
    assert team.store.extraction_sheet(PROJECT, KIEFER, "Ana").values == {}
    submit = _save(team, "ana", KIEFER, {**ROWS[KIEFER], "n": ""}, "submit")
    assert submit.status_code == 422
    assert "field &#39;n&#39;: a value is required" in submit.text
    assert "Saved as a draft, not submitted" in submit.text
    # the page carries the new versions: saving it again is not refused as stale
    again = team.client("ana").post(
        f"{P}/extract",
        data={
            "study": KIEFER,
            "csrf_token": team.csrf(team.client("ana")),
            "action": "submit",
            **_fields(ROWS[KIEFER], _seen(submit.text)),
        },
    )
    assert again.status_code == 303
    assert team.store.extraction_sheet(PROJECT, KIEFER, "Ana").submitted


def test_a_save_over_a_value_stored_meanwhile_is_refused_and_nothing_is_lost(
    team: World, tmp_path: Path
) -> None:
    first = team.client("ana")
    second = TestClient(team.app, base_url="http://testserver", follow_redirects=False)
    from tests.web.conftest import login

    login(second, "ana")
    pages = [c.get(f"{P}/extract", params={"study": KIEFER}).text for c in (first, second)]
    one = first.post(
        f"{P}/extract",
        data={
            "study": KIEFER,
            "csrf_token": team.csrf(first),
            **_fields({"n": "20"}, _seen(pages[0])),
        },
    )
    assert one.status_code == 303
    two = second.post(
        f"{P}/extract",
        data={
            "study": KIEFER,
            "csrf_token": team.csrf(second),
            **_fields({"n": "21"}, _seen(pages[1])),
        },
    )
    assert two.status_code == 409
    assert "changed since you opened it (n = 20 stored meanwhile" in two.text
    assert 'value="20"' in two.text  # the page now shows what is stored
    assert team.store.extraction_sheet(PROJECT, KIEFER, "Ana").values["n"] == 20
    second.close()


def test_reconciliation_records_who_and_why_and_refuses_a_changed_field(team: World) -> None:
    _complete(team, KIEFER, {**ROWS[KIEFER], "n": "2"})
    cy, olga = team.client("cy"), team.client("olga")
    page = cy.get(f"{P}/reconcile", params={"study": KIEFER}).text
    assert re.search(r'<tr class="differs open" data-field="n">', page)
    assert page.count('class="differs') == 1
    token = _token(team, cy, KIEFER, "n")
    stale = _token(team, olga, KIEFER, "n")
    data = {"study": KIEFER, "field": "n", "value": "20", "reason": "Table 1 reads 20"}
    assert (
        cy.post(
            f"{P}/reconcile", data={**data, "token": token, "csrf_token": team.csrf(cy)}
        ).status_code
        == 303
    )
    late = olga.post(
        f"{P}/reconcile",
        data={**data, "value": "2", "reason": "x", "token": stale, "csrf_token": team.csrf(olga)},
    )
    assert late.status_code == 409
    assert "changed since you opened it" in late.text
    page = olga.get(f"{P}/reconcile", params={"study": KIEFER}).text
    assert "<strong>20</strong> — agreed by Cy: Table 1 reads 20" in page
    history = re.search(r'data-field="n">.*?<details class="history">(.*?)</details>', page, re.S)
    entries = re.findall(r"<li>[^·]*· ([^<]*)</li>", history.group(1))
    assert entries == ["Ana: 20", "Ben: 2", "Cy: 20 (agreed: Table 1 reads 20)"]
    bad = olga.post(
        f"{P}/reconcile",
        data={
            **data,
            "value": "0",
            "token": _token(team, olga, KIEFER, "n"),
            "csrf_token": team.csrf(olga),
        },
    )
    assert bad.status_code == 422 and "0 is outside the allowed range" in bad.text
    log = team.store.audit_log(PROJECT)
    agreed = log[log["entity"] == "extraction_resolution"]
    assert agreed[["actor", "new", "reason"]].values.tolist() == [["Cy", 20, "Table 1 reads 20"]]


def test_check_endpoint_reads_cells_and_finds_grim_while_typing(team: World) -> None:
    ana = team.client("ana")
    answer = ana.post(
        f"{P}/extract/check",
        json={"study": KIEFER, "values": {**ROWS[KIEFER], "n": "20", "duration_days": "7-8"}},
        headers={"X-CSRF-Token": team.csrf(ana)},
    )
    assert answer.status_code == 200
    result = answer.json()
    assert result["flags"]["immediate_relief_pct"] == [
        {
            "study": KIEFER,
            "column": "immediate_relief_pct",
            "cell": "93.5",
            "check": "grim",
            "message": "93.5% of n = 20 is 18.7 people; no whole number gives 93.5% "
            "(18/20 = 90%, 19/20 = 95%, 20/20 = 100%).",
            "severity": "error",
        }
    ]
    assert result["fields"]["duration_days"]["error"].endswith(
        "'7-8' reads as a range (7 to 8); this field takes one number in days."
    )
    assert result["fields"]["n"] == {"reading": "20", "error": None}
    two = ana.post(
        f"{P}/extract/check",
        json={"study": "Schwartzman, R et al (2009)", "values": {"n": "19(26)"}},
        headers={"X-CSRF-Token": team.csrf(ana)},
    ).json()
    assert two["fields"]["n"]["reading"] == "19, and 26 in parentheses"
    assert [f["check"] for f in two["flags"]["n"]] == ["n_two_counts"]
    assert team.store.extraction_sheet(PROJECT, KIEFER, "Ana").values == {}  # nothing saved
    for body in ("not json", '{"study": 1}'):
        bad = ana.post(
            f"{P}/extract/check",
            content=body,
            headers={"X-CSRF-Token": team.csrf(ana), "Content-Type": "application/json"},
        )
        assert bad.status_code == 422
    unknown = ana.post(
        f"{P}/extract/check",
        json={"study": "Nobody 1999", "values": {}},
        headers={"X-CSRF-Token": team.csrf(ana)},
    )
    assert unknown.status_code == 404


def test_third_extractor_and_frozen_study_answer_409(team: World) -> None:
    _save(team, "ana", GOEBEL, ROWS[GOEBEL])
    _save(team, "ben", GOEBEL, ROWS[GOEBEL])
    third = _save(team, "cy", GOEBEL, ROWS[GOEBEL])
    assert third.status_code == 409 and "already has 2 extractors" in third.text
    _complete(team, KIEFER)
    frozen = _save(team, "ana", KIEFER, {**ROWS[KIEFER], "n": "21"})
    assert frozen.status_code == 409 and "extraction is complete" in frozen.text


def test_owner_sets_the_form_and_bad_toml_is_422(team: World) -> None:
    olga = team.client("olga")
    csrf = team.csrf(olga)
    bad = olga.post(f"{P}/extraction/form", data={"protocol": "[extraction", "csrf_token": csrf})
    assert bad.status_code == 422 and "not valid TOML" in bad.text
    wrong = olga.post(
        f"{P}/extraction/form",
        data={"protocol": '[extraction.fields.n]\ntype = "float"', "csrf_token": csrf},
    )
    assert wrong.status_code == 422 and "type must be one of" in wrong.text
    none = olga.post(f"{P}/extraction/form", data={"protocol": "[review]", "csrf_token": csrf})
    assert none.status_code == 422 and "has no [extraction] section" in none.text


def test_a_colliding_study_label_is_409_next_to_the_label(team: World) -> None:
    olga = team.client("olga")
    rid = _included_free_report(team)
    page = olga.get(f"{P}/extraction").text
    assert f'name="record" value="{rid}"' in page
    clash = olga.post(
        f"{P}/extraction/studies",
        data={"label": "kiefer,  R et al (2008A)", "record": rid, "csrf_token": team.csrf(olga)},
    )
    assert clash.status_code == 409
    message = re.search(r'<p id="study-error" class="field-error"[^>]*>([^<]*)</p>', clash.text)
    assert message.group(1) == (
        "study label &#39;kiefer, R et al (2008A)&#39; collides with the existing study "
        "&#39;Kiefer, R et al (2008a)&#39; (labels are compared ignoring case and spacing); "
        "choose another, e.g. with a or b after the year."
    )
    assert 'value="kiefer, R et al (2008A)"' in clash.text  # kept for correcting
    empty = olga.post(
        f"{P}/extraction/studies", data={"label": "Lone 2020", "csrf_token": team.csrf(olga)}
    )
    assert empty.status_code == 422 and "choose at least one report" in empty.text
    made = olga.post(
        f"{P}/extraction/studies",
        data={"label": "Kiefer, R et al (2008c)", "record": rid, "csrf_token": team.csrf(olga)},
    )
    assert made.status_code == 303
    studies = team.store.studies(PROJECT).set_index("study")
    assert studies.loc["Kiefer, R et al (2008c)", "record_ids"] == [rid]
    assert f'name="record" value="{rid}"' not in olga.get(f"{P}/extraction").text


def test_hostile_study_labels_are_escaped(team: World) -> None:
    hostile = '<img src=x onerror=alert(1)> "Evil" 2021'
    rid = _included_free_report(team)
    team.store.assign_study(PROJECT, hostile, [rid], actor="Olga")
    ana = team.client("ana")
    for page in (
        ana.get(f"{P}/extraction"),
        ana.get(f"{P}/extract", params={"study": hostile}),
    ):
        assert page.status_code == 200
        assert "<img src=x" not in page.text
        assert "&lt;img src=x onerror=alert(1)&gt;" in page.text
