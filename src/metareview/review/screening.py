"""Blinded dual screening: reviewers, votes, conflicts, resolutions and unblinding.

The rules (those of Cochrane Handbook ch. 4.6.4 and of Covidence/Rayyan's "blind mode"):

- Two stages, ``"title_abstract"`` then ``"full_text"``. A record reaches full text only when
  its title/abstract outcome is *include* and its full text has not been marked as not
  retrieved. The unit screened is a record that is not a secondary member of a duplicate
  group (the group's primary record stands for it).
- Each record needs ``reviewers_per_record`` votes (2 by default) at each stage: *include*,
  *exclude* or *maybe*; a full-text exclusion needs a reason (PRISMA's "reports excluded,
  with reasons").
- **Blinding**: a reviewer's query returns only their own votes, plus other reviewers' votes on
  records whose votes are complete, until a project owner unblinds the stage (logged).
- A complete record whose votes agree (same decision; at full text also the same reason) has
  that outcome; any other complete record is a *conflict*, settled by a third reviewer (who
  did not vote on it) or by consensus, with a reason. Every write is audited.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import EllipsisType
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import Select, bindparam, insert, select
from sqlalchemy.orm import Session

from metareview._validation import check_text
from metareview.exceptions import Argument, InputError, Method, StaleVoteError
from metareview.review._core import StoreCore, project_record, rows_frame
from metareview.review.models import (
    DuplicateGroup,
    DuplicateMember,
    Project,
    Record,
    Retrieval,
    Reviewer,
    ScreeningDecision,
    ScreeningResolution,
    SetAside,
    Unblinding,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "DECISIONS",
    "STAGES",
    "ConflictRow",
    "ReviewerRow",
    "ScreeningAgreement",
    "ScreeningMixin",
    "ScreeningQueue",
    "VoteRow",
]

STAGES = ("title_abstract", "full_text")
DECISIONS = ("include", "exclude", "maybe")
ROLES = ("reviewer", "owner")
RESOLUTION_METHODS = ("third_reviewer", "consensus")


class ReviewerRow(NamedTuple):
    """A reviewer of a project: a row of :meth:`ScreeningMixin.reviewers`."""

    name: str
    role: str
    active: bool


class VoteRow(NamedTuple):
    """A vote as a reviewer may see it: a row of :meth:`ScreeningMixin.decisions`."""

    record_id: str
    reviewer: str
    decision: str
    reason: str | None
    time: datetime


class ConflictRow(NamedTuple):
    """A complete record whose votes disagree: a row of :meth:`ScreeningMixin.conflicts`."""

    record_id: str
    title: str | None
    votes: dict[str, str]
    reasons: dict[str, str | None]


@dataclass(frozen=True, slots=True)
class ScreeningAgreement:
    """Agreement between reviewers at one screening stage.

    Attributes
    ----------
    stage : str
        ``"title_abstract"`` or ``"full_text"``.
    pairs : pandas.DataFrame
        One row per pair of reviewers who rated at least one record in common: ``reviewer_a``,
        ``reviewer_b``, ``n`` (records both rated), ``kappa``, ``se``, ``ci_lb``, ``ci_ub``,
        ``percent_agreement``, ``pabak`` (Cohen's kappa over those records; NaN when it is not
        defined, e.g. both always said the same single category).
    krippendorff_alpha : float
        Nominal alpha over all complete records, whatever the set of reviewers of each.
    n_records : int
        Complete records (all votes in) at the stage.
    percent_agreement : float
        Share of complete records whose votes all agree.
    """

    stage: str
    pairs: pd.DataFrame
    krippendorff_alpha: float
    n_records: int
    percent_agreement: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {
            "stage": self.stage,
            "pairs": self.pairs.to_dict(orient="records"),
            "krippendorff_alpha": self.krippendorff_alpha,
            "n_records": self.n_records,
            "percent_agreement": self.percent_agreement,
        }


@dataclass(frozen=True, slots=True)
class ScreeningQueue:
    """One reviewer's view of one screening stage, derived in one read of the store.

    A screener (the CLI's, the web app's) reads this once per decision instead of asking for
    the stage's outcomes, the reviewer's votes and the next record separately. It holds only
    what the reviewer may see: their own votes, never another reviewer's.

    Attributes
    ----------
    stage, reviewer : str
        The stage and the reviewer whose view this is.
    units : tuple of str
        The records screened at the stage, in screening (import) order.
    to_vote : tuple of str
        The records still needing votes on which the reviewer has not voted, in order.
    own : mapping of str to (str, str or None)
        The reviewer's votes at the stage: record id -> (decision, reason).

    Examples
    --------
    >>> q = ScreeningQueue("title_abstract", "Ana", ("r1", "r2", "r3"), ("r2", "r3"),
    ...                    {"r1": ("include", None)})
    >>> q.next(), q.next(skip={"r2"}), q.position("r3")
    ('r2', 'r3', 3)
    """

    stage: str
    reviewer: str
    units: tuple[str, ...]
    to_vote: tuple[str, ...]
    own: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)

    def next(self, skip: Collection[str] = ()) -> str | None:
        """The first record of ``to_vote`` not in ``skip``; None when there is none."""
        return next((rid for rid in self.to_vote if rid not in skip), None)

    def position(self, record_id: str) -> int:
        """1-based position of ``record_id`` among ``units`` (``len(units)`` if absent)."""
        try:
            return self.units.index(record_id) + 1
        except ValueError:
            return len(self.units)


def check_stage(stage: object) -> str:
    """``stage`` if it is a screening stage, else InputError naming the choices."""
    if stage not in STAGES:
        raise InputError(f"stage must be one of {list(STAGES)}; got {stage!r}.")
    return str(stage)


def check_vote(record_id: str, stage: object, decision: object, reason: str | None) -> str:
    """The stage of a vote whose ``decision`` is one of ``DECISIONS`` and which, as a
    full-text exclusion, has a reason; InputError naming the record otherwise."""
    stage = check_stage(stage)
    if decision not in DECISIONS:
        raise InputError(
            f"record {record_id}: decision must be one of {list(DECISIONS)}; got {decision!r}."
        )
    if stage == "full_text" and decision == "exclude" and not (reason and reason.strip()):
        raise InputError(
            f"record {record_id}: a full-text exclusion needs a reason "
            "(PRISMA reports exclusions with reasons)."
        )
    return stage


class ScreeningMixin(StoreCore):
    """Screening methods of :class:`~metareview.review.Store` (see the module docstring)."""

    # -- reviewers ------------------------------------------------------------------------
    def add_reviewer(
        self, project: str, name: str, role: str = "reviewer", *, actor: str = "metareview"
    ) -> None:
        """Add reviewer ``name`` (``role`` ``"reviewer"`` or ``"owner"``) to ``project``.

        Examples
        --------
        >>> from metareview.review import Store
        >>> store = Store.open("sqlite://"); _ = store.create_project("p")
        >>> store.add_reviewer("p", "Ana"); store.reviewers("p")["name"].tolist()
        ['Ana']
        """
        check_text("name", name, max_length=200)
        if role not in ROLES:
            raise InputError(f"role must be one of {list(ROLES)}; got {role!r}.")
        with self.session() as s:
            proj = self._project(s, project, lock=True)
            if (
                s.scalar(
                    select(Reviewer).where(Reviewer.project_id == proj.id, Reviewer.name == name)
                )
                is not None
            ):
                raise InputError(f"name: reviewer {name!r} is already in project {proj.name!r}.")
            reviewer = Reviewer(project_id=proj.id, name=name, role=role, active=True)
            s.add(reviewer)
            s.flush()
            self._audit(
                s,
                actor,
                "reviewer",
                str(reviewer.id),
                None,
                {"name": name, "role": role},
                "reviewer added",
            )

    def remove_reviewer(self, project: str, name: str, *, actor: str, reason: str) -> None:
        """Deactivate reviewer ``name``: no new votes; the votes already cast are kept."""
        with self.session() as s:
            proj = self._project(s, project, lock=True)
            reviewer = reviewer_row(s, proj, name)
            reviewer.active = False
            self._audit(
                s, actor, "reviewer", str(reviewer.id), {"active": True}, {"active": False}, reason
            )

    def reviewers(self, project: str) -> pd.DataFrame:
        """Reviewers of ``project``: ``name``, ``role``, ``active`` (the rows of
        :meth:`reviewer_rows`)."""
        return rows_frame(self.reviewer_rows(project), ReviewerRow)

    def reviewer_rows(self, project: str) -> list[ReviewerRow]:
        """Reviewers of ``project``, in the order they were added.

        Examples
        --------
        >>> from metareview.review import Store
        >>> store = Store.open("sqlite://"); _ = store.create_project("p")
        >>> store.add_reviewer("p", "Ana"); store.reviewer_rows("p")
        [ReviewerRow(name='Ana', role='reviewer', active=True)]
        """
        with self.session() as s:
            proj = self._project(s, project)
            return [
                ReviewerRow(*row)
                for row in s.execute(
                    select(Reviewer.name, Reviewer.role, Reviewer.active)
                    .where(Reviewer.project_id == proj.id)
                    .order_by(Reviewer.id)
                )
            ]

    def set_reviewers_per_record(self, project: str, n: int, *, actor: str) -> None:
        """Votes needed per record and stage before its outcome is known (default 2)."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise InputError(f"n must be a whole number >= 1; got {n!r}.")
        with self.session() as s:
            proj = self._project(s, project, lock=True)
            old = proj.reviewers_per_record
            proj.reviewers_per_record = n
            self._audit(
                s,
                actor,
                "project",
                str(proj.id),
                {"reviewers_per_record": old},
                {"reviewers_per_record": n},
                "screening rule changed",
            )

    # -- voting ---------------------------------------------------------------------------
    def decide(
        self,
        project: str,
        record_id: str,
        reviewer: str,
        decision: str,
        stage: str = "title_abstract",
        reason: str | None = None,
        *,
        expected_previous: str | EllipsisType | None = ...,
    ) -> None:
        """Record ``reviewer``'s vote on ``record_id`` at ``stage``; a second call revises it.

        Parameters
        ----------
        expected_previous : str or None, optional
            The reviewer's vote on the record as the caller last saw it: None for "no vote
            yet", or a decision. When given and the stored vote differs (the same reviewer
            voted meanwhile from another terminal or browser tab), nothing is written and
            :class:`~metareview.exceptions.StaleVoteError` says which vote is stored, so that
            a vote the caller never saw is not silently replaced. Left out, the vote is
            written whatever is stored (a deliberate revision).

        Raises
        ------
        InputError
            Unknown or inactive reviewer, a record outside the project or merged into another
            record, a decision not in ``DECISIONS``, a full-text exclusion without reason, a
            full-text vote on a record that did not pass title/abstract screening or whose
            full text was not retrieved, or a vote on a record already resolved.
        StaleVoteError
            ``expected_previous`` was given and is not the stored vote.
        """
        stage = check_vote(record_id, stage, decision, reason)
        with self.session() as s:
            proj = self._project(s, project, lock=True)
            person = reviewer_row(s, proj, reviewer)
            if not person.active:
                raise InputError(
                    f"reviewer {reviewer!r} was removed from {proj.name!r}; "
                    "their votes are kept but they cannot vote."
                )
            _check_unit(s, proj, record_id)
            if stage == "full_text":
                _check_reached_full_text(s, proj, record_id)
            if (
                s.scalar(
                    select(ScreeningResolution.id).where(
                        ScreeningResolution.record_id == record_id,
                        ScreeningResolution.stage == stage,
                    )
                )
                is not None
            ):
                raise InputError(
                    f"record {record_id}: already resolved at {stage}; votes can no longer change."
                )
            vote = s.scalar(
                select(ScreeningDecision).where(
                    ScreeningDecision.record_id == record_id,
                    ScreeningDecision.stage == stage,
                    ScreeningDecision.reviewer_id == person.id,
                )
            )
            stored = None if vote is None else vote.decision
            if expected_previous is not ... and expected_previous != stored:
                raise StaleVoteError(
                    record_id, stage, stored, None if vote is None else vote.reason
                )
            write_vote(s, proj, person, record_id, stage, decision, reason, vote)

    def decisions(self, project: str, reviewer: str, stage: str = "title_abstract") -> pd.DataFrame:
        """The votes ``reviewer`` may see at ``stage`` (blinded).

        Their own votes, plus other reviewers' votes on records whose votes are complete, or
        all votes once an owner has unblinded the stage. Columns ``record_id``, ``reviewer``,
        ``decision``, ``reason``, ``time`` (the rows of :meth:`decision_rows`).
        """
        return rows_frame(self.decision_rows(project, reviewer, stage), VoteRow)

    def decision_rows(
        self, project: str, reviewer: str | None, stage: str = "title_abstract"
    ) -> list[VoteRow]:
        """The votes ``reviewer`` may see at ``stage``, oldest first (see :meth:`decisions`);
        ``reviewer=None`` is a viewer who has no votes of their own."""
        stage = check_stage(stage)
        with self.session() as s:
            proj = self._project(s, project)
            name = None if reviewer is None else reviewer_row(s, proj, reviewer).name
            votes = vote_rows(s, proj, stage)
            if not _unblinded(s, proj, stage):
                complete = _complete(votes, proj.reviewers_per_record)
                votes = [v for v in votes if v[1] == name or v[0] in complete]
        return [
            VoteRow(rid, who, decision, reason, time)
            for rid, who, _, decision, reason, time in votes
        ]

    def unblind(self, project: str, stage: str, *, owner: str, reason: str) -> None:
        """Show every vote at ``stage`` to every reviewer; only an owner may, and it is logged."""
        stage = check_stage(stage)
        check_text("reason", reason, purpose=" for the audit log")
        with self.session() as s:
            proj = self._project(s, project, lock=True)
            person = owner_row(s, proj, owner, "unblind")
            row = Unblinding(project_id=proj.id, stage=stage, owner_id=person.id, reason=reason)
            s.add(row)
            s.flush()
            self._audit(s, owner, "unblinding", str(row.id), None, {"stage": stage}, reason)

    def screening_queue(
        self, project: str, reviewer: str, stage: str = "title_abstract"
    ) -> ScreeningQueue:
        """``reviewer``'s queue at ``stage`` (see :class:`ScreeningQueue`), in one read.

        Raises
        ------
        InputError
            Unknown stage or reviewer, or a reviewer removed from the project (their votes
            are kept but they cannot vote).

        Examples
        --------
        >>> from metareview.review import Store
        >>> store = Store.open("sqlite://"); _ = store.create_project("p")
        >>> store.add_reviewer("p", "Ana"); store.screening_queue("p", "Ana").to_vote
        ()
        """
        stage = check_stage(stage)
        with self.session() as s:
            proj = self._project(s, project)
            person = reviewer_row(s, proj, reviewer)
            if not person.active:
                raise InputError(
                    f"reviewer {reviewer!r} was removed from {proj.name!r}; "
                    "their votes are kept but they cannot vote."
                )
            rows, own = reviewer_stage(s, proj, person, stage)
        return ScreeningQueue(
            stage=stage,
            reviewer=reviewer,
            units=tuple(row[0] for row in rows),
            to_vote=tuple(row[0] for row in rows if row[2] == "pending" and row[0] not in own),
            own=own,
        )

    def exclusion_reasons(self, project: str, reviewer: str) -> list[str]:
        """The full-text exclusion reasons ``reviewer`` may see, first used first.

        Their own reasons and those on complete records (all, once full text is unblinded):
        a menu built from them never shows a reason another reviewer gave on a record still
        being screened.
        """
        seen = self.decision_rows(project, reviewer, "full_text")
        reasons = [v.reason.strip() for v in seen if isinstance(v.reason, str) and v.reason.strip()]
        return list(dict.fromkeys(reasons))

    def next_record(self, project: str, reviewer: str, stage: str = "title_abstract") -> str | None:
        """The next record (in import order) that ``reviewer`` has not voted on at ``stage``
        and that still needs votes; None when there is none."""
        stage = check_stage(stage)
        status = self.screening_status(project, stage)
        with self.session() as s:
            proj = self._project(s, project)
            person = reviewer_row(s, proj, reviewer)
            mine = set(
                s.scalars(
                    select(ScreeningDecision.record_id).where(
                        ScreeningDecision.project_id == proj.id,
                        ScreeningDecision.stage == stage,
                        ScreeningDecision.reviewer_id == person.id,
                    )
                )
            )
        open_ = status[(status["status"] == "pending") & ~status["record_id"].isin(mine)]
        return None if open_.empty else str(open_["record_id"].iloc[0])

    # -- outcomes -------------------------------------------------------------------------
    def screening_status(self, project: str, stage: str = "title_abstract") -> pd.DataFrame:
        """The outcome of every record that reached ``stage``.

        Columns ``record_id``, ``n_votes``, ``status`` (``"pending"`` -- votes missing;
        ``"agreed"``; ``"conflict"``; ``"resolved"``), ``decision`` (the outcome, or None
        while pending or in conflict) and ``reason`` (full-text exclusion reason). Records
        whose full text was not retrieved do not reach the full-text stage.
        """
        stage = check_stage(stage)
        with self.session() as s:
            return stage_table(s, self._project(s, project), stage)

    def conflicts(self, project: str, stage: str = "title_abstract") -> pd.DataFrame:
        """Complete records whose votes disagree and that are not resolved yet.

        Columns ``record_id``, ``title``, ``votes`` (``{reviewer: decision}``) and ``reasons``
        (``{reviewer: reason}``): the rows of :meth:`conflict_rows`.
        """
        return rows_frame(self.conflict_rows(project, stage), ConflictRow)

    def conflict_rows(self, project: str, stage: str = "title_abstract") -> list[ConflictRow]:
        """The open conflicts at ``stage``, in screening order (see :meth:`conflicts`)."""
        stage = check_stage(stage)
        with self.session() as s:
            proj = self._project(s, project)
            ids = [
                rid for rid, _n, status, *_ in stage_rows(s, proj, stage) if status == "conflict"
            ]
            votes: dict[str, list[tuple[str, str, str | None]]] = {rid: [] for rid in ids}
            for rid, who, _, decision, reason, _time in vote_rows(s, proj, stage):
                if rid in votes:
                    votes[rid].append((who, decision, reason))
            titles = (
                dict(s.execute(select(Record.id, Record.title).where(Record.id.in_(ids))).all())
                if ids
                else {}
            )
        return [
            ConflictRow(
                rid,
                titles.get(rid),
                {who: decision for who, decision, _ in votes[rid]},
                {who: reason for who, _, reason in votes[rid]},
            )
            for rid in ids
        ]

    def resolve(
        self,
        project: str,
        record_id: str,
        decision: str,
        *,
        by: str,
        reason: str,
        stage: str = "title_abstract",
        method: str = "third_reviewer",
    ) -> None:
        """Settle the conflict on ``record_id`` at ``stage`` with ``decision``.

        ``method="third_reviewer"``: ``by`` must be a reviewer who did not vote on the record;
        ``"consensus"``: ``by`` records who led it. At full text an exclusion's ``reason`` is
        the PRISMA exclusion reason. Only records in conflict can be resolved.
        """
        stage = check_stage(stage)
        if decision not in ("include", "exclude"):
            raise InputError(
                f"record {record_id}: a resolution must be 'include' or "
                f"'exclude'; got {decision!r}."
            )
        if method not in RESOLUTION_METHODS:
            raise InputError(f"method must be one of {list(RESOLUTION_METHODS)}; got {method!r}.")
        check_text(f"record {record_id}: the resolution's reason", reason)
        with self.session() as s:
            proj = self._project(s, project, lock=True)
            person = reviewer_row(s, proj, by)
            state = record_state(s, proj, stage, record_id)
            if state != "conflict":
                raise InputError(
                    f"record {record_id}: only conflicts can be resolved; it is {state} at {stage}."
                )
            voters = {who for rid, who, *_ in vote_rows(s, proj, stage) if rid == record_id}
            if method == "third_reviewer" and person.name in voters:
                raise InputError(
                    f"record {record_id}: {by!r} voted on it, so cannot be its "
                    "third reviewer; use ",
                    Argument("method", "consensus"),
                    " or another reviewer.",
                )
            s.add(
                ScreeningResolution(
                    project_id=proj.id,
                    record_id=record_id,
                    stage=stage,
                    decision=decision,
                    reason=reason,
                    method=method,
                    resolved_by=person.id,
                )
            )
            self._audit(
                s,
                by,
                "screening_resolution",
                record_id,
                None,
                {"stage": stage, "decision": decision, "method": method},
                reason,
            )

    def mark_retrieval(
        self, project: str, record_id: str, retrieved: bool, *, actor: str, note: str | None = None
    ) -> None:
        """Record whether the full text of ``record_id`` was obtained (audited)."""
        with self.session() as s:
            proj = self._project(s, project, lock=True)
            _check_unit(s, proj, record_id)
            row = s.get(Retrieval, record_id)
            old = None if row is None else {"retrieved": row.retrieved, "note": row.note}
            if row is None:
                s.add(
                    Retrieval(
                        record_id=record_id,
                        project_id=proj.id,
                        retrieved=bool(retrieved),
                        note=note,
                    )
                )
            else:
                row.retrieved, row.note = bool(retrieved), note
            self._audit(
                s,
                actor,
                "retrieval",
                record_id,
                old,
                {"retrieved": bool(retrieved), "note": note},
                note or "full text",
            )

    # -- agreement ------------------------------------------------------------------------
    def screening_agreement(
        self, project: str, stage: str = "title_abstract"
    ) -> ScreeningAgreement:
        """Agreement at ``stage`` over the complete records (see :class:`ScreeningAgreement`).

        Pairwise Cohen's kappa uses the records both reviewers rated, so it stays right when
        the reviewers of a record vary or a reviewer was removed; Krippendorff's alpha uses
        every complete record's votes, however many.
        """
        import pandas as pd

        stage = check_stage(stage)
        with self.session() as s:
            proj = self._project(s, project)
            rows = vote_rows(s, proj, stage)
            complete = _complete(rows, proj.reviewers_per_record)
        votes = pd.DataFrame(
            [row for row in rows if row[0] in complete], columns=list(VOTE_COLUMNS)
        )
        wide = votes.pivot(index="record_id", columns="reviewer", values="decision")
        names = list(wide.columns)
        pairs = []
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                both = wide[[a, b]].dropna()
                if both.empty:
                    continue
                pairs.append(_pair_row(a, b, both[a].tolist(), both[b].tolist()))
        columns = [
            "reviewer_a",
            "reviewer_b",
            "n",
            "kappa",
            "se",
            "ci_lb",
            "ci_ub",
            "percent_agreement",
            "pabak",
        ]
        agree = (
            float(wide.apply(lambda r: r.dropna().nunique() == 1, axis=1).mean())
            if len(wide)
            else float("nan")
        )
        from metareview.stats.agreement import krippendorff_alpha  # scipy: only when asked

        alpha = krippendorff_alpha(wide) if len(wide) else float("nan")
        return ScreeningAgreement(
            stage=stage,
            pairs=pd.DataFrame(pairs, columns=columns),
            krippendorff_alpha=alpha,
            n_records=len(wide),
            percent_agreement=agree,
        )


