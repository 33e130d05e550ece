"""Screening pages: one record at a time with the keywords highlighted, votes (keys i, e, m;
s skips, u goes back to the last vote that can still change), full-text retrieval and
exclusion reasons, and the conflicts page where a third reviewer settles disagreements.

Blinding is the store's (``visible_votes``, ``queue``); this module shows the caller only
their own vote on a record that is not complete, and checks again that a record page is one
the caller may open.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import Response

from metareview.exceptions import InputError
from metareview.review.screening import check_stage
from metareview.web.auth import Caller, require_member
from metareview.web.routes._common import redirect, render, store_of
from metareview.web.routes.ranking import check_order, ranking_context

router = APIRouter(include_in_schema=False)
SCREENERS = ("owner", "reviewer")
MEMBERS = ("owner", "reviewer", "viewer")


def _skips(skip: str | None) -> list[str]:
    return [s for s in (skip or "").split(",") if s]


def screen_context(
    request: Request,
    caller: Caller,
    project: str,
    stage: str,
    record_id: str | None,
    skip: list[str],
    message: str | None = None,
    order: str = "import",
    show_scores: bool = False,
) -> dict:
    """What the screening page shows for ``record_id`` (None: the caller's next record, in
    import order or in the caller's own relevance ranking)."""
    store = store_of(request)
    queue = store.queue(project, caller.reviewer, stage, skip)
    ranked = None
    if order == "relevance":
        ranked = ranking_context(
            store, project, caller.reviewer, stage, skip, record_id, show_scores
        )
        queue = {**queue, "next": ranked["next"]}
    rid = record_id or queue["next"]
    record = own = None
    if rid is not None:
        record = store.record_view(project, rid)
        mine = store.visible_votes(project, stage, caller.reviewer)
        mine = mine[(mine["record_id"] == rid) & (mine["reviewer"] == caller.reviewer)]
        if not mine.empty:
            reason = mine["reason"].iloc[0]
            own = {
                "decision": mine["decision"].iloc[0],
                "reason": reason if isinstance(reason, str) else None,
            }
    return {
        "project": project,
        "caller": caller,
        "stage": stage,
        "record": record,
        "own": own,
        "queue": queue,
        "skip": ",".join(skip),
        "message": message,
        "keywords": store.keywords(project),
        "reasons": (  # the menu: the store's rule, as the CLI screener's
            store.exclusion_reasons(project, caller.reviewer) if stage == "full_text" else []
        ),
        "order": order,
        "ranking": ranked["ranking"] if ranked else None,
        "stopping": ranked["stopping"] if ranked else None,
        "fulltext": (
            store.fulltext_info(project, rid) if stage == "full_text" and rid is not None else None
        ),
    }


@router.get("/p/{project}/screen")
def screen(
    request: Request,
    project: str,
    stage: str = "title_abstract",
    skip: str | None = None,
    record: str | None = None,
    undo: int = 0,
    order: str = "import",
    scores: int = 0,
) -> Response:
    caller = require_member(request, project, SCREENERS)
    stage = check_stage(stage)
    order = check_order(order)
    store = store_of(request)
    message = None
    if undo:
        record = store.last_open_vote(project, caller.reviewer, stage)
        if record is None:
            message = "Nothing to undo: your votes so far are on records that are complete."
    if record is not None:
        # only a record still waiting for votes that the caller voted on, or may vote on
        status = store.screening_status(project, stage)
        state = status.loc[status["record_id"] == record, "status"]
        if state.empty:
            raise HTTPException(404, f"record {record!r} is not at the {stage} stage.")
        if state.iloc[0] != "pending":
            raise HTTPException(409, f"record {record}: its votes at this stage are complete.")
    context = screen_context(
        request, caller, project, stage, record, _skips(skip), message, order, bool(scores)
    )
    return render(request, "screen.html", caller.session, **context)


@router.post("/p/{project}/screen/{record_id}")
def vote(
    request: Request,
    project: str,
    record_id: str,
    decision: Annotated[str, Form()],
    stage: Annotated[str, Form()] = "title_abstract",
    reason: Annotated[str, Form()] = "",
    other_reason: Annotated[str, Form()] = "",
    skip: Annotated[str, Form()] = "",
    order: Annotated[str, Form()] = "import",
) -> Response:
    caller = require_member(request, project, SCREENERS)
    stage = check_stage(stage)
    order = check_order(order)
    text = other_reason.strip() or reason.strip() or None
    store = store_of(request)
    try:
        store.cast_vote(project, record_id, caller.reviewer, decision, stage, text)
    except InputError as exc:
        skips = _skips(skip)
        try:
            context = screen_context(
                request, caller, project, stage, record_id, skips, str(exc), order
            )
        except InputError:  # the record itself is unknown
            raise HTTPException(404, str(exc)) from exc
        status = 409 if "complete" in str(exc) or "not at the" in str(exc) else 422
        return render(request, "screen.html", caller.session, status=status, **context)
    remaining = [s for s in _skips(skip) if s != record_id]
    return redirect(
        f"/p/{project}/screen",
        stage=stage,
        skip=",".join(remaining),
        order=None if order == "import" else order,
    )


@router.post("/p/{project}/records/{record_id}/retrieval")
def retrieval(
    request: Request,
    project: str,
    record_id: str,
    retrieved: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
    skip: Annotated[str, Form()] = "",
) -> Response:
    caller = require_member(request, project, SCREENERS)
    store_of(request).mark_retrieval(
        project, record_id, retrieved == "yes", actor=caller.reviewer, note=note.strip() or None
    )
    return redirect(f"/p/{project}/screen", stage="full_text", skip=skip)


@router.get("/p/{project}/conflicts")
def conflicts(request: Request, project: str, stage: str = "title_abstract") -> Response:
    caller = require_member(request, project, MEMBERS)
    stage = check_stage(stage)
    store = store_of(request)
    rows = store.conflicts(project, stage).to_dict(orient="records")
    for row in rows:
        row["record"] = store.record_view(project, row["record_id"])
        row["may_resolve"] = caller.reviewer is not None and caller.reviewer not in row["votes"]
    return render(
        request,
        "conflicts.html",
        caller.session,
        project=project,
        caller=caller,
        stage=stage,
        conflicts=rows,
        keywords=store.keywords(project),
    )


@router.post("/p/{project}/conflicts/{record_id}")
def resolve(
    request: Request,
    project: str,
    record_id: str,
    decision: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
    stage: Annotated[str, Form()] = "title_abstract",
) -> Response:
    caller = require_member(request, project, SCREENERS)
    stage = check_stage(stage)
    store = store_of(request)
    open_ = store.conflicts(project, stage)
    if record_id not in set(open_["record_id"]):
        raise HTTPException(409, f"record {record_id} is not an open conflict at {stage}.")
    store.resolve(
        project,
        record_id,
        decision,
        by=caller.reviewer,
        reason=reason,
        stage=stage,
        method="third_reviewer",
    )
    return redirect(f"/p/{project}/conflicts", stage=stage)
