"""The JSON API of extraction, under ``/api/v1/projects/{project}/extraction``, with the
pages' accounts, roles, blinding and rules (:mod:`metareview.review.extraction_dual`).

Statuses: a value the form refuses is 422 with ``errors`` (field -> message, nothing saved);
a value stored meanwhile by another session, or a reconciliation of a field changed since,
is 409 with ``stored`` (field -> the value stored now); a study that is complete (frozen),
that two others extract, or whose reconciliation is asked for before both extractors
submitted, 409; an unknown study 404. A study is named by its label in the query or body
(labels hold commas, spaces and slashes).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from metareview.exceptions import FieldsError, StaleExtractionError
from metareview.web.auth import check_csrf, require_member
from metareview.web.routes._common import store_of
from metareview.web.routes.extraction import (
    MEMBERS,
    _extractor,
    _flags_by_field,
    _form,
    _readings,
    _study,
)

router = APIRouter(prefix="/api/v1/projects/{project}/extraction", tags=["extraction"])
Value = str | int | float | bool | None


class SheetIn(BaseModel):
    study: str = Field(max_length=200)
    values: dict[str, Value] = Field(description="field -> value, as typed or as a number")
    seen: dict[str, str] | None = Field(
        default=None,
        description="field -> the token you saw (GET .../sheet); omit to skip the check",
    )
    submit: bool = Field(default=False, description="declare your extraction finished")


class CheckIn(BaseModel):
    study: str = Field(max_length=200)
    values: dict[str, Value]


class ReconcileIn(BaseModel):
    study: str = Field(max_length=200)
    field: str = Field(max_length=200)
    value: Value
    reason: str = Field(max_length=5000)
    token: str = Field(description="the field's token from GET .../reconciliation")


def _refused(exc: FieldsError) -> Response:
    return JSONResponse({"detail": str(exc), "errors": exc.errors}, status_code=422)


def _stale(exc: StaleExtractionError) -> Response:
    return JSONResponse({"detail": str(exc), "stored": exc.stored}, status_code=409)


@router.get("/studies")
def studies(request: Request, project: str) -> list[dict[str, Any]]:
    """Every study with its extraction status as you may see it (counts, your own state)."""
    caller = require_member(request, project, MEMBERS)
    rows = store_of(request).extraction_status(project, caller.reviewer)
    return rows.astype(object).where(rows.notna(), None).to_dict(orient="records")


@router.get("/sheet")
def get_sheet(request: Request, project: str, study: str = Query(max_length=200)) -> dict:
    """Your own values of a study, their tokens, and the integrity findings on them."""
    caller = _extractor(request, project)
    _study(request, project, study)
    store = store_of(request)
    sheet = store.extraction_sheet(project, study, caller.reviewer)
    flags = store.extraction_flags(project, study, caller.reviewer)
    return {
        "study": study,
        "values": sheet.values,
        "tokens": sheet.tokens,
        "submitted": sheet.submitted,
        "complete": sheet.complete,
        "extractors": sheet.extractors,
        "flags": [f.to_dict() for f in flags],
    }


@router.post(
    "/sheet",
    responses={
        409: {"description": "stored meanwhile (`stored`), complete, or two others extract"},
        422: {"description": "values the form refuses (`errors`: field -> message)"},
    },
)
def save_sheet(request: Request, project: str, body: SheetIn) -> Response:
    """Save your values of a study (and submit them with ``submit``)."""
    caller = _extractor(request, project)
    check_csrf(request, caller.session, None)
    _study(request, project, body.study)
    store = store_of(request)
    try:
        tokens = store.save_extraction(
            project, body.study, caller.reviewer, body.values, seen=body.seen
        )
        complete = None
        if body.submit:
            complete = store.submit_extraction(project, body.study, caller.reviewer)
    except FieldsError as exc:
        return _refused(exc)
    except StaleExtractionError as exc:
        return _stale(exc)
    flags = store.extraction_flags(project, body.study, caller.reviewer)
    return JSONResponse(
        {
            "tokens": tokens,
            "submitted": body.submit,
            "complete": complete,
            "flags": [f.to_dict() for f in flags],
        }
    )


@router.post("/check")
def check(request: Request, project: str, body: CheckIn) -> dict:
    """What each value as typed reads as, the form's message, and the integrity findings
    (nothing saved; only your own rows enter)."""
    caller = _extractor(request, project)
    check_csrf(request, caller.session, None)
    _study(request, project, body.study)
    form = _form(request, project)
    typed = {k: "" if v is None else str(v) for k, v in body.values.items() if k in form.names}
    flags = store_of(request).extraction_flags(project, body.study, caller.reviewer, typed=typed)
    return {"fields": _readings(form, body.study, typed), "flags": _flags_by_field(flags, form)}


@router.get("/reconciliation", responses={409: {"description": "not complete: blinded"}})
def get_reconciliation(
    request: Request, project: str, study: str = Query(max_length=200)
) -> list[dict[str, Any]]:
    """The two extractions of a complete study side by side, one row per field."""
    require_member(request, project, MEMBERS)
    _study(request, project, study)
    rows = store_of(request).reconciliation(project, study)
    return rows.to_dict(orient="records")


@router.post(
    "/reconciliation",
    responses={
        409: {"description": "the field changed since your token, or the study is incomplete"},
        422: {"description": "a value the form refuses, or no reason"},
    },
)
def reconcile(request: Request, project: str, body: ReconcileIn) -> Response:
    """Record the agreed value of a field, with your name and the reason."""
    caller = _extractor(request, project)
    check_csrf(request, caller.session, None)
    _study(request, project, body.study)
    try:
        store_of(request).reconcile_extraction(
            project,
            body.study,
            body.field,
            body.value,
            by=caller.reviewer,
            reason=body.reason,
            seen=body.token,
        )
    except FieldsError as exc:
        return _refused(exc)
    except StaleExtractionError as exc:
        return _stale(exc)
    return JSONResponse({"study": body.study, "field": body.field, "by": caller.reviewer})


@router.get("/kappa")
def kappa(request: Request, project: str) -> list[dict[str, Any]]:
    """Cohen's kappa per field and pair of extractors, over complete studies (NaN: None)."""
    require_member(request, project, MEMBERS)
    rows = store_of(request).extraction_kappa(project)
    return rows.astype(object).where(rows.notna(), None).to_dict(orient="records")