def _pair_row(a: str, b: str, first: Sequence[str], second: Sequence[str]) -> tuple:
    from metareview.stats.agreement import cohen_kappa  # scipy: only when asked

    try:
        k = cohen_kappa(first, second)
    except InputError:
        # kappa is undefined (one category only); percent agreement still is
        agree = sum(x == y for x, y in zip(first, second, strict=True)) / len(first)
        nan = float("nan")
        return (a, b, len(first), nan, nan, nan, nan, agree, nan)
    return (a, b, k.n, k.kappa, k.se, k.ci_lb, k.ci_ub, k.percent_agreement, k.pabak)


def reviewer_row(s: Session, proj: Project, name: str) -> Reviewer:
    person = s.scalar(select(Reviewer).where(Reviewer.project_id == proj.id, Reviewer.name == name))
    if person is None:
        known = list(s.scalars(select(Reviewer.name).where(Reviewer.project_id == proj.id)))
        raise InputError(
            f"reviewer {name!r} is not in project {proj.name!r}; reviewers are {known} (",
            Method("add_reviewer"),
            " first).",
        )
    return person


def write_vote(
    s: Session,
    proj: Project,
    person: Reviewer,
    record_id: str,
    stage: str,
    decision: str,
    reason: str | None,
    vote: ScreeningDecision | None,
) -> None:
    """Store ``person``'s vote (a new row, or ``vote`` revised) and its audit entry; the
    caller has made every check in the same transaction. A new vote and its entry are two
    Core INSERTs (the ORM's flush of the two objects was a fifth of a vote's CPU)."""
    new = {"stage": stage, "reviewer": person.name, "decision": decision, "reason": reason}
    if vote is None:
        s.connection().execute(
            insert(ScreeningDecision.__table__),
            {
                "project_id": proj.id,
                "record_id": record_id,
                "stage": stage,
                "reviewer_id": person.id,
                "decision": decision,
                "reason": reason,
            },
        )
        StoreCore._audit(
            s,
            person.name,
            "screening_decision",
            record_id,
            None,
            new,
            "vote",
            project_id=proj.id,
            now=True,
        )
    else:
        old = {
            "stage": stage,
            "reviewer": person.name,
            "decision": vote.decision,
            "reason": vote.reason,
        }
        vote.decision, vote.reason = decision, reason
        StoreCore._audit(
            s, person.name, "screening_decision", record_id, old, new, "revised", project_id=proj.id
        )


