"""Extraction pages: the studies and their extraction status, one reviewer's extraction form
(rendered from the project's ``[extraction]`` form, cells read as typed and integrity
findings beside each field, live through ``static/extraction.js`` and on every save), the
reconciliation of a complete study, the per-field kappa, and the owner's form upload.

The rules are the store's (:mod:`metareview.review.extraction_dual`): blinding (a reviewer
sees only their own values until both extractors have submitted), two extractors per study,
values frozen once complete, compare-and-set saves. This module maps the store's refusals to
HTTP: a value the form refuses is 422 with the message next to its field, a value stored
meanwhile by another session (or a reconciliation of a field changed since) 409, an
incomplete study's reconciliation 409.
"""

from __future__ import annotations

import tomllib
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import JSONResponse, Response

from metareview.exceptions import FieldsError, InputError, StaleExtractionError, StoreError
from metareview.review.extraction_checks import as_text
from metareview.review.extraction_form import ExtractionForm
from metareview.web.auth import Caller, check_csrf, require_member
from metareview.web.routes._common import redirect, render, store_of

router = APIRouter(include_in_schema=False)
MEMBERS = ("owner", "reviewer", "viewer")
EXTRACTORS = ("owner", "reviewer")
MAX_FORM_CHARS = 100_000


def _extractor(request: Request, project: str) -> Caller:
    """An owner or reviewer with a reviewer name (the name their values are saved under)."""
    caller = require_member(request, project, EXTRACTORS)
    if caller.reviewer is None:
        raise HTTPException(
            403, f"you have no reviewer name in {project!r}, so you cannot extract; ask an owner."
        )
    return caller


def _form(request: Request, project: str) -> ExtractionForm:
    try:
        return store_of(request).extraction_form(project)
    except InputError as exc:
        raise HTTPException(409, str(exc)) from exc


def _study(request: Request, project: str, study: str) -> None:
    """404 for a study label the project does not have."""
    if study not in set(store_of(request).studies(project)["study"]):
        raise HTTPException(404, f"study {study!r} is not in project {project!r}.")


def _flags_by_field(flags: list[Any], form: ExtractionForm) -> dict[str, list[dict[str, str]]]:
    """Integrity findings keyed by the field they sit next to (a pair's first field)."""
    out: dict[str, list[dict[str, str]]] = {}
    for flag in flags:
        name = flag.column.split(" + ")[0]
        if name in form.names:
            out.setdefault(name, []).append(flag.to_dict())
    return out


def _readings(form: ExtractionForm, study: str, typed: dict[str, str]) -> dict[str, dict]:
    """Per field: the cell's reading, the converted value, or the form's message."""
    out = {}
    for spec in form.fields:
        raw = typed.get(spec.name, "")
        entry: dict[str, Any] = {"reading": None, "error": None}
        try:
            _value, cell = spec.read(study, raw)
            if cell is not None and raw.strip():
                entry["reading"] = cell.describe()
        except InputError as exc:
            entry["error"] = str(exc)
        out[spec.name] = entry
    return out


def _index(
    request: Request,
    caller: Caller,
    project: str,
    status: int = 200,
    study_error: str | None = None,
    typed_label: str = "",
) -> Response:
    store = store_of(request)
    try:
        form = store.extraction_form(project)
    except InputError:
        form = None
    studies = store.extraction_status(project, caller.reviewer).to_dict(orient="records")
    kappa = store.extraction_kappa(project).to_dict(orient="records") if form else []
    reports = []
    if caller.role.role == "owner":
        reports = store.unassigned_reports(project).to_dict(orient="records")
    return render(
        request,
        "extraction_index.html",
        caller.session,
        status=status,
        project=project,
        caller=caller,
        form=form,
        studies=studies,
        kappa=kappa,
        reports=reports,
        study_error=study_error,
        typed_label=typed_label,
    )


