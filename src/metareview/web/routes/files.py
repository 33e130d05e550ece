"""Full-text PDFs of records: owners and reviewers upload one per record included at
title/abstract, and read it in the browser. Viewers, who do not screen, get 403.

The upload must declare ``application/pdf``, be at most
:data:`~metareview.review.fulltext.MAX_PDF_BYTES` (413 otherwise, read no further than one
byte past the limit) and start with the PDF magic bytes (the store's rule, 422 otherwise).
The PDF is served with its own name, ``inline``, and the app's security headers; nothing in
the answer says anything about the votes on the record.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, HTTPException, Request, UploadFile
from fastapi.responses import Response

from metareview.exceptions import InputError
from metareview.review.fulltext import MAX_PDF_BYTES
from metareview.web.auth import require_member
from metareview.web.routes._common import redirect, store_of

router = APIRouter(include_in_schema=False)
SCREENERS = ("owner", "reviewer")
PDF_TYPES = ("application/pdf", "application/x-pdf")


@router.post("/p/{project}/records/{record_id}/fulltext")
def upload_fulltext(
    request: Request, project: str, record_id: str, file: Annotated[UploadFile, File()]
) -> Response:
    """Keep the uploaded PDF as the record's full text (replacing an earlier one); back to
    the full-text screen of the record."""
    caller = require_member(request, project, SCREENERS)
    name = file.filename or "fulltext.pdf"
    declared = (file.content_type or "").split(";")[0].strip().lower()
    if declared not in PDF_TYPES:
        raise HTTPException(
            415, f"{name}: sent as {declared or 'no type'}; a full text must be a PDF."
        )
    content = file.file.read(MAX_PDF_BYTES + 1)
    if len(content) > MAX_PDF_BYTES:
        raise HTTPException(
            413, f"{name}: larger than {MAX_PDF_BYTES // 2**20} MB; nothing was kept."
        )
    store_of(request).attach_fulltext(
        project, record_id, content, name, actor=caller.session.user.username
    )
    return redirect(f"/p/{project}/screen", stage="full_text", record=record_id)


@router.get("/p/{project}/records/{record_id}/fulltext")
def read_fulltext(request: Request, project: str, record_id: str) -> Response:
    """The record's PDF (404 when none was uploaded)."""
    require_member(request, project, SCREENERS)
    try:
        info, content = store_of(request).fulltext(project, record_id)
    except InputError as exc:
        raise HTTPException(404, str(exc)) from exc
    return Response(
        content,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(info.filename)}",
        },
    )