def secondary_records(
    s: Session, proj: Project, record_ids: Collection[str] | None = None
) -> dict[str, str]:
    """Secondary members of active duplicate groups -> the group's primary record (only
    those among ``record_ids`` when given)."""
    return {rid: primary for rid, primary in s.execute(*_among(_SECONDARY, proj, record_ids))}


def screening_units(
    s: Session, proj: Project, record_ids: Collection[str] | None = None
) -> list[str]:
    """Records screened: all but secondary duplicates and records set aside (not released),
    in import order (only those among ``record_ids`` when given). One query."""
    return list(s.scalars(*_among(_UNITS, proj, record_ids)))


def set_aside_records(
    s: Session, proj: Project, record_ids: Collection[str] | None = None
) -> dict[str, SetAside]:
    """Records set aside and not released (held for an owner, or discarded) -> their row
    (only those among ``record_ids`` when given)."""
    return {row.record_id: row for row in s.scalars(*_among(_SET_ASIDE, proj, record_ids))}


# The statements of the stage's rules, built once with their parameters (a vote's CPU went
# largely into building statements: bench/bench_web.py, issue 14), each in two forms: over
# the whole project, and over the records of the ``record_ids`` parameter only.
_Among = tuple[Select[Any], Select[Any]]


def _of_records(query: Select[Any], column: Any) -> _Among:
    return query, query.where(column.in_(bindparam("record_ids", expanding=True)))


