"""The duplicate review queue (owners): tier-2 pairs side by side with the differing fields
marked; merge, not duplicates, and undo of either; automatic merge of the tier-1 pairs. Every
action is the store's and audited."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import Response

from metareview.web.auth import require_member
from metareview.web.routes._common import redirect, render, store_of

router = APIRouter(include_in_schema=False)
FIELDS = (
    "title",
    "authors",
    "year",
    "journal",
    "volume",
    "issue",
    "pages",
    "doi",
    "pmid",
    "abstract",
    "source",
)
SHOWN_PAIRS = 25


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    if value is None or value != value:  # None or NaN
        return ""
    return str(value)


def _side_by_side(records: dict[str, dict[str, Any]], a: str, b: str) -> list[dict[str, Any]]:
    rows = []
    for field in FIELDS:
        left, right = _text(records[a].get(field)), _text(records[b].get(field))
        rows.append(
            {
                "field": field,
                "a": left,
                "b": right,
                "differs": " ".join(left.lower().split()) != " ".join(right.lower().split()),
            }
        )
    return rows


@router.get("/p/{project}/duplicates")
def duplicates(request: Request, project: str) -> Response:
    caller = require_member(request, project, ("owner",))
    store = store_of(request)
    frame = store.records(project)
    records = {r["id"]: r for r in frame.to_dict(orient="records")}
    queue = store.duplicate_queue(project)
    pairs = [
        {**p, "rows": _side_by_side(records, p["id_a"], p["id_b"])} for p in queue[:SHOWN_PAIRS]
    ]
    groups = store.duplicate_groups(project)
    active = groups[groups["active"].astype(bool)]
    merged = [
        {"group_id": int(g), "records": [(r, records[r]["title"]) for r in members["record_id"]]}
        for g, members in active.groupby("group_id")
    ]
    judged = [
        {
            **j,
            "title_a": records[j["record_a"]]["title"],
            "title_b": records[j["record_b"]]["title"],
        }
        for j in store.judged_not_duplicates(project)
    ]
    tier1 = len(store.find_duplicates(project).tier1)
    return render(
        request,
        "duplicates.html",
        caller.session,
        project=project,
        caller=caller,
        pairs=pairs,
        n_queue=len(queue),
        merged=merged[::-1],
        judged=judged,
        tier1=tier1,
    )


@router.post("/p/{project}/duplicates/merge")
def merge(
    request: Request,
    project: str,
    record_a: Annotated[str, Form()],
    record_b: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
) -> Response:
    caller = require_member(request, project, ("owner",))
    store_of(request).merge(
        [record_a, record_b],
        actor=caller.session.user.username,
        reason=reason.strip() or "tier 2 judged duplicates",
    )
    return redirect(f"/p/{project}/duplicates")


@router.post("/p/{project}/duplicates/not-duplicates")
def not_duplicates(
    request: Request,
    project: str,
    record_a: Annotated[str, Form()],
    record_b: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
) -> Response:
    caller = require_member(request, project, ("owner",))
    store_of(request).not_duplicates(
        project,
        record_a,
        record_b,
        actor=caller.session.user.username,
        reason=reason.strip() or "judged different studies",
    )
    return redirect(f"/p/{project}/duplicates")


@router.post("/p/{project}/duplicates/withdraw")
def withdraw(
    request: Request,
    project: str,
    record_a: Annotated[str, Form()],
    record_b: Annotated[str, Form()],
) -> Response:
    caller = require_member(request, project, ("owner",))
    store_of(request).withdraw_not_duplicates(
        project,
        record_a,
        record_b,
        actor=caller.session.user.username,
        reason="undo: back to the queue",
    )
    return redirect(f"/p/{project}/duplicates")


@router.post("/p/{project}/duplicates/unmerge")
def unmerge(
    request: Request,
    project: str,
    group_id: Annotated[int, Form()],
) -> Response:
    caller = require_member(request, project, ("owner",))
    store = store_of(request)
    groups = store.duplicate_groups(project)
    if group_id not in set(groups["group_id"]):  # a group of another project is not ours
        raise HTTPException(404, f"duplicate group {group_id} is not in {project!r}.")
    store.unmerge(group_id, actor=caller.session.user.username, reason="undo merge")
    return redirect(f"/p/{project}/duplicates")


@router.post("/p/{project}/duplicates/auto-merge")
def auto_merge(request: Request, project: str) -> Response:
    caller = require_member(request, project, ("owner",))
    store_of(request).auto_merge(project, actor=caller.session.user.username)
    return redirect(f"/p/{project}/duplicates")
