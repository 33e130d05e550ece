"""Allocation: who screens which record.

By default every reviewer may screen every record, and a record is complete once it has
``reviewers_per_record`` votes. An owner may instead *allocate* a stage: each record still
waiting for votes is given to ``reviewers_per_record`` of the chosen reviewers, spreading the
work evenly (the reviewer with the fewest records so far gets the next one; records a
reviewer has already voted on stay theirs). A reviewer's queue then holds only their records.
When a reviewer leaves, :meth:`AllocationMixin.reassign` gives their records without a vote
from them to others; their votes, and the conflicts those votes are part of, stay.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from sqlalchemy import (
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    and_,
    bindparam,
    delete,
    exists,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from metareview.exceptions import InputError
from metareview.review._core import StoreCore
from metareview.review.models import Base, Project, Reviewer
from metareview.review.screening import check_stage, reviewer_row, stage_table, votes_frame

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Sequence

__all__ = ["AllocationMixin", "Assignment", "assigned_ids", "may_screen"]


class Assignment(Base):
    """One record given to one reviewer at one stage."""

    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("record_id", "stage", "reviewer_id", name="uq_assignment"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    record_id: Mapped[str] = mapped_column(ForeignKey("records.id"), index=True)
    stage: Mapped[str] = mapped_column(String(20))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id"), index=True)


class AllocationMixin(StoreCore):
    """Allocation methods of :class:`~metareview.review.Store` (see the module docstring)."""

    def allocate(
        self, project: str, stage: str, reviewers: Sequence[str], *, actor: str
    ) -> dict[str, int]:
        """Give each record waiting for votes at ``stage`` to ``reviewers_per_record`` of
        ``reviewers``, evenly; returns records per reviewer. Replaces an earlier allocation of
        the stage's open records (audited).

        Raises
        ------
        InputError
            Fewer reviewers than ``reviewers_per_record``, or an unknown or inactive one.
        """
        stage = check_stage(stage)
        names = list(dict.fromkeys(reviewers))
        with self.session() as s:
            proj = self._project(s, project, lock=True)
            people = [reviewer_row(s, proj, n) for n in names]
            inactive = [p.name for p in people if not p.active]
            if inactive:
                raise InputError(f"reviewers {inactive} were removed; choose active reviewers.")
            need = proj.reviewers_per_record
            if len(people) < need:
                raise InputError(
                    f"reviewers: each record needs {need} reviewers; got {len(people)} ({names})."
                )
            self._assign(s, proj, stage, people, need)
            load = _workload(s, proj, stage)
            self._audit(
                s,
                actor,
                "allocation",
                f"{proj.id}/{stage}",
                None,
                {"stage": stage, "reviewers": names, "records": load},
                "allocated",
            )
            return load

    def _assign(
        self, s: Session, proj: Project, stage: str, people: list[Reviewer], need: int
    ) -> None:
        table = stage_table(s, proj, stage)
        open_ = table.loc[table["status"] == "pending", "record_id"].tolist()
        votes = votes_frame(s, proj, stage)
        voted: dict[str, set[int]] = {}
        for rid, rev in zip(votes["record_id"], votes["reviewer_id"], strict=True):
            voted.setdefault(rid, set()).add(int(rev))
        s.execute(
            delete(Assignment).where(
                Assignment.project_id == proj.id,
                Assignment.stage == stage,
                Assignment.record_id.in_(open_),
            )
        )
        counts: Counter[int] = Counter({p.id: 0 for p in people})
        order = {p.id: i for i, p in enumerate(people)}
        for rid in open_:
            chosen = [r for r in voted.get(rid, set())]  # who voted keeps the record
            for person in sorted(counts, key=lambda i: (counts[i], order[i])):
                if len(chosen) >= need:
                    break
                if person not in chosen:
                    chosen.append(person)
            for person in chosen:
                s.add(
                    Assignment(project_id=proj.id, record_id=rid, stage=stage, reviewer_id=person)
                )
                if person in counts:
                    counts[person] += 1

    def reassign(self, project: str, stage: str, leaving: str, *, actor: str) -> dict[str, int]:
        """Give ``leaving``'s open records at ``stage`` (those without their vote) to the other
        allocated reviewers, evenly; their votes stay. Returns the new records per reviewer."""
        stage = check_stage(stage)
        with self.session() as s:
            proj = self._project(s, project, lock=True)
            person = reviewer_row(s, proj, leaving)
            rows = s.execute(
                select(Assignment.record_id, Assignment.reviewer_id).where(
                    Assignment.project_id == proj.id, Assignment.stage == stage
                )
            ).all()
            if not rows:
                raise InputError(f"{stage} of {proj.name!r} is not allocated; nothing to reassign.")
            others = sorted({r for _, r in rows} - {person.id})
            people = [s.get(Reviewer, r) for r in others]
            people = [p for p in people if p.active]
            if not people:
                raise InputError(f"no other active reviewer to take {leaving!r}'s records.")
            votes = votes_frame(s, proj, stage)
            theirs = set(votes.loc[votes["reviewer_id"] == person.id, "record_id"])
            table = stage_table(s, proj, stage)
            pending = set(table.loc[table["status"] == "pending", "record_id"])
            moving = [
                rid for rid, r in rows if r == person.id and rid in pending and rid not in theirs
            ]
            s.execute(
                delete(Assignment).where(
                    Assignment.project_id == proj.id,
                    Assignment.stage == stage,
                    Assignment.reviewer_id == person.id,
                    Assignment.record_id.in_(moving),
                )
            )
            load = Counter({p.id: 0 for p in people})
            for _rid, r in rows:
                if r in load:
                    load[r] += 1
            holders: dict[str, set[int]] = {}
            for rid, r in rows:
                holders.setdefault(rid, set()).add(r)
            for rid in moving:
                choice = min(
                    (p for p in load if p not in holders[rid]),
                    key=lambda p: (load[p], p),
                    default=None,
                )
                if choice is None:
                    continue  # every other reviewer has it already
                s.add(
                    Assignment(project_id=proj.id, record_id=rid, stage=stage, reviewer_id=choice)
                )
                load[choice] += 1
            s.flush()
            result = _workload(s, proj, stage)
            self._audit(
                s,
                actor,
                "allocation",
                f"{proj.id}/{stage}",
                None,
                {"stage": stage, "from": leaving, "records": len(moving)},
                "reassigned",
            )
            return result

    def assigned_records(self, project: str, stage: str, reviewer: str) -> set[str] | None:
        """The records given to ``reviewer`` at ``stage``, or None when the stage is not
        allocated (every reviewer may screen every record)."""
        stage = check_stage(stage)
        with self.session() as s:
            proj = self._project(s, project)
            return assigned_ids(s, proj, stage, reviewer_row(s, proj, reviewer).id)

    def reviewers_per_record(self, project: str) -> int:
        """Votes each record needs per stage (see :meth:`set_reviewers_per_record`)."""
        with self.session() as s:
            return self._project(s, project).reviewers_per_record

    def workload(self, project: str, stage: str) -> dict[str, dict[str, int]]:
        """Per reviewer at ``stage``: ``assigned`` records (0 for all when not allocated)
        and ``voted`` (votes cast)."""
        stage = check_stage(stage)
        with self.session() as s:
            proj = self._project(s, project)
            assigned = _workload(s, proj, stage)
            votes = votes_frame(s, proj, stage)
        voted = votes.groupby("reviewer").size().to_dict()
        names = list(dict.fromkeys([*assigned, *voted]))
        return {
            n: {"assigned": int(assigned.get(n, 0)), "voted": int(voted.get(n, 0))} for n in names
        }


def _workload(s: Session, proj: Project, stage: str) -> dict[str, int]:
    rows = s.execute(
        select(Reviewer.name, Assignment.record_id)
        .join(Assignment, Assignment.reviewer_id == Reviewer.id)
        .where(Assignment.project_id == proj.id, Assignment.stage == stage)
    ).all()
    return dict(Counter(name for name, _ in rows))


def may_screen(s: Session, proj: Project, stage: str, reviewer_id: int, record_id: str) -> bool:
    """Whether the reviewer may vote on the record at ``stage``: the stage is not allocated,
    or the record was given to them (one query: :func:`assigned_ids` of one record)."""
    allocated, given = s.execute(
        _MAY_SCREEN,
        {"project_id": proj.id, "stage": stage, "reviewer_id": reviewer_id, "record_id": record_id},
    ).one()
    return not allocated or given


def assigned_ids(s: Session, proj: Project, stage: str, reviewer_id: int) -> set[str] | None:
    """Records given to the reviewer at ``stage``; None when the stage is not allocated."""
    if (
        s.scalar(
            select(Assignment.id)
            .where(Assignment.project_id == proj.id, Assignment.stage == stage)
            .limit(1)
        )
        is None
    ):
        return None
    return set(
        s.scalars(
            select(Assignment.record_id).where(
                Assignment.project_id == proj.id,
                Assignment.stage == stage,
                Assignment.reviewer_id == reviewer_id,
            )
        )
    )


_AT_STAGE = and_(
    Assignment.project_id == bindparam("project_id"), Assignment.stage == bindparam("stage")
)
_MAY_SCREEN = select(
    exists().where(_AT_STAGE),
    exists().where(
        _AT_STAGE,
        Assignment.reviewer_id == bindparam("reviewer_id"),
        Assignment.record_id == bindparam("record_id"),
    ),
)