def _among(
    statements: _Among, proj: Project, record_ids: Collection[str] | None, **params: Any
) -> tuple[Select[Any], dict[str, Any]]:
    """The statement and parameters: over ``proj``, or over its ``record_ids`` only."""
    params["project_id"] = proj.id
    if record_ids is None:
        return statements[0], params
    params["record_ids"] = list(record_ids)
    return statements[1], params


_SECONDARY = _of_records(  # (record, its primary) of secondary members of active groups
    select(DuplicateMember.record_id, DuplicateGroup.primary_record_id)
    .join(DuplicateGroup)
    .where(
        DuplicateGroup.project_id == bindparam("project_id"),
        DuplicateGroup.active.is_(True),
        DuplicateMember.record_id != DuplicateGroup.primary_record_id,
    ),
    DuplicateMember.record_id,
)
_SET_ASIDE = _of_records(  # records set aside and not released
    select(SetAside).where(
        SetAside.project_id == bindparam("project_id"), SetAside.status != "released"
    ),
    SetAside.record_id,
)
_UNITS = _of_records(  # screening_units
    select(Record.id)
    .where(
        Record.project_id == bindparam("project_id"),
        Record.id.not_in(_SECONDARY[0].with_only_columns(DuplicateMember.record_id)),
        Record.id.not_in(_SET_ASIDE[0].with_only_columns(SetAside.record_id)),
    )
    .order_by(Record.source_id, Record.ordinal),
    Record.id,
)
_STAGE_VOTES = _of_records(
    select(ScreeningDecision.record_id, ScreeningDecision.decision, ScreeningDecision.reason)
    .where(
        ScreeningDecision.project_id == bindparam("project_id"),
        ScreeningDecision.stage == bindparam("stage"),
    )
    .order_by(ScreeningDecision.id),
    ScreeningDecision.record_id,
)
_STAGE_RESOLUTIONS = _of_records(
    select(ScreeningResolution).where(
        ScreeningResolution.project_id == bindparam("project_id"),
        ScreeningResolution.stage == bindparam("stage"),
    ),
    ScreeningResolution.record_id,
)


