"""The owner's downloads: the project backup archive, the PRISMA 2020 figure and CSV, and the
export's views for people and reference managers (records and decisions as CSV, the records
as RIS with every decision in N1 notes, the extraction values as CSV).

Owners only: these files hold every reviewer's votes, unblinded; a reviewer or viewer gets
403, a non-member 404, an anonymous caller the login page. Each is the store's own output
(:meth:`~metareview.review.Store.export_archive`, ``export_project``, ``prisma_csv``,
:func:`metareview.plots.prisma`), so a download equals what the CLI writes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from metareview.exceptions import InputError
from metareview.web.auth import require_member
from metareview.web.routes._common import render, store_of
from metareview.web.routes.project import prisma_figure_bytes, prisma_state

router = APIRouter(include_in_schema=False)
OWNERS = ("owner",)
#: The views of ``Store.export_project`` offered one by one: file name -> media type.
VIEWS = {
    "records.csv": "text/csv; charset=utf-8",
    "decisions.csv": "text/csv; charset=utf-8",
    "extraction.csv": "text/csv; charset=utf-8",
    "records.ris": "application/x-research-info-systems; charset=utf-8",
}
FIGURE_TYPES = {"svg": "image/svg+xml", "png": "image/png", "pdf": "application/pdf"}


def _attachment(content: bytes, media_type: str, filename: str) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/p/{project}/exports")
def exports_page(request: Request, project: str) -> Response:
    """The list of downloads, with the PRISMA ones marked unavailable while records are open."""
    caller = require_member(request, project, OWNERS)
    _counts, complete = prisma_state(store_of(request), project)
    return render(
        request,
        "exports.html",
        caller.session,
        project=project,
        caller=caller,
        views=list(VIEWS),
        complete=complete,
    )


@router.get("/p/{project}/exports/backup.zip")
def backup_archive(request: Request, project: str) -> Response:
    """Everything of the project in one zip that ``restore_project`` reads back."""
    require_member(request, project, OWNERS)
    return _attachment(
        store_of(request).export_archive(project), "application/zip", f"{project}-backup.zip"
    )


@router.get("/p/{project}/exports/{name}")
def view(request: Request, project: str, name: str) -> Response:
    """One view of the export: records.csv, decisions.csv, extraction.csv, records.ris."""
    require_member(request, project, OWNERS)
    if name not in VIEWS:
        raise HTTPException(404, f"no export named {name!r}; there are {sorted(VIEWS)}.")
    with tempfile.TemporaryDirectory() as folder:
        store_of(request).export_project(project, folder)
        content = (Path(folder) / name).read_bytes()
    return _attachment(content, VIEWS[name], f"{project}-{name}")


@router.get("/p/{project}/exports/prisma/prisma2020.csv")
def prisma_csv(request: Request, project: str) -> Response:
    """The PRISMA counts in the PRISMA2020 R package's CSV layout (409 while open)."""
    require_member(request, project, OWNERS)
    with tempfile.TemporaryDirectory() as folder:
        try:
            path = store_of(request).prisma_csv(project, Path(folder) / "prisma.csv")
        except InputError as exc:
            raise HTTPException(409, str(exc)) from exc
        content = path.read_bytes()
    return _attachment(content, "text/csv; charset=utf-8", f"{project}-prisma2020.csv")


@router.get("/p/{project}/exports/prisma/flow.{suffix}")
def prisma_figure(request: Request, project: str, suffix: str) -> Response:
    """The PRISMA 2020 flow diagram as SVG, PNG or PDF (409 while records are open)."""
    require_member(request, project, OWNERS)
    if suffix not in FIGURE_TYPES:
        raise HTTPException(404, f"the figure comes as {sorted(FIGURE_TYPES)}; not {suffix!r}.")
    figure = prisma_figure_bytes(store_of(request), project, suffix, dpi=150)
    return _attachment(figure, FIGURE_TYPES[suffix], f"{project}-prisma.{suffix}")
