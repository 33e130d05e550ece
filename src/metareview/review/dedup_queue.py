"""The duplicate review queue: tier-2 candidate pairs waiting for a person's judgement; and
related reports (errata, retractions, comments, conference abstracts) linked to their article.

A pair leaves the queue when it is merged (:meth:`Store.merge`, undone by
:meth:`Store.unmerge`) or judged *not duplicates* here; that judgement is kept (audited) and
can be withdrawn, which puts the pair back in the queue. A pair whose records are already in
an active duplicate group, or are linked as a report and its article, is not shown (unmerge
the group, or unlink the report, to judge it again).

A related report is another report about an article, not a duplicate of it: PRISMA counts
reports and studies separately, so it is linked (:meth:`DedupQueueMixin.link_related_reports`
links those :func:`~metareview.review.dedup.find_duplicates` finds, :meth:`link_report` one a
person names), never merged; every link is audited and can be undone (:meth:`unlink_report`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from metareview._validation import check_text
from metareview.exceptions import InputError
from metareview.review._core import StoreCore, project_record
from metareview.review.models import Base, Project, utc_now

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["DedupQueueMixin", "NotDuplicate", "RelatedReport", "RelatedReportsMixin"]


class NotDuplicate(Base):
    """A person's judgement that two records are different studies (``active`` until
    withdrawn)."""

    __tablename__ = "not_duplicates"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    record_a: Mapped[str] = mapped_column(String(64), ForeignKey("records.id"))
    record_b: Mapped[str] = mapped_column(String(64), ForeignKey("records.id"))
    reason: Mapped[str] = mapped_column(Text)
    judged_by: Mapped[str] = mapped_column(Text)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class RelatedReport(Base):
    """A report (erratum, retraction, comment, conference abstract) linked to the article it
    is about; ``active`` until unlinked."""

    __tablename__ = "related_reports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    report_id: Mapped[str] = mapped_column(String(64), ForeignKey("records.id"))
    article_id: Mapped[str] = mapped_column(String(64), ForeignKey("records.id"))
    kind: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


# -- related reports ----------------------------------------------------------------------------
RELATED_COLUMNS = ["link_id", "report_id", "article_id", "kind", "reason", "created_by", "active"]


class RelatedReportsMixin(StoreCore):
    """Related-report methods of :class:`~metareview.review.Store` (see the module docstring)."""

    def related_reports(self, project: str) -> pd.DataFrame:
        """Links of ``project``, oldest first, with columns ``link_id``, ``report_id``,
        ``article_id``, ``kind``, ``reason``, ``created_by`` and ``active`` (bool)."""
        import pandas as pd

        with self.session() as s:
            proj = self._project(s, project)
            rows = [
                (r.id, r.report_id, r.article_id, r.kind, r.reason, r.created_by, r.active)
                for r in s.scalars(
                    select(RelatedReport)
                    .where(RelatedReport.project_id == proj.id)
                    .order_by(RelatedReport.id)
                )
            ]
        frame = pd.DataFrame(rows, columns=RELATED_COLUMNS)
        frame["active"] = frame["active"].astype(bool)
        return frame

    def link_report(
        self,
        project: str,
        report_id: str,
        article_id: str,
        *,
        kind: str,
        actor: str,
        reason: str,
    ) -> int:
        """Link ``report_id`` to the article ``article_id`` as a report of ``kind`` (one of
        ``"erratum"``, ``"retraction"``, ``"comment"``, ``"conference abstract"``); audited.
        Returns the link id.

        Raises
        ------
        InputError
            Unknown kind or record, the same record twice, or a link that exists already.
        """
        from metareview.review.dedup import RELATED_KINDS  # with numpy: imported when used

        check_text("reason", reason, purpose=" for the audit log")
        check_text("actor", actor, purpose=" for the audit log")
        if kind not in RELATED_KINDS:
            raise InputError(f"kind must be one of {list(RELATED_KINDS)}; got {kind!r}.")
        with self.session() as s:
            proj = self._project(s, project, lock=True)
            return _link(s, self, proj, report_id, article_id, kind, actor, reason)

    def link_related_reports(self, project: str, *, actor: str) -> list[int]:
        """Link every related report that :meth:`find_duplicates` finds in ``project`` to its
        article, unless that pair is linked already; returns the new link ids (audited)."""
        check_text("actor", actor, purpose=" for the audit log")
        found = self.find_duplicates(project).related  # type: ignore[attr-defined]
        created: list[int] = []
        with self.session() as s:
            proj = self._project(s, project, lock=True)
            linked = _linked_pairs(s, proj)
            for r in found:
                if tuple(sorted((r.report_id, r.article_id))) in linked:
                    continue
                why = f"found by find_duplicates: {'; '.join(r.reasons)}"
                created.append(_link(s, self, proj, r.report_id, r.article_id, r.kind, actor, why))
                linked.add(tuple(sorted((r.report_id, r.article_id))))
        return created

    def unlink_report(self, project: str, link_id: int, *, actor: str, reason: str) -> None:
        """Undo the link ``link_id``: the two records are no longer report and article."""
        check_text("reason", reason, purpose=" for the audit log")
        check_text("actor", actor, purpose=" for the audit log")
        with self.session() as s:
            proj = self._project(s, project, lock=True)
            row = s.get(RelatedReport, link_id)
            if row is None or row.project_id != proj.id or not row.active:
                state = "not an active link" if row is not None else "not found"
                raise InputError(f"link_id {link_id} is {state} in project {proj.name!r}.")
            row.active = False
            self._audit(
                s, actor, "related_report", str(row.id), {"active": True}, {"active": False}, reason
            )


def _linked_pairs(s: Session, proj: Project) -> set[tuple[str, str]]:
    return {
        tuple(sorted(pair))
        for pair in s.execute(
            select(RelatedReport.report_id, RelatedReport.article_id).where(
                RelatedReport.project_id == proj.id, RelatedReport.active.is_(True)
            )
        ).all()
    }


def _link(
    s: Session,
    core: StoreCore,
    proj: Project,
    report_id: str,
    article_id: str,
    kind: str,
    actor: str,
    reason: str,
) -> int:
    if report_id == article_id:
        raise InputError("report_id and article_id must be two different records.")
    for rid in (report_id, article_id):
        project_record(s, proj, rid)
    if tuple(sorted((report_id, article_id))) in _linked_pairs(s, proj):
        raise InputError(f"records {report_id} and {article_id} are linked already.")
    row = RelatedReport(
        project_id=proj.id,
        report_id=report_id,
        article_id=article_id,
        kind=kind,
        reason=reason,
        created_by=actor,
        active=True,
    )
    s.add(row)
    s.flush()
    core._audit(
        s,
        actor,
        "related_report",
        str(row.id),
        None,
        {"report": report_id, "article": article_id, "kind": kind, "active": True},
        reason,
    )
    return row.id


class DedupQueueMixin(RelatedReportsMixin):
    """Duplicate-queue and related-report methods of :class:`~metareview.review.Store`."""

    def duplicate_queue(self, project: str) -> list[dict[str, Any]]:
        """Tier-2 pairs still to judge, strongest first: ``id_a``, ``id_b``, ``score``,
        ``reasons``. Pairs judged not duplicates, or touching a record already in an active
        duplicate group, are left out."""
        frame = self.records(project)
        grouped = set(frame.loc[frame["duplicate_group"].notna(), "id"])
        judged = {(a, b) for a, b, _ in self._not_duplicates(project)}
        links = self.related_reports(project)
        links = links[links["active"]]
        judged |= {
            tuple(sorted(p)) for p in zip(links["report_id"], links["article_id"], strict=True)
        }
        pairs = [
            p
            for p in self.find_duplicates(project).tier2
            if (p.id_a, p.id_b) not in judged and not {p.id_a, p.id_b} & grouped
        ]
        pairs.sort(key=lambda p: -p.score)
        return [
            {"id_a": p.id_a, "id_b": p.id_b, "score": p.score, "reasons": list(p.reasons)}
            for p in pairs
        ]

    def not_duplicates(
        self, project: str, record_a: str, record_b: str, *, actor: str, reason: str
    ) -> None:
        """Judge ``record_a`` and ``record_b`` different studies (audited)."""
        check_text("reason", reason, purpose=" for the audit log")
        a, b = sorted((record_a, record_b))
        with self.session() as s:
            proj = self._project(s, project, lock=True)
            for rid in (a, b):
                project_record(s, proj, rid)
            if a == b:
                raise InputError("record_a and record_b must be two different records.")
            if _active(s, proj, a, b) is not None:
                raise InputError(f"records {a} and {b} are already judged not duplicates.")
            row = NotDuplicate(
                project_id=proj.id,
                record_a=a,
                record_b=b,
                reason=reason,
                judged_by=actor,
                active=True,
            )
            s.add(row)
            s.flush()
            self._audit(
                s,
                actor,
                "not_duplicate",
                str(row.id),
                None,
                {"records": [a, b], "active": True},
                reason,
            )

    def withdraw_not_duplicates(
        self, project: str, record_a: str, record_b: str, *, actor: str, reason: str
    ) -> None:
        """Withdraw a *not duplicates* judgement: the pair returns to the queue (audited)."""
        check_text("reason", reason, purpose=" for the audit log")
        a, b = sorted((record_a, record_b))
        with self.session() as s:
            proj = self._project(s, project, lock=True)
            row = _active(s, proj, a, b)
            if row is None:
                raise InputError(f"records {a} and {b} are not judged not duplicates.")
            row.active = False
            self._audit(
                s, actor, "not_duplicate", str(row.id), {"active": True}, {"active": False}, reason
            )

    def _not_duplicates(self, project: str) -> list[tuple[str, str, str]]:
        with self.session() as s:
            proj = self._project(s, project)
            return [
                tuple(r)
                for r in s.execute(
                    select(NotDuplicate.record_a, NotDuplicate.record_b, NotDuplicate.judged_by)
                    .where(NotDuplicate.project_id == proj.id, NotDuplicate.active.is_(True))
                    .order_by(NotDuplicate.id.desc())
                ).all()
            ]

    def judged_not_duplicates(self, project: str) -> list[dict[str, str]]:
        """Active *not duplicates* judgements, latest first: ``record_a``, ``record_b``,
        ``judged_by``."""
        return [
            {"record_a": a, "record_b": b, "judged_by": by}
            for a, b, by in self._not_duplicates(project)
        ]


def _active(s: Session, proj: Project, a: str, b: str) -> NotDuplicate | None:
    return s.scalar(
        select(NotDuplicate).where(
            NotDuplicate.project_id == proj.id,
            NotDuplicate.record_a == a,
            NotDuplicate.record_b == b,
            NotDuplicate.active.is_(True),
        )
    )