@router.get("/p/{project}/extraction")
def extraction_index(request: Request, project: str) -> Response:
    caller = require_member(request, project, MEMBERS)
    return _index(request, caller, project)


@router.post("/p/{project}/extraction/studies")
async def add_study(request: Request, project: str) -> Response:
    """An owner groups included reports into a new study; a colliding label is 409."""
    caller = require_member(request, project, ("owner",))
    data = await request.form()
    check_csrf(request, caller.session, str(data.get("csrf_token", "")))
    label = " ".join(str(data.get("label", "")).split())
    records = [str(r) for r in data.getlist("record")]
    try:
        store_of(request).assign_study(
            project, label, records, actor=caller.reviewer or caller.session.user.username, new=True
        )
    except StoreError as exc:
        return _index(request, caller, project, 409, str(exc), label)
    except InputError as exc:
        return _index(request, caller, project, 422, str(exc), label)
    return redirect(f"/p/{project}/extraction")


@router.post("/p/{project}/extraction/form")
def set_form(
    request: Request,
    project: str,
    protocol: Annotated[str, Form()],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """An owner sets the extraction form from protocol TOML (its ``[extraction]`` section)."""
    caller = require_member(request, project, ("owner",))
    check_csrf(request, caller.session, csrf_token)
    if len(protocol) > MAX_FORM_CHARS:
        raise InputError(f"protocol: {len(protocol)} characters; at most {MAX_FORM_CHARS}.")
    try:
        data = tomllib.loads(protocol)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"protocol: not valid TOML ({exc}).") from exc
    if "extraction" not in data:
        raise InputError("protocol: has no [extraction] section (the extraction form).")
    store_of(request).set_extraction_form(
        project, data["extraction"], actor=caller.session.user.username, protocol=protocol
    )
    return redirect(f"/p/{project}/extraction")


def _sheet_context(
    request: Request,
    caller: Caller,
    project: str,
    study: str,
    *,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    seen: dict[str, str] | None = None,
) -> dict[str, Any]:
    store = store_of(request)
    form = _form(request, project)
    sheet = store.extraction_sheet(project, study, caller.reviewer)
    shown = typed if typed is not None else {k: as_text(v) for k, v in sheet.values.items()}
    flags = store.extraction_flags(project, study, caller.reviewer, typed=typed)
    readings = _readings(form, study, shown)
    for name, text in (errors or {}).items():
        if name in readings:
            readings[name]["error"] = text
    return {
        "project": project,
        "caller": caller,
        "study": study,
        "form": form,
        "sheet": sheet,
        "shown": shown,
        "tokens": seen if seen is not None else sheet.tokens,
        "readings": readings,
        "flags": _flags_by_field(flags, form),
        "message": message,
        "saved": request.query_params.get("saved"),
    }


@router.get("/p/{project}/extract")
def extract_page(request: Request, project: str, study: str) -> Response:
    caller = _extractor(request, project)
    _study(request, project, study)
    context = _sheet_context(request, caller, project, study)
    return render(request, "extraction_form.html", caller.session, **context)


@router.post("/p/{project}/extract")
async def extract_save(request: Request, project: str) -> Response:
    caller = _extractor(request, project)
    data = await request.form()
    check_csrf(request, caller.session, str(data.get("csrf_token", "")))
    study = str(data.get("study", ""))
    _study(request, project, study)
    form = _form(request, project)
    typed = {name: str(data.get(f"f.{name}", "")) for name in form.names}
    seen = {name: str(data.get(f"seen.{name}", "")) for name in form.names}
    store = store_of(request)
    saved = False
    try:
        store.save_extraction(project, study, caller.reviewer, typed, seen=seen)
        saved = True
        if data.get("action") == "submit":
            store.submit_extraction(project, study, caller.reviewer)
    except FieldsError as exc:
        context = _sheet_context(
            request,
            caller,
            project,
            study,
            typed=typed,
            errors=exc.errors,
            message=(
                "Saved as a draft, not submitted: fill in the fields marked below."
                if saved
                else "Nothing was saved: correct the fields marked below."
            ),
            seen=None if saved else seen,  # after a save, the new versions
        )
        return render(request, "extraction_form.html", caller.session, status=422, **context)
    except StaleExtractionError as exc:
        context = _sheet_context(request, caller, project, study, message=str(exc))
        return render(request, "extraction_form.html", caller.session, status=409, **context)
    except StoreError as exc:
        context = _sheet_context(request, caller, project, study, typed=typed, message=str(exc))
        return render(request, "extraction_form.html", caller.session, status=409, **context)
    if data.get("action") == "submit":
        return redirect(f"/p/{project}/extraction")
    return redirect(f"/p/{project}/extract", study=study, saved=1)