def owner_row(s: Session, proj: Project, name: str, action: str) -> Reviewer:
    """The reviewer ``name`` if an owner of ``proj``; InputError saying only owners may
    ``action`` otherwise."""
    person = reviewer_row(s, proj, name)
    if person.role != "owner":
        raise InputError(
            f"reviewer {name!r} is not an owner of {proj.name!r}; only owners may {action}."
        )
    return person


def _check_unit(s: Session, proj: Project, record_id: str) -> None:
    project_record(s, proj, record_id)
    primary = secondary_records(s, proj, [record_id]).get(record_id)
    if primary is not None:
        raise InputError(
            f"record {record_id} is a duplicate of {primary}; screen {primary} "
            "(or unmerge the group)."
        )
    aside = set_aside_records(s, proj, [record_id]).get(record_id)
    if aside is not None:
        state = (
            "discarded by an owner"
            if aside.status == "discarded"
            else "held for an owner to release or discard"
        )
        raise InputError(
            f"record {record_id} is set aside ({aside.reason}): {state}; it is not screened."
        )


def reviewer_stage(
    s: Session, proj: Project, person: Reviewer, stage: str
) -> tuple[list[StageRow], dict[str, tuple[str, str | None]]]:
    """What one reviewer screens at ``stage``: the stage's rows (:func:`stage_rows`) limited,
    when an owner allocated the stage, to the records given to the reviewer and those they
    voted on; and their own votes, record id -> (decision, reason), oldest first. The one
    rule behind the CLI's screener and the web app's queue."""
    from metareview.review.allocation import assigned_ids  # allocation builds on this module

    rows = stage_rows(s, proj, stage)
    own = {
        rid: (decision, reason)
        for rid, decision, reason in s.execute(
            select(
                ScreeningDecision.record_id, ScreeningDecision.decision, ScreeningDecision.reason
            )
            .where(
                ScreeningDecision.project_id == proj.id,
                ScreeningDecision.stage == stage,
                ScreeningDecision.reviewer_id == person.id,
            )
            .order_by(ScreeningDecision.id)
        )
    }
    allocated = assigned_ids(s, proj, stage, person.id)
    if allocated is not None:
        rows = [row for row in rows if row[0] in allocated or row[0] in own]
    return rows, own


