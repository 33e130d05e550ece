"""A project's dashboard (every member) and its owner's tools: members and invites,
screening keywords, unblinding, the audit log."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import Response

from metareview.exceptions import InputError
from metareview.review import ImportReport, Store
from metareview.review.queue import keyword_pattern
from metareview.review.screening import STAGES, check_stage
from metareview.web.auth import require_member
from metareview.web.routes._common import redirect, render, store_of

router = APIRouter(include_in_schema=False)
MEMBERS = ("owner", "reviewer", "viewer")
SCREENERS = ("owner", "reviewer")
AUDIT_ROWS = 20
MAX_UPLOAD_BYTES = 50 * 1024 * 1024  # per file; a large search export is a few MB


def prisma_state(store: Store, project: str) -> tuple[dict, bool]:
    """The PRISMA counts of the project: the store's final counts when every record has its
    outcome (``complete`` True), else the counts so far."""
    so_far = store.prisma_so_far(project)
    if any(so_far["open"].values()):
        return so_far, False
    try:
        return store.prisma_counts(project), True
    except InputError:  # pragma: no cover - open records are counted above
        return so_far, False


def prisma_figure_bytes(store: Store, project: str, suffix: str, dpi: int) -> bytes:
    """The PRISMA 2020 flow diagram as ``suffix`` (png, svg, pdf) bytes; 409 while records
    are open (the figure shows final counts only)."""
    counts, complete = prisma_state(store, project)
    if not complete:
        raise HTTPException(409, "the PRISMA figure is drawn once every record has its outcome.")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from metareview.plots import prisma

    figure = prisma(counts)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=suffix, dpi=dpi)
    plt.close(figure)
    return buffer.getvalue()


@router.get("/p/{project}")
def dashboard(request: Request, project: str) -> Response:
    caller = require_member(request, project, MEMBERS)
    store = store_of(request)
    stages = []
    for stage in STAGES:
        overview = store.stage_overview(project, stage)
        unblinded = store.unblinded(project, stage)
        agreement = None
        if unblinded:
            agreement = store.screening_agreement(project, stage)
        stages.append(
            {"stage": stage, "overview": overview, "unblinded": unblinded, "agreement": agreement}
        )
    counts, complete = prisma_state(store, project)
    audit = None
    if caller.role.role == "owner":
        log = store.audit_log(project)  # this project's entries only
        audit = log.tail(AUDIT_ROWS).iloc[::-1].to_dict(orient="records")
    return render(
        request,
        "dashboard.html",
        caller.session,
        project=project,
        caller=caller,
        stages=stages,
        counts=counts,
        complete=complete,
        audit=audit,
        keywords=store.keywords(project),
    )


@router.get("/p/{project}/prisma.png")
def prisma_png(request: Request, project: str) -> Response:
    require_member(request, project, MEMBERS)
    figure = prisma_figure_bytes(store_of(request), project, "png", dpi=110)
    return Response(figure, media_type="image/png")


@router.post("/p/{project}/keywords")
def set_keywords(
    request: Request,
    project: str,
    include: Annotated[str, Form()] = "",
    exclude: Annotated[str, Form()] = "",
) -> Response:
    caller = require_member(request, project, ("owner",))
    words = {}
    for kind, text in (("include", include), ("exclude", exclude)):
        words[kind] = [w.strip() for w in text.split(",") if w.strip()]
        for word in words[kind]:
            keyword_pattern(word)  # InputError (422) for a keyword without letters
    store_of(request).set_keywords(
        project, words["include"], words["exclude"], actor=caller.session.user.username
    )
    return redirect(f"/p/{project}")


@router.post("/p/{project}/unblind")
def unblind(
    request: Request,
    project: str,
    stage: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
) -> Response:
    caller = require_member(request, project, ("owner",))
    store_of(request).unblind(
        project, check_stage(stage), owner=caller.reviewer or "", reason=reason
    )
    return redirect(f"/p/{project}")


@router.get("/p/{project}/members")
def members(request: Request, project: str) -> Response:
    caller = require_member(request, project, ("owner",))
    return render(
        request,
        "members.html",
        caller.session,
        project=project,
        caller=caller,
        members=store_of(request).members(project),
        invite_link=None,
    )


@router.post("/p/{project}/invites")
def invite(
    request: Request,
    project: str,
    role: Annotated[str, Form()],
) -> Response:
    caller = require_member(request, project, ("owner",))
    store = store_of(request)
    token = store.create_invite(project, role, by=caller.session.user.username)
    link = str(request.base_url).rstrip("/") + f"/invite/{token}"
    return render(
        request,
        "members.html",
        caller.session,
        project=project,
        caller=caller,
        members=store.members(project),
        invite_link=link,
        invite_role=role,
    )


@router.post("/p/{project}/members/{username}/remove")
def remove_member(
    request: Request,
    project: str,
    username: str,
    reason: Annotated[str, Form()] = "",
) -> Response:
    caller = require_member(request, project, ("owner",))
    store_of(request).remove_member(
        project, username, by=caller.session.user.username, reason=reason
    )
    return redirect(f"/p/{project}/members")


def _sources(store: Store, project: str) -> list[dict]:
    records = store.records(project)
    grouped = records.groupby("source", sort=False)
    return [
        {
            "name": name,
            "records": len(group),
            "duplicates": int(group["duplicate_group"].notna().sum()),
        }
        for name, group in grouped
    ]


@router.get("/p/{project}/sources")
def sources(request: Request, project: str) -> Response:
    caller = require_member(request, project, MEMBERS)
    return render(
        request,
        "sources.html",
        caller.session,
        project=project,
        caller=caller,
        sources=_sources(store_of(request), project),
        reports=[],
        failures=[],
    )


@router.post("/p/{project}/import")
def import_files(
    request: Request,
    project: str,
    files: Annotated[list[UploadFile], File()],
    database: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "database",
) -> Response:
    """Import search exports (any format the importers read, detected from the content);
    each file is its own transaction, so a refused file leaves the others imported."""
    caller = require_member(request, project, ("owner",))
    store = store_of(request)
    reports, failures = [], []
    for upload in files:
        name = Path(upload.filename or "upload").name or "upload"
        data = upload.file.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            raise HTTPException(
                413,
                f"{name}: larger than {MAX_UPLOAD_BYTES // 2**20} MB; "
                "nothing from it was imported.",
            )
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / name
            path.write_bytes(data)
            try:
                reports.append(
                    store.import_file(
                        project,
                        path,
                        database.strip() or None,
                        kind=kind,
                        actor=caller.session.user.username,
                    )
                )
            except InputError as exc:
                failures.append(str(exc).replace(str(path), name))
    return render(
        request,
        "sources.html",
        caller.session,
        status=422 if failures else 200,
        project=project,
        caller=caller,
        sources=_sources(store, project),
        reports=[_report(r) for r in reports],
        failures=failures,
    )


def _report(report: ImportReport) -> dict:
    name = Path(report.file).name
    return {
        "file": name,
        "format": report.format,
        "n_imported": report.n_imported,
        "already_imported": report.already_imported,
        "problems": [
            {"line": p.line, "message": p.message.replace(report.file, name)}
            for p in report.problems
        ],
    }