@router.post("/p/{project}/extract/check")
async def extract_check(request: Request, project: str) -> Response:
    """The reading, the form's message and the integrity findings of values as typed
    (nothing saved): ``{"fields": {name: {"reading", "error"}}, "flags": {name: [...]}}``.
    Only the caller's own rows enter (blinding)."""
    caller = _extractor(request, project)
    check_csrf(request, caller.session, None)
    try:
        body = await request.json()
    except ValueError as exc:
        raise HTTPException(422, "the request body must be JSON.") from exc
    if not isinstance(body, dict) or not isinstance(body.get("values"), dict):
        raise HTTPException(422, 'the body must be {"study": ..., "values": {field: text}}.')
    study = str(body.get("study", ""))
    _study(request, project, study)
    form = _form(request, project)
    typed = {str(k): str(v) for k, v in body["values"].items() if k in form.names}
    flags = store_of(request).extraction_flags(project, study, caller.reviewer, typed=typed)
    return JSONResponse(
        {"fields": _readings(form, study, typed), "flags": _flags_by_field(flags, form)}
    )


@router.get("/p/{project}/reconcile")
def reconcile_page(request: Request, project: str, study: str) -> Response:
    caller = require_member(request, project, MEMBERS)
    _study(request, project, study)
    return _reconcile_render(request, caller, project, study)


def _reconcile_render(
    request: Request,
    caller: Caller,
    project: str,
    study: str,
    status: int = 200,
    message: str | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    store = store_of(request)
    form = _form(request, project)
    rows = store.reconciliation(project, study).to_dict(orient="records")
    for row in rows:
        row["spec"] = form.field(row["field"])
        row["shown"] = {who: as_text(v) for who, v in row["values"].items()}
        row["error"] = (errors or {}).get(row["field"])
        history = store.extraction_history(project, study, row["field"])
        row["history"] = history.to_dict(orient="records") if len(history) > 1 else []
    reviewers = sorted(rows[0]["values"]) if rows and rows[0]["values"] else []
    return render(
        request,
        "extraction_reconcile.html",
        caller.session,
        status=status,
        project=project,
        caller=caller,
        study=study,
        rows=rows,
        reviewers=reviewers,
        message=message,
        as_text=as_text,
    )


@router.post("/p/{project}/reconcile")
def reconcile(
    request: Request,
    project: str,
    study: Annotated[str, Form()],
    field: Annotated[str, Form()],
    value: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    token: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    caller = _extractor(request, project)
    check_csrf(request, caller.session, csrf_token)
    _study(request, project, study)
    try:
        store_of(request).reconcile_extraction(
            project, study, field, value, by=caller.reviewer, reason=reason, seen=token
        )
    except FieldsError as exc:
        return _reconcile_render(request, caller, project, study, 422, str(exc), exc.errors)
    except InputError as exc:  # the reason, or a field not on the form
        return _reconcile_render(request, caller, project, study, 422, str(exc), {field: str(exc)})
    except StaleExtractionError as exc:
        return _reconcile_render(request, caller, project, study, 409, str(exc))
    return redirect(f"/p/{project}/reconcile", study=study)