#: the columns of :func:`vote_rows` and :func:`votes_frame`
VOTE_COLUMNS = ("record_id", "reviewer", "reviewer_id", "decision", "reason", "time")


def votes_frame(s: Session, proj: Project, stage: str) -> pd.DataFrame:
    """Every vote at ``stage`` (unblinded: for the store's own rules), oldest first: the rows
    of :func:`vote_rows` as a DataFrame."""
    import pandas as pd

    return pd.DataFrame(vote_rows(s, proj, stage), columns=list(VOTE_COLUMNS))


def vote_rows(s: Session, proj: Project, stage: str) -> list[tuple[Any, ...]]:
    """Every vote at ``stage``, oldest first, as tuples of ``VOTE_COLUMNS``."""
    return [
        tuple(row)
        for row in s.execute(
            select(
                ScreeningDecision.record_id,
                Reviewer.name,
                ScreeningDecision.reviewer_id,
                ScreeningDecision.decision,
                ScreeningDecision.reason,
                ScreeningDecision.time,
            )
            .join(Reviewer, Reviewer.id == ScreeningDecision.reviewer_id)
            .where(ScreeningDecision.project_id == proj.id, ScreeningDecision.stage == stage)
            .order_by(ScreeningDecision.id)
        )
    ]


def _complete(votes: Sequence[tuple[Any, ...]], needed: int) -> set[str]:
    """Records with at least ``needed`` votes among ``votes`` (rows of :func:`vote_rows`)."""
    counts = Counter(row[0] for row in votes)
    return {rid for rid, n in counts.items() if n >= needed}


