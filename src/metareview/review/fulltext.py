"""Full-text PDFs of records: one per record, kept in the store, uploaded and read by members.

A PDF is kept for a record included at title/abstract (the records that go on to full text).
It is accepted when it is no larger than :data:`MAX_PDF_BYTES` and is a PDF by its first
bytes (``%PDF-``; the declared content type alone proves nothing), whatever the file's name.
It is kept in the store's own table (``fulltexts``), so that it is written in the same
transaction as its audit entry, copied by the project backup and restored with it. A new
upload for the same record replaces the old one; the audit entry keeps the old file's name,
size and SHA-256. Who may upload and read is the web app's business (owners and reviewers);
the store checks the record and the bytes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from metareview._validation import check_text
from metareview.exceptions import InputError
from metareview.review._core import StoreCore
from metareview.review.models import Base, Record, utc_now
from metareview.review.screening import outcomes

__all__ = ["MAX_PDF_BYTES", "FullText", "FullTextInfo", "FullTextMixin", "check_pdf"]

#: Largest PDF accepted (bytes): a long paper with figures is a few MB.
MAX_PDF_BYTES = 50 * 1024 * 1024
PDF_MAGIC = b"%PDF-"


class FullText(Base):
    """The full-text PDF of one record."""

    __tablename__ = "fulltexts"
    record_id: Mapped[str] = mapped_column(ForeignKey("records.id"), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(Text)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


@dataclass(frozen=True, slots=True)
class FullTextInfo:
    """What is known of a record's PDF without its bytes."""

    record_id: str
    filename: str
    size: int
    sha256: str
    uploaded_by: str
    time: datetime


def check_pdf(content: bytes, filename: str) -> str:
    """The file's name (path parts removed) when ``content`` is an acceptable PDF; else
    InputError naming the file and saying what is wrong.

    Examples
    --------
    >>> check_pdf(b"%PDF-1.7 ...", "C:\\\\papers\\\\smith 2004.pdf")
    'smith 2004.pdf'
    """
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip() or "fulltext.pdf"
    if len(content) > MAX_PDF_BYTES:
        raise InputError(
            f"{name}: {len(content) / 1e6:.1f} MB is more than the "
            f"{MAX_PDF_BYTES // (1024 * 1024)} MB a full text may have."
        )
    if not content.startswith(PDF_MAGIC):
        raise InputError(
            f"{name}: not a PDF (a PDF starts with %PDF-; this file starts with "
            f"{content[:8]!r}). Upload the article's PDF."
        )
    return name[:255]


class FullTextMixin(StoreCore):
    """Full-text methods of :class:`~metareview.review.Store` (see the module docstring)."""

    def attach_fulltext(
        self, project: str, record_id: str, content: bytes, filename: str, *, actor: str
    ) -> FullTextInfo:
        """Keep ``content`` as the full text of ``record_id`` (replacing any earlier one).

        Raises
        ------
        InputError
            A record outside the project or not included at title/abstract, a file over
            :data:`MAX_PDF_BYTES`, or bytes that are not a PDF.
        """
        check_text("actor", actor, purpose=" for the audit log")
        name = check_pdf(content, filename)
        digest = hashlib.sha256(content).hexdigest()
        with self.session() as s:
            proj = self._project(s, project, lock="share")
            record = s.scalar(select(Record).where(Record.id == record_id).with_for_update())
            if record is None or record.project_id != proj.id:
                raise InputError(f"record {record_id!r} is not in project {proj.name!r}.")
            if outcomes(s, proj, "title_abstract", [record_id]).get(record_id) != "include":
                raise InputError(
                    f"record {record_id}: a full text is kept for records included at "
                    "title/abstract (this one is not, or not yet)."
                )
            row = s.get(FullText, record_id)
            old = None if row is None else _described(row)
            if row is None:
                row = FullText(record_id=record_id, project_id=proj.id)
                s.add(row)
            row.filename, row.size, row.sha256, row.content = name, len(content), digest, content
            row.uploaded_by, row.time = actor, utc_now()
            s.flush()
            self._audit(s, actor, "fulltext", record_id, old, _described(row), "full text")
            return _info(row)

    def fulltext_info(self, project: str, record_id: str) -> FullTextInfo | None:
        """The record's PDF (without its bytes), or None when none was uploaded."""
        with self.session() as s:
            proj = self._project(s, project)
            row = s.get(FullText, record_id)
            return None if row is None or row.project_id != proj.id else _info(row)

    def fulltext(self, project: str, record_id: str) -> tuple[FullTextInfo, bytes]:
        """The record's PDF and its bytes; InputError when there is none."""
        with self.session() as s:
            proj = self._project(s, project)
            row = s.get(FullText, record_id)
            if row is None or row.project_id != proj.id:
                raise InputError(f"record {record_id!r} has no full text in {proj.name!r}.")
            return _info(row), row.content


def _described(row: FullText) -> dict[str, object]:
    return {"filename": row.filename, "size": row.size, "sha256": row.sha256}


def _info(row: FullText) -> FullTextInfo:
    return FullTextInfo(
        record_id=row.record_id,
        filename=row.filename,
        size=row.size,
        sha256=row.sha256,
        uploaded_by=row.uploaded_by,
        time=row.time,
    )
