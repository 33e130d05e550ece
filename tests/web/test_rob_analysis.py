"""The risk-of-bias pages and the analysis page at the HTTP level: the acceptance number
(the pooled immediate rate with the published method equals the report's 68.8% (53.5%,
84.1%) for examples/ketamine-crps-review), the authorisation matrix of every new route,
CSRF, blinding of dual risk-of-bias assessments, escaping, and bad choices.

The store is seeded through Store methods only: the example's ``review.py`` runs the review
(import, screening, dual extraction with one planted disagreement resolved), then accounts
are attached to its reviewers.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from metareview.review import Store
from metareview.web import create_app
from metareview.web.routes import analysis, rob
from tests.web.conftest import World, login, password

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ketamine-crps-review"
PROJECT = "ketamine-crps"  # the example's project name
USERS = {"anonymous": None, "viewer": "vera", "other": "otto", "reviewer": "ana", "owner": "olga"}
CALLERS = tuple(USERS)
STUDY = "Goebel, A et al (2015)"
LOW_ANSWERS = {
    "1.1": "Y",
    "1.2": "Y",
    "1.3": "N",
    "2.1": "N",
    "2.2": "N",
    "2.6": "Y",
    "3.1": "Y",
    "4.1": "N",
    "4.2": "N",
    "4.3": "N",
    "5.1": "Y",
    "5.2": "N",
    "5.3": "N",
}
ALL_LOW = dict.fromkeys(("D1", "D2", "D3", "D4", "D5", "Overall"), "Low")


def seeded_world(folder: Path) -> World:
    """The example's review run in a fresh SQLite store, with accounts for its people."""
    spec = importlib.util.spec_from_file_location("ketamine_review", EXAMPLE / "review.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    url = f"sqlite:///{folder / 'review.sqlite'}"
    module.run(url, folder / "out")
    store = Store.open(url)
    store.accept_invite(store.bootstrap_invite(), "olga", password("olga"))
    store.add_member(PROJECT, "olga", "owner", by="olga", reviewer_name="Olga")
    for user, role, name in (("ana", "reviewer", "Ana"), ("ben", "reviewer", "Ben")):
        store.accept_invite(
            store.create_invite(PROJECT, role, by="olga"), user, password(user), name
        )
    store.accept_invite(store.create_invite(PROJECT, "viewer", by="olga"), "vera", password("vera"))
    store.create_project("other")
    store.add_member("other", "olga", "owner", by="olga")
    store.accept_invite(
        store.create_invite("other", "reviewer", by="olga"), "otto", "otto-password"
    )
    return World(store=store, app=create_app(store, protocols={PROJECT: EXAMPLE}))


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    world = seeded_world(tmp_path_factory.mktemp("ketamine"))
    yield world
    for client in world.clients.values():
        client.close()
    world.store.close()


def _cell(html: str, row_id: str, cls: str) -> str:
    row = re.search(rf'<tr id="{row_id}">(.*?)</tr>', html, re.S).group(1)
    return re.search(rf'<td class="{cls}">(.*?)</td>', row, re.S).group(1).strip()


def test_pooled_rate_with_the_published_method_is_the_reports(seeded: World) -> None:
    """Acceptance: 68.8% (53.5%, 84.1%), the report's (README; paper: 69% (53%, 84%))."""
    page = seeded.client("ana").get(
        f"/p/{PROJECT}/analysis?outcome=immediate&measure=PR&method=DL&test=z"
    )
    assert page.status_code == 200, page.text
    assert _cell(page.text, "pooled-published", "estimate") == "68.8%"
    assert _cell(page.text, "pooled-published", "ci") == "53.5% to 84.1%"
    # the chosen model (0.5 added to the 0% study, so k = 9) is shown beside it
    assert "DL, raw proportions, 0.5 added to 0% or 100% studies (chosen)" in page.text
    for part in ('id="forest" src="data:image/svg+xml;base64,', 'id="leave1out"', 'id="egger"'):
        assert part in page.text
    assert page.text.count("<tr", page.text.index('id="robustness"')) >= 8


def test_choices_redraw_and_bad_ones_are_named(seeded: World) -> None:
    client = seeded.client("vera")  # a viewer may read the analysis
    default = client.get(f"/p/{PROJECT}/analysis")
    assert default.status_code == 200
    assert "REML, logit, Hartung-Knapp" in default.text  # the protocol's model
    sub = client.get(f"/p/{PROJECT}/analysis?test=z&subgroup=intervention")
    assert sub.status_code == 200 and 'id="subgroups"' in sub.text
    mods = client.get(f"/p/{PROJECT}/analysis?moderator=duration_days")
    assert mods.status_code == 200 and 'id="regression"' in mods.text
    bad = client.get(f"/p/{PROJECT}/analysis?measure=SMD")
    assert bad.status_code == 422
    assert "measure must be one of [&#39;PR&#39;, &#39;PLN&#39;" in bad.text
    assert 'id="choices"' in bad.text  # the choices stay, the message beside them
    assert client.get(f"/p/{PROJECT}/analysis?moderator=nope").status_code == 422
    assert client.get(f"/p/{PROJECT}/analysis?outcome=nope").status_code == 422


def test_analysis_without_a_protocol_is_404(seeded: World) -> None:
    bare = TestClient(create_app(seeded.store), follow_redirects=False)
    login(bare, "ana")
    response = bare.get(f"/p/{PROJECT}/analysis")
    assert response.status_code == 404 and "has no protocol" in response.text
    bare.close()


# ------------------------------------------------------------------ authorisation matrix

P = f"/p/{PROJECT}"
STUDY_Q = "study=Goebel%2C+A+et+al+%282015%29"
MATRIX = [
    ("GET", f"{P}/analysis", None, (303, 200, 404, 200, 200)),
    ("GET", f"{P}/rob", None, (303, 200, 404, 200, 200)),
    ("GET", f"{P}/rob?tool=NOS", None, (303, 200, 404, 200, 200)),
    ("GET", f"{P}/rob/assess?{STUDY_Q}", None, (303, 403, 404, 200, 200)),
    ("GET", f"{P}/rob/conflicts", None, (303, 200, 404, 200, 200)),
    (
        "POST",
        f"{P}/rob/assess",
        {"study": STUDY, "tool": "ROBINS-I", "j_D1": "Low"},
        (303, 403, 404, 303, 303),
    ),
    (
        "POST",
        f"{P}/rob/consensus",  # the study's assessments are not complete: refused
        {"study": STUDY, "tool": "ROBINS-I", "domain": "D1", "judgement": "Low", "reason": "x"},
        (303, 403, 404, 422, 422),
    ),
]


@pytest.mark.parametrize(("method", "path", "form", "expected"), MATRIX)
def test_route_by_role(seeded: World, method: str, path: str, form, expected) -> None:
    got = []
    for caller in CALLERS:
        client = seeded.client(USERS[caller])
        if method == "GET":
            response = client.get(path)
        else:
            data = dict(form)
            if USERS[caller] is not None:
                data["csrf_token"] = seeded.csrf(client)
            response = client.post(path, data=data)
        got.append(response.status_code)
        if caller == "anonymous":
            assert response.headers["location"].startswith("/login?next=")
    assert tuple(got) == expected


def test_every_new_route_is_in_the_matrix() -> None:
    covered = {(m, p.split("?")[0].replace(P, "/p/{project}")) for m, p, _, _ in MATRIX}
    routes = {
        (method, route.path)
        for module in (rob, analysis)
        for route in module.router.routes
        for method in route.methods
    }
    assert routes == covered


def test_state_changes_need_the_csrf_token(seeded: World) -> None:
    client = seeded.client("ben")
    for path, data in (
        (f"{P}/rob/assess", {"study": STUDY, "tool": "NOS", "j_Selection": "3"}),
        (f"{P}/rob/consensus", {"study": STUDY, "domain": "D1", "judgement": "Low"}),
    ):
        assert client.post(path, data=data).status_code == 403
        assert client.post(path, data={**data, "csrf_token": "forged"}).status_code == 403
    assert seeded.store.rob_assessment(PROJECT, STUDY, "NOS", "Ben")["judgements"] == {}


# ---------------------------------------------------------------------------- blinding


def _save(world: World, user: str, study: str, answers: dict, judgements: dict, support=None):
    client = world.client(user)
    data = {"csrf_token": world.csrf(client), "study": study, "tool": "RoB2"}
    data |= {f"q_{k}": v for k, v in answers.items()}
    data |= {f"j_{k}": v for k, v in judgements.items()}
    data |= {f"s_{k}": v for k, v in (support or {}).items()}
    return client.post(f"{P}/rob/assess", data=data)


def test_dual_rob_blinded_until_both_complete_then_consensus(seeded: World) -> None:
    study = "Correl, G et al (2004)"
    query = f"{P}/rob/assess?study=Correl%2C+G+et+al+%282004%29&tool=RoB2"
    hostile = '<script>alert("x")</script> attrition 30%'
    ana = {**ALL_LOW, "D3": "High", "Overall": "High"}
    saved = _save(seeded, "ana", study, LOW_ANSWERS, ana, {"D3": hostile})
    assert saved.status_code == 303  # D3 High against the suggested Low: with a reason
    # Ben has not finished: he sees none of Ana's judgements, anywhere
    for path in (query, f"{P}/rob", f"{P}/rob/conflicts"):
        page = seeded.client("ben").get(path)
        assert page.status_code == 200
        assert "attrition 30%" not in page.text and "rob-traffic" not in page.text
    # an override without a reason is refused next to the form, nothing saved
    refused = _save(seeded, "ben", study, LOW_ANSWERS, {**ALL_LOW, "D1": "High"})
    assert refused.status_code == 422
    assert "domain D1: the algorithm suggests &#39;Low&#39;" in refused.text
    assert seeded.store.rob_assessment(PROJECT, study, "RoB2", "Ben")["judgements"] == {}
    assert _save(seeded, "ben", study, LOW_ANSWERS, ALL_LOW).status_code == 303
    # both complete: the other assessment shows (escaped), and the disagreement is listed
    page = seeded.client("ben").get(query)
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; attrition 30%" in page.text
    assert "<script>alert" not in page.text
    conflicts = seeded.client("vera").get(f"{P}/rob/conflicts")
    assert 'data-domain="D3"' in conflicts.text and 'data-domain="D1"' not in conflicts.text
    assert "rob-traffic" not in seeded.client("vera").get(f"{P}/rob").text  # not agreed yet
    client = seeded.client("olga")
    for domain in ("D3", "Overall"):
        done = client.post(
            f"{P}/rob/consensus",
            data={
                "csrf_token": seeded.csrf(client),
                "study": study,
                "domain": domain,
                "judgement": "Some concerns",
                "reason": "losses balanced between arms",
            },
        )
        assert done.status_code == 303
    overview = seeded.client("vera").get(f"{P}/rob")
    assert 'id="rob-traffic" src="data:image/svg+xml;base64,' in overview.text
    assert 'id="rob-summary"' in overview.text
    table, _ = seeded.store.rob_agreed_table(PROJECT, "RoB2")
    assert table.loc[study, "D3"] == "Some concerns"


def test_figures_are_redrawn_only_when_the_model_changes(
    seeded: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A subgroup or moderator changes no figure: the drawn forest and funnel are reused."""
    from metareview.report import live

    drawn = []
    original = live.forest_figure
    monkeypatch.setattr(live, "forest_figure", lambda a: drawn.append(a) or original(a))
    client = seeded.client("ana")
    pages = [
        client.get(f"/p/{PROJECT}/analysis?method=PM&test=z{extra}")
        for extra in ("", "&subgroup=intervention", "&moderator=duration_days", "&method=PM")
    ]
    assert [p.status_code for p in pages] == [200] * 4
    assert len(drawn) == 1
    forest = [re.search(r'id="forest" src="([^"]+)"', p.text).group(1) for p in pages]
    assert len(set(forest)) == 1
    assert client.get(f"/p/{PROJECT}/analysis?method=HE&test=z").status_code == 200
    assert len(drawn) == 2


def test_robins_and_nos_forms(seeded: World) -> None:
    study_q = "study=Patil%2C+S+et+al+%282012%29"
    robins = seeded.client("ana").get(f"{P}/rob/assess?{study_q}&tool=ROBINS-I")
    assert robins.status_code == 200
    assert 'name="j_D7"' in robins.text and 'name="q_' not in robins.text
    assert "Critical" in robins.text and "No information" in robins.text
    nos = seeded.client("ana").get(f"{P}/rob/assess?{study_q}&tool=NOS")
    assert 'name="j_Selection"' in nos.text and "4 stars" in nos.text
    assert 'name="j_Overall"' not in nos.text and 'name="j_Total"' not in nos.text
    for user in ("ana", "ben"):
        client = seeded.client(user)
        data = {"csrf_token": seeded.csrf(client), "study": "Patil, S et al (2012)", "tool": "NOS"}
        data |= {"j_Selection": "3", "j_Comparability": "1", "j_Outcome": "2"}
        assert client.post(f"{P}/rob/assess", data=data).status_code == 303
    overview = seeded.client("vera").get(f"{P}/rob?tool=NOS")
    assert 'id="rob-traffic"' in overview.text