def _agreed(votes: Sequence[tuple[str, str | None]], stage: str) -> tuple[str, str | None] | None:
    """The common decision (and reason) of complete votes ``(decision, reason)``, or None
    for a conflict."""
    decisions = {decision for decision, _reason in votes}
    if len(decisions) != 1 or decisions == {"maybe"}:
        return None
    decision = decisions.pop()
    if stage == "full_text" and decision == "exclude":
        reasons = {str(reason).strip().lower() for _decision, reason in votes}
        if len(reasons) != 1:
            return None
        return decision, str(votes[0][1]).strip()
    return decision, None


def _unblinded(s: Session, proj: Project, stage: str) -> bool:
    return (
        s.scalar(
            select(Unblinding.id).where(Unblinding.project_id == proj.id, Unblinding.stage == stage)
        )
        is not None
    )


StageRow = tuple[str, int, str, str | None, str | None]
STAGE_COLUMNS = ["record_id", "n_votes", "status", "decision", "reason"]


def stage_table(s: Session, proj: Project, stage: str) -> pd.DataFrame:
    """The outcome of every record that reached ``stage`` (see ``screening_status``):
    columns ``record_id``, ``n_votes``, ``status``, ``decision``, ``reason`` (the rows of
    :func:`stage_rows` over the whole stage)."""
    import pandas as pd

    return pd.DataFrame(stage_rows(s, proj, stage), columns=STAGE_COLUMNS)


