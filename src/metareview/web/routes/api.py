"""The JSON API for scripts, under ``/api/v1``, with the pages' accounts, roles and blinding.

Log in with ``POST /api/v1/session``; send the returned ``token`` as
``Authorization: Bearer <token>`` (or keep the session cookie and send the returned
``csrf_token`` as ``X-CSRF-Token`` on every POST). Votes are safe to retry: the same vote
sent twice is stored once.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from metareview.exceptions import InputError
from metareview.review import Store
from metareview.review.screening import STAGES
from metareview.web.auth import (
    SESSION_COOKIE,
    login_keys,
    require_member,
    require_session,
    set_session_cookie,
)
from metareview.web.routes._common import store_of
from metareview.web.routes.project import prisma_state

router = APIRouter(prefix="/api/v1", tags=["api"])
Stage = Literal["title_abstract", "full_text"]
MEMBERS = ("owner", "reviewer", "viewer")
SCREENERS = ("owner", "reviewer")


class Credentials(BaseModel):
    username: str = Field(max_length=200)
    password: str = Field(max_length=1000)


class SessionOut(BaseModel):
    username: str
    admin: bool
    token: str = Field(description="send as `Authorization: Bearer <token>`")
    csrf_token: str = Field(description="with the cookie instead: send as `X-CSRF-Token`")


class ProjectOut(BaseModel):
    name: str
    role: Literal["owner", "reviewer", "viewer"]
    reviewer: str | None = Field(description="the reviewer name you screen under")


class RecordOut(BaseModel):
    id: str
    title: str | None
    abstract: str | None
    authors: list[str]
    journal: str | None
    year: int | None
    doi: str | None
    pmid: str | None
    source: str | None
    duplicate_of: str | None


class Progress(BaseModel):
    total: int = Field(description="records at the stage")
    voted: int = Field(description="your votes at the stage")
    left: int = Field(description="records still waiting for your vote")


class NextOut(BaseModel):
    stage: Stage
    record: RecordOut | None = Field(description="null when nothing is left for you")
    progress: Progress


class VoteIn(BaseModel):
    stage: Stage = "title_abstract"
    decision: Literal["include", "exclude", "maybe"]
    reason: str | None = Field(
        default=None, max_length=2000, description="required for a full-text exclusion"
    )


class VoteOut(BaseModel):
    record_id: str
    stage: Stage
    decision: str
    reason: str | None
    result: Literal["recorded", "revised", "unchanged"]


class VisibleVote(BaseModel):
    reviewer: str
    decision: str
    reason: str | None


class RecordVotesOut(BaseModel):
    record: RecordOut
    votes: dict[str, list[VisibleVote]] = Field(
        description="per stage, the votes you may see: yours, and others' once the record "
        "is complete or the stage unblinded"
    )
    status: dict[str, str | None] = Field(
        description="per stage, the record's status when its votes are visible to you "
        "(pending for your own open records), else null"
    )


class PrismaOut(BaseModel):
    complete: bool = Field(
        description="true when every record has its outcome; the counts "
        "are then the store's prisma_counts"
    )
    counts: dict[str, Any]
    open: dict[str, int] = Field(description="records still pending or in conflict, by stage")


def _clean(value: Any) -> Any:
    return value if isinstance(value, str) else None


@router.post(
    "/session",
    response_model=SessionOut,
    responses={
        401: {"description": "wrong user name or password"},
        429: {"description": "too many failed logins; see Retry-After"},
    },
)
def create_session(request: Request, body: Credentials) -> Response:
    """Log in; a new session each time."""
    limiter = request.app.state.limiter
    keys = login_keys(request, body.username)
    wait = limiter.retry_after(keys)
    if wait is not None:
        raise HTTPException(
            429,
            f"too many failed logins; try again in {wait} s.",
            headers={"Retry-After": str(wait)},
        )
    store = store_of(request)
    found = store.login(body.username, body.password)
    if found is None:
        limiter.failed(keys)
        raise HTTPException(401, "wrong user name or password.")
    limiter.succeeded(keys[0])
    token, csrf = found
    info = store.session_user(token)
    response = JSONResponse(
        SessionOut(
            username=info.user.username, admin=info.user.admin, token=token, csrf_token=csrf
        ).model_dump()
    )
    set_session_cookie(request, response, token)
    return response


@router.delete("/session", status_code=204)
def delete_session(request: Request) -> Response:
    """Log out (ends the session of the cookie or bearer token)."""
    require_session(request)
    header = request.headers.get("authorization", "")
    token = (
        header[7:].strip()
        if header.lower().startswith("bearer ")
        else request.cookies.get(SESSION_COOKIE, "")
    )
    store_of(request).logout(token)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/projects", response_model=list[ProjectOut])
def list_projects(request: Request) -> list[ProjectOut]:
    """Your projects, with your role and reviewer name in each."""
    session = require_session(request)
    return [
        ProjectOut(name=p.project, role=p.role, reviewer=p.reviewer)
        for p in store_of(request).user_projects(session.user.id)
    ]


@router.get("/projects/{project}/next", response_model=NextOut)
def next_record(
    request: Request, project: str, stage: Annotated[Stage, Query()] = "title_abstract"
) -> NextOut:
    """The next record waiting for your vote at ``stage`` (owners and reviewers)."""
    caller = require_member(request, project, SCREENERS)
    store = store_of(request)
    queue = store.queue(project, caller.reviewer, stage)
    record = None if queue["next"] is None else store.record_view(project, queue["next"])
    return NextOut(
        stage=stage,
        record=record,
        progress=Progress(total=queue["total"], voted=queue["voted"], left=queue["left"]),
    )


@router.post(
    "/projects/{project}/records/{record_id}/votes",
    response_model=VoteOut,
    responses={
        201: {"description": "first vote recorded"},
        200: {"description": "vote revised, or the same vote again"},
        404: {"description": "no such record in the project"},
        409: {"description": "the record is complete or not at this stage"},
        422: {"description": "bad decision, or exclusion without reason"},
    },
)
def cast_vote(request: Request, project: str, record_id: str, body: VoteIn) -> Response:
    """Vote on a record (owners and reviewers). Sending the same vote twice stores one."""
    caller = require_member(request, project, SCREENERS)
    store = store_of(request)
    try:
        result = store.cast_vote(
            project, record_id, caller.reviewer, body.decision, body.stage, body.reason
        )
    except InputError as exc:
        text = str(exc)
        status = (
            404
            if "is not in project" in text
            else 409
            if ("complete" in text or "not at the" in text or "already resolved" in text)
            else 422
        )
        raise HTTPException(status, text) from exc
    reason = (
        body.reason.strip()
        if (body.reason and body.stage == "full_text" and body.decision == "exclude")
        else None
    )
    out = VoteOut(
        record_id=record_id,
        stage=body.stage,
        decision=body.decision,
        reason=reason or None,
        result=result,
    )
    return JSONResponse(out.model_dump(), status_code=201 if result == "recorded" else 200)


def _exists(store: Store, project: str, record_id: str) -> bool:
    try:
        store.record_view(project, record_id)
    except InputError as exc:
        raise HTTPException(404, str(exc)) from exc
    return True


@router.get("/projects/{project}/records/{record_id}", response_model=RecordVotesOut)
def get_record(request: Request, project: str, record_id: str) -> RecordVotesOut:
    """A record and the votes on it that you may see (blinded until complete)."""
    caller = require_member(request, project, MEMBERS)
    store = store_of(request)
    _exists(store, project, record_id)
    record = store.record_view(project, record_id)
    votes: dict[str, list[VisibleVote]] = {}
    status: dict[str, str | None] = {}
    for stage in STAGES:
        seen = store.visible_votes(project, stage, caller.reviewer)
        seen = seen[seen["record_id"] == record_id]
        votes[stage] = [
            VisibleVote(reviewer=r.reviewer, decision=r.decision, reason=_clean(r.reason))
            for r in seen.itertuples()
        ]
        table = store.screening_status(project, stage)
        state = table.loc[table["record_id"] == record_id, "status"]
        value = None if state.empty else str(state.iloc[0])
        # "pending" vs. complete is itself a hint about others' votes: shown only when the
        # caller may see every vote on the record, or it is their own pending record
        others_hidden = value == "pending" and not store.unblinded(project, stage)
        own = any(v.reviewer == caller.reviewer for v in votes[stage])
        status[stage] = value if not others_hidden or own else None
    return RecordVotesOut(record=record, votes=votes, status=status)


@router.get("/projects/{project}/prisma", response_model=PrismaOut)
def prisma(request: Request, project: str) -> PrismaOut:
    """PRISMA 2020 counts: the store's final counts once every record has its outcome,
    the counts over the records decided so far before that."""
    require_member(request, project, MEMBERS)
    store = store_of(request)
    counts, complete = prisma_state(store, project)
    so_far = store.prisma_so_far(project)
    counts = {k: v for k, v in counts.items() if k != "open"}
    return PrismaOut(complete=complete, counts=counts, open=so_far["open"])
