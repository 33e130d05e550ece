"""The owner's report and studies table: ``metareview report``'s HTML built from the store's
agreed extraction table, and that table as CSV.

The report is :func:`metareview.report.build.build_store_report` -- the CLI's report code,
fed with the project's protocol (:func:`~metareview.web.routes.analysis.protocol_source`),
the agreed table of the studies whose extraction is complete
(:meth:`~metareview.review.Store.agreed_studies_table`), the store's PRISMA 2020 counts and
the methods sentence of a screening stopped by a rule
(:meth:`~metareview.review.Store.screening_stops`). Owners only, like the other exports.

The report page stands alone (figures embedded, its own inline style), so it is sent with a
Content-Security-Policy of its own that allows that style and ``data:`` images and nothing
else: no script of any origin runs in it, whatever a study label holds.
"""

from __future__ import annotations

import tempfile

from fastapi import APIRouter, Request
from fastapi.responses import Response

from metareview.exceptions import InputError
from metareview.web.auth import require_member
from metareview.web.routes._common import store_of
from metareview.web.routes.analysis import agreed_protocol, agreed_table

router = APIRouter(include_in_schema=False)
OWNERS = ("owner",)
#: the report's policy: its inline style and embedded images, nothing else
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


@router.get("/p/{project}/report")
def report_page(request: Request, project: str, download: bool = False) -> Response:
    """``metareview report`` of the agreed extraction table (409 while no study is complete;
    ``?download=1``: as an attachment)."""
    require_member(request, project, OWNERS)
    import matplotlib

    matplotlib.use("Agg")
    from metareview.report.build import StoreFacts, build_store_report
    from metareview.report.live import DRAWING

    store = store_of(request)
    protocol, _figures, pending = agreed_protocol(request, project)
    try:
        counts, missing = store.prisma_counts(project), None
    except InputError as exc:  # records still open: the report says why there is no flow
        counts, missing = None, str(exc)
    facts = StoreFacts(
        project=project,
        pending=tuple(pending),
        prisma_counts=counts,
        prisma_missing=missing,
        screening=tuple(stop.methods_text() for stop in store.screening_stops(project)),
    )
    with tempfile.TemporaryDirectory(prefix="metareview-report-") as folder, DRAWING:
        output = build_store_report(protocol, folder, facts=facts)
        html = output.html.read_bytes()
    headers = {"Content-Security-Policy": REPORT_CSP}
    if download:
        headers["Content-Disposition"] = f'attachment; filename="{_safe(project)}-report.html"'
    return Response(html, media_type="text/html; charset=utf-8", headers=headers)


@router.get("/p/{project}/report/studies.csv")
def studies_csv(request: Request, project: str) -> Response:
    """The agreed extraction table (one row per study whose extraction is complete) as
    CSV, the table the report and the analysis page pool."""
    require_member(request, project, OWNERS)
    table, _pending = agreed_table(request, project)
    return Response(
        table.to_csv(index=False).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{_safe(project)}-studies.csv"'},
    )


def _safe(project: str) -> str:
    """The project name as a file name in a header (letters, digits, ``-_.``)."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in project)