def stage_rows(
    s: Session, proj: Project, stage: str, record_ids: Collection[str] | None = None
) -> list[StageRow]:
    """``(record_id, n_votes, status, decision, reason)`` of every record that reached
    ``stage``, in screening order, or of those among ``record_ids``: the one place where
    votes and resolutions become ``pending``/``agreed``/``conflict``/``resolved`` and a
    decision with its full-text exclusion reason.

    Given ``record_ids``, every query reads those records' rows only, so a vote asks for its
    record's state without reading the stage (the load benchmark showed the whole-stage read
    dominating a vote's time); the answer is the same rows as the whole stage's.
    """
    units = screening_units(s, proj, record_ids)
    if stage == "full_text":
        reached = reached_full_text(s, proj, units)
        units = [u for u in units if u in reached]
    among = None if record_ids is None else units
    by_record: dict[str, list[tuple[str, str | None]]] = {}
    for rid, decision, reason in s.execute(*_among(_STAGE_VOTES, proj, among, stage=stage)):
        by_record.setdefault(rid, []).append((decision, reason))
    resolutions = {
        r.record_id: r for r in s.scalars(*_among(_STAGE_RESOLUTIONS, proj, among, stage=stage))
    }
    needed = proj.reviewers_per_record
    rows: list[StageRow] = []
    for rid in units:
        votes = by_record.get(rid, [])
        if rid in resolutions:
            res = resolutions[rid]
            reason = res.reason if res.decision == "exclude" and stage == "full_text" else None
            rows.append((rid, len(votes), "resolved", res.decision, reason))
        elif len(votes) < needed:
            rows.append((rid, len(votes), "pending", None, None))
        else:
            outcome = _agreed(votes, stage)
            if outcome is None:
                rows.append((rid, len(votes), "conflict", None, None))
            else:
                rows.append((rid, len(votes), "agreed", *outcome))
    return rows


def record_status(s: Session, proj: Project, stage: str, record_id: str) -> str | None:
    """The status of one record at ``stage`` (``"pending"``, ``"agreed"``, ``"conflict"``,
    ``"resolved"``), or None when it is not screened at that stage (a secondary duplicate, a
    record set aside, or not passed on to full text): :func:`stage_rows` of that record."""
    rows = stage_rows(s, proj, stage, [record_id])
    return rows[0][2] if rows else None


def record_state(s: Session, proj: Project, stage: str, record_id: str) -> str:
    """``"resolved"``, ``"pending"``, ``"agreed"``, ``"conflict"`` or ``"not at this stage"``
    for one record."""
    return record_status(s, proj, stage, record_id) or "not at this stage"


def outcomes(
    s: Session, proj: Project, stage: str, record_ids: Collection[str] | None = None
) -> dict[str, str]:
    """Final decision per record at ``stage`` (agreed or resolved); others absent."""
    return {
        rid: decision
        for rid, _n, _status, decision, _reason in stage_rows(s, proj, stage, record_ids)
        if decision is not None
    }


def reached_full_text(
    s: Session, proj: Project, record_ids: Collection[str] | None = None
) -> set[str]:
    """Records included at title/abstract whose full text was not marked as not retrieved
    (only those among ``record_ids`` when given)."""
    passed = {
        rid for rid, d in outcomes(s, proj, "title_abstract", record_ids).items() if d == "include"
    }
    query = select(Retrieval.record_id).where(
        Retrieval.project_id == proj.id, Retrieval.retrieved.is_(False)
    )
    if record_ids is not None:
        query = query.where(Retrieval.record_id.in_(record_ids))
    return passed - set(s.scalars(query))


def _check_reached_full_text(s: Session, proj: Project, record_id: str) -> None:
    if record_id not in reached_full_text(s, proj, [record_id]):
        raise InputError(
            f"record {record_id}: not at the full-text stage (it must be included "
            "at title/abstract and its full text not marked as not retrieved)."
        )
