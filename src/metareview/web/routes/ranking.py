"""Prioritised screening in the web app: the caller's queue ordered by relevance (the screening
page's "relevance" order), the stopping estimate beside it, and the owners' page that ends
title/abstract screening by a stopping rule.

Blinding is the store's: :meth:`Store.ranked_queue` learns only from the caller's own votes
and from complete records, and its stopping estimate reads only the caller's own votes, so the
order, the scores and the estimate a reviewer sees cannot reveal another reviewer's pending
vote. The team's estimate reads every vote and is shown to owners only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import Response

from metareview.exceptions import InputError
from metareview.review import Store
from metareview.web.auth import check_csrf, require_member
from metareview.web.routes._common import redirect, render, store_of

__all__ = ["ORDERS", "ranking_context", "router"]

router = APIRouter(include_in_schema=False)

#: The screening page's orders: import order (default) or the caller's relevance ranking.
ORDERS = ("import", "relevance")

_HEURISTICS = ("consecutive_irrelevant", "knee")

#: How the owners' page names the rules.
RULE_LABELS = {
    "hypergeometric": "Hypergeometric test (Callaghan & Müller-Hansen 2020)",
    "consecutive_irrelevant": "Irrelevant records in a row (heuristic)",
    "knee": "Knee method (Cormack & Grossman 2016; heuristic)",
}


def check_order(order: str) -> str:
    """``order`` if one of :data:`ORDERS`, else 422."""
    if order not in ORDERS:
        raise HTTPException(422, f"order must be one of {', '.join(ORDERS)}; got {order!r}.")
    return order


def ranking_context(
    store: Store,
    project: str,
    reviewer: str,
    stage: str,
    skip: Sequence[str],
    record_id: str | None,
    show_scores: bool,
) -> dict[str, Any]:
    """What the screening page shows in relevance order: the next record (the caller's
    highest-ranked one not skipped), its score when asked for, the notes, and the stopping
    estimate on the caller's own votes."""
    ranked = store.ranked_queue(project, reviewer, stage=stage)
    order = ranked.queue["record_id"].tolist()
    following = next((r for r in order if r not in set(skip)), None)
    shown = record_id or following
    score = None
    if show_scores and shown is not None:
        values = dict(zip(order, ranked.queue["score"], strict=True))
        value = values.get(shown)
        score = None if value is None or value != value else float(value)  # NaN: no model
    rule = ranked.stopping["hypergeometric"]
    warnings = [
        ranked.stopping[name].promise
        for name in _HEURISTICS
        if ranked.stopping[name].stop and not rule.stop
    ]
    return {
        "next": following,
        "ranking": {
            "classifier": ranked.classifier,
            "n_training": ranked.n_training,
            "n_included": ranked.n_included,
            "notes": list(ranked.notes),
            "score": score,
            "show_scores": show_scores,
        },
        "stopping": {
            "stop": rule.stop,
            "promise": rule.promise,
            "n_unscreened": rule.n_unscreened,
            "n_screened": rule.n_screened,
            "heuristic_warnings": warnings,
        },
    }


@router.get("/p/{project}/stopping")
def stopping_page(request: Request, project: str) -> Response:
    """Owners: what each stopping rule says about the team's title/abstract screening, the
    form that stops by a rule, and the stops so far with their methods sentence."""
    caller = require_member(request, project, ("owner",))
    store = store_of(request)
    if caller.reviewer is None:  # pragma: no cover - owners always screen under a name
        raise HTTPException(403, "an owner without a reviewer name cannot see this page.")
    return render(
        request,
        "stopping.html",
        caller.session,
        project=project,
        caller=caller,
        verdicts=store.project_stopping(project, by=caller.reviewer),
        stops=store.screening_stops(project),
        rule_labels=RULE_LABELS,
        message=None,
    )


@router.post("/p/{project}/stopping")
def stop(
    request: Request,
    project: str,
    rule: Annotated[str, Form()],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Owners: stop title/abstract screening by ``rule`` (refused with 409 unless it says
    stop)."""
    caller = require_member(request, project, ("owner",))
    check_csrf(request, caller.session, csrf_token)
    store = store_of(request)
    if caller.reviewer is None:  # pragma: no cover - owners always screen under a name
        raise HTTPException(403, "an owner without a reviewer name cannot stop screening.")
    try:
        store.stop_screening(project, rule=rule, by=caller.reviewer)
    except InputError as exc:
        return render(
            request,
            "stopping.html",
            caller.session,
            status=409,
            project=project,
            caller=caller,
            verdicts=store.project_stopping(project, by=caller.reviewer),
            stops=store.screening_stops(project),
            rule_labels=RULE_LABELS,
            message=str(exc),
        )
    return redirect(f"/p/{project}/stopping")
