"""The duplicate review queue: tier-2 candidate pairs waiting for a person's judgement.

A pair leaves the queue when it is merged (:meth:`Store.merge`, undone by
:meth:`Store.unmerge`) or judged *not duplicates* here; that judgement is kept (audited) and
can be withdrawn, which puts the pair back in the queue. A pair whose records are already in
an active duplicate group is not shown (unmerge the group to judge it again).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from metareview._validation import check_text
from metareview.exceptions import InputError
from metareview.review._core import StoreCore
from metareview.review.models import Base, Project, Record, utc_now

__all__ = ["DedupQueueMixin", "NotDuplicate"]


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


class DedupQueueMixin(StoreCore):
    """Duplicate-queue methods of :class:`~metareview.review.Store`."""

    def duplicate_queue(self, project: str) -> list[dict[str, Any]]:
        """Tier-2 pairs still to judge, strongest first: ``id_a``, ``id_b``, ``score``,
        ``reasons``. Pairs judged not duplicates, or touching a record already in an active
        duplicate group, are left out."""
        frame = self.records(project)
        grouped = set(frame.loc[frame["duplicate_group"].notna(), "id"])
        judged = {(a, b) for a, b, _ in self._not_duplicates(project)}
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
                record = s.get(Record, rid)
                if record is None or record.project_id != proj.id:
                    raise InputError(f"record {rid!r} is not in project {proj.name!r}.")
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
