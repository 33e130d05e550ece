"""Allocation (owners): who screens which record, the workload per reviewer, and handing a
leaving reviewer's open records to the others (their votes stay)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from metareview.review.screening import STAGES, check_stage
from metareview.web.auth import require_member
from metareview.web.routes._common import redirect, render, store_of

router = APIRouter(include_in_schema=False)


@router.get("/p/{project}/allocation")
def allocation(request: Request, project: str) -> Response:
    caller = require_member(request, project, ("owner",))
    store = store_of(request)
    reviewers = store.reviewers(project)
    active = reviewers.loc[reviewers["active"].astype(bool), "name"].tolist()
    per_record = store.reviewers_per_record(project)
    stages = [{"stage": st, "workload": store.workload(project, st)} for st in STAGES]
    return render(
        request,
        "allocation.html",
        caller.session,
        project=project,
        caller=caller,
        stages=stages,
        reviewers=active,
        per_record=per_record,
    )


@router.post("/p/{project}/allocation")
def allocate(
    request: Request,
    project: str,
    stage: Annotated[str, Form()],
    reviewers: Annotated[list[str], Form()],
    per_record: Annotated[int, Form()] = 2,
) -> Response:
    caller = require_member(request, project, ("owner",))
    store = store_of(request)
    actor = caller.session.user.username
    if per_record != store.reviewers_per_record(project):
        store.set_reviewers_per_record(project, per_record, actor=actor)
    store.allocate(project, check_stage(stage), reviewers, actor=actor)
    return redirect(f"/p/{project}/allocation")


@router.post("/p/{project}/allocation/reassign")
def reassign(
    request: Request,
    project: str,
    stage: Annotated[str, Form()],
    reviewer: Annotated[str, Form()],
) -> Response:
    caller = require_member(request, project, ("owner",))
    store_of(request).reassign(
        project, check_stage(stage), reviewer, actor=caller.session.user.username
    )
    return redirect(f"/p/{project}/allocation")
