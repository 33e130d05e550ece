"""A reviewer's screening queue, as the web app serves it: votes that are safe to retry,
blinded views for reviewers and viewers, progress, and the PRISMA counts so far.

Everything here is read through the blinding rules of :mod:`metareview.review.screening`:
a caller sees their own votes, other votes only on complete records (or after an owner
unblinded the stage), and counts that only complete records feed. The project's screening
keywords (highlighted for every reviewer) are kept here too.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    and_,
    bindparam,
    delete,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from metareview._validation import check_text
from metareview.exceptions import InputError
from metareview.review._core import StoreCore, project_record, rows_frame
from metareview.review.allocation import may_screen
from metareview.review.models import (
    Base,
    Project,
    Record,
    Reviewer,
    ScreeningDecision,
    Source,
)
from metareview.review.ranked_queue import stopped_records
from metareview.review.screening import (
    STAGES,
    VoteRow,
    _check_unit,
    _unblinded,
    check_stage,
    check_vote,
    record_status,
    reviewer_row,
    reviewer_stage,
    secondary_records,
    set_aside_records,
    stage_table,
    votes_frame,
    write_vote,
)

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Sequence

    import pandas as pd

__all__ = ["KEYWORD_KINDS", "QueueMixin", "ScreeningKeyword", "keyword_pattern"]

KEYWORD_KINDS = ("include", "exclude")


class ScreeningKeyword(Base):
    """A word highlighted on every record of a project (green: include, red: exclude)."""

    __tablename__ = "screening_keywords"
    __table_args__ = (UniqueConstraint("project_id", "kind", "keyword", name="uq_keyword"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    keyword: Mapped[str] = mapped_column(String(200))


class QueueMixin(StoreCore):
    """Queue methods of :class:`~metareview.review.Store` (see the module docstring)."""

    # -- keywords -------------------------------------------------------------------------
    def set_keywords(
        self, project: str, include: Sequence[str], exclude: Sequence[str], *, actor: str
    ) -> None:
        """Replace the project's screening keywords (audited)."""
        include = [check_text("include keyword", k, max_length=200).strip() for k in include]
        exclude = [check_text("exclude keyword", k, max_length=200).strip() for k in exclude]
        with self.session() as s:
            proj = self._project(s, project, lock=True)
            old = _keywords(s, proj)
            s.execute(delete(ScreeningKeyword).where(ScreeningKeyword.project_id == proj.id))
            for kind, words in (("include", include), ("exclude", exclude)):
                for word in dict.fromkeys(words):
                    s.add(ScreeningKeyword(project_id=proj.id, kind=kind, keyword=word))
            self._audit(
                s,
                actor,
                "screening_keywords",
                str(proj.id),
                old,
                {"include": include, "exclude": exclude},
                "keywords changed",
            )

    def keywords(self, project: str) -> dict[str, list[str]]:
        """``{"include": [...], "exclude": [...]}`` of ``project``."""
        with self.session() as s:
            return _keywords(s, self._project(s, project))

    # -- votes ----------------------------------------------------------------------------
    def cast_vote(
        self,
        project: str,
        record_id: str,
        reviewer: str,
        decision: str,
        stage: str = "title_abstract",
        reason: str | None = None,
    ) -> str:
        """A vote that is safe to send twice: returns ``"recorded"`` (a first vote),
        ``"revised"`` (a changed vote on a record still waiting for votes) or
        ``"unchanged"`` (the same vote again: nothing is written).

        Unlike :meth:`decide`, a vote on a record whose votes are complete (agreed, in
        conflict or resolved) is refused, since changing it would change an outcome the
        other reviewers have already seen.

        Raises
        ------
        InputError
            As :meth:`decide`; also for a record that is complete at ``stage``, or that has
            not reached ``stage``.
        """
        stage = check_vote(record_id, stage, decision, reason)
        reason = reason.strip() if isinstance(reason, str) and reason.strip() else None
        if not (stage == "full_text" and decision == "exclude"):
            reason = None  # a reason belongs to full-text exclusions only
        names = {"project": project, "reviewer": reviewer, "record_id": record_id, "stage": stage}
        with self.session() as s:
            # votes on one record take turns on its row; writers of the whole project
            # (merges, set-aside, allocation, rules) exclude them all (see StoreCore._project):
            # the project's row shared, the reviewer and their vote in one statement...
            found = s.execute(_VOTE_PROJECT, names).first()
            if found is None:  # no such project or reviewer: the error names which
                proj = self._project(s, project, lock="share")
                found = (proj, reviewer_row(s, proj, reviewer), None, None)
            proj, person, stored, stored_reason = found
            # ...so that the same vote again (a retried request) is answered at once, writing
            # nothing and not waiting for the record's row
            if stored is not None and (stored, _reason(stored_reason)) == (decision, reason):
                return "unchanged"
            if not person.active:
                raise InputError(
                    f"reviewer {reviewer!r} was removed from {proj.name!r}; "
                    "their votes are kept but they cannot vote."
                )
            locked = s.execute(
                _VOTE_RECORD, {**names, "project_id": proj.id, "reviewer_id": person.id}
            ).first()
            if locked is None:
                raise InputError(f"record {record_id!r} is not in project {proj.name!r}.")
            vote = locked.ScreeningDecision
            mine = None if vote is None else (vote.decision, _reason(vote.reason))
            if mine == (decision, reason):
                return "unchanged"
            state = record_status(s, proj, stage, record_id)
            if state is None:
                _check_unit(s, proj, record_id)  # says why, for a duplicate or set-aside record
                raise InputError(f"record {record_id}: not at the {stage} stage.")
            if mine is None and not may_screen(s, proj, stage, person.id, record_id):
                raise InputError(
                    f"record {record_id}: allocated to other reviewers at "
                    f"{stage}; your records are in your queue."
                )
            if state != "pending":
                raise InputError(
                    f"record {record_id}: its votes at {stage} are complete "
                    f"({state}); votes can no longer change."
                )
            write_vote(s, proj, person, record_id, stage, decision, reason, vote)
        return "recorded" if mine is None else "revised"

    def visible_votes(self, project: str, stage: str, reviewer: str | None = None) -> pd.DataFrame:
        """The votes a caller may see at ``stage``: ``reviewer``'s own (None: a viewer, who
        has none) plus others' on complete records, or all once the stage is unblinded.

        Columns as :meth:`decisions`: ``record_id``, ``reviewer``, ``decision``, ``reason``,
        ``time`` (the rows of :meth:`decision_rows`).
        """
        return rows_frame(self.decision_rows(project, reviewer, stage), VoteRow)  # type: ignore[attr-defined]

    def unblinded(self, project: str, stage: str) -> bool:
        """Whether an owner has unblinded ``stage`` of ``project``."""
        stage = check_stage(stage)
        with self.session() as s:
            return _unblinded(s, self._project(s, project), stage)

    def last_open_vote(self, project: str, reviewer: str, stage: str) -> str | None:
        """The record of ``reviewer``'s latest vote at ``stage`` that can still change (its
        record still waits for votes), or None: what *undo* takes the reviewer back to."""
        stage = check_stage(stage)
        with self.session() as s:
            proj = self._project(s, project)
            person = reviewer_row(s, proj, reviewer)
            votes = votes_frame(s, proj, stage)
            table = stage_table(s, proj, stage)
        pending = set(table.loc[table["status"] == "pending", "record_id"])
        mine = votes[(votes["reviewer"] == person.name) & votes["record_id"].isin(pending)]
        if mine.empty:
            return None
        return str(mine.sort_values("time", kind="stable")["record_id"].iloc[-1])

    def queue(
        self, project: str, reviewer: str, stage: str = "title_abstract", skip: Sequence[str] = ()
    ) -> dict[str, Any]:
        """The next record for ``reviewer`` and their progress at ``stage``.

        The order is import order over the records still waiting for votes that the reviewer
        has not voted on: it depends only on the reviewer's own votes and on complete
        records, never on another reviewer's pending vote. Records in ``skip`` are passed over.

        Returns
        -------
        dict
            ``next`` (record id or None), ``total`` (records at the stage, or given to the
            reviewer when the stage is allocated), ``voted`` (the
            reviewer's votes there), ``left`` (records still open for the reviewer, skipped
            ones included) and ``skipped``.
        """
        stage = check_stage(stage)
        with self.session() as s:
            proj = self._project(s, project)
            person = reviewer_row(s, proj, reviewer)
            rows, own = reviewer_stage(s, proj, person, stage)
        mine = set(own)
        open_ = [row[0] for row in rows if row[2] == "pending" and row[0] not in mine]
        skipped = [r for r in open_ if r in set(skip)]
        ahead = [r for r in open_ if r not in set(skip)]
        return {
            "next": ahead[0] if ahead else None,
            "total": len(rows),
            "voted": len(mine & {row[0] for row in rows}),
            "left": len(open_),
            "skipped": len(skipped),
        }

    def record_view(self, project: str, record_id: str) -> dict[str, Any]:
        """One record's bibliographic fields (``id``, ``title``, ``abstract``, ``authors``,
        ``journal``, ``year``, ``doi``, ``pmid``, ``source``); InputError if not in the
        project."""
        with self.session() as s:
            proj = self._project(s, project)
            record = project_record(s, proj, record_id)
            source = s.get(Source, record.source_id)
            return {
                "id": record.id,
                "title": record.title,
                "abstract": record.abstract,
                "authors": list(record.authors or []),
                "journal": record.journal,
                "year": record.year,
                "doi": record.doi,
                "pmid": record.pmid,
                "source": source.database or source.name,
                "duplicate_of": secondary_records(s, proj).get(record.id),
            }

    def stage_overview(self, project: str, stage: str) -> dict[str, Any]:
        """Counts safe to show every member: records at ``stage`` by status (``pending``,
        ``agreed``, ``conflict``, ``resolved``), and votes cast per reviewer (how many, not
        which)."""
        stage = check_stage(stage)
        with self.session() as s:
            proj = self._project(s, project)
            table = stage_table(s, proj, stage)
            votes = votes_frame(s, proj, stage)
        by_status = Counter(table["status"])
        return {
            "total": len(table),
            "status": {
                k: by_status.get(k, 0) for k in ("pending", "agreed", "conflict", "resolved")
            },
            "votes_per_reviewer": {
                str(k): int(v) for k, v in votes.groupby("reviewer").size().items()
            },
        }

    def prisma_so_far(self, project: str) -> dict[str, Any]:
        """PRISMA 2020 counts over the records whose outcome is known so far.

        The keys of :meth:`prisma_counts`, counting only records with an outcome (agreed or
        resolved) -- the numbers grow as screening goes on and equal :meth:`prisma_counts`
        once every record has its outcome -- plus ``open`` (``{stage: records still pending
        or in conflict}``). Studies are counted as included reports until studies are formed.
        """
        with self.session() as s:
            proj = self._project(s, project)
            sources = {
                sid: (db or name, kind)
                for sid, db, name, kind in s.execute(
                    select(Source.id, Source.database, Source.name, Source.kind).where(
                        Source.project_id == proj.id
                    )
                ).all()
            }
            records = s.execute(
                select(Record.id, Record.source_id).where(Record.project_id == proj.id)
            ).all()
            secondary = secondary_records(s, proj)
            aside = [row for rid, row in set_aside_records(s, proj).items() if rid not in secondary]
            tables = {stage: stage_table(s, proj, stage) for stage in STAGES}
            stopped = stopped_records(s, proj)  # as prisma_counts: left by a stopping rule
        per_kind: dict[str, Counter[str]] = {"database": Counter(), "register": Counter()}
        for _rid, sid in records:
            name, kind = sources[sid]
            per_kind[kind][name] += 1
        first, full = tables["title_abstract"], tables["full_text"]
        screened = first[first["decision"].notna() & ~first["record_id"].isin(stopped)]
        sought = screened[screened["decision"] == "include"]
        decided = full[full["decision"].notna()]
        excluded = Counter(decided.loc[decided["decision"] == "exclude", "reason"])
        included = int((decided["decision"] == "include").sum())
        return {
            "records_databases": dict(per_kind["database"]),
            "records_registers": dict(per_kind["register"]) or 0,
            "duplicates_removed": len(secondary),
            "records_removed_automation": int(first["record_id"].isin(stopped).sum()),
            # as prisma_counts: records set aside and not released, by reason
            "records_removed_other": dict(
                sorted(
                    Counter(
                        r.decision_reason if r.status == "discarded" else r.reason for r in aside
                    ).items()
                )
            )
            or 0,
            "records_screened": len(screened),
            "records_excluded": int((screened["decision"] == "exclude").sum()),
            "reports_sought": len(sought),
            "reports_not_retrieved": len(sought) - len(full),
            "reports_assessed": len(decided),
            "reports_excluded": dict(sorted(excluded.items())),
            "reports_included": included,
            "studies_included": included,
            "open": {
                stage: int(tables[stage]["status"].isin(["pending", "conflict"]).sum())
                for stage in STAGES
            },
        }


def keyword_pattern(keyword: str) -> re.Pattern[str]:
    """The case-insensitive pattern of one screening keyword.

    A keyword matches whole words (``"rat"`` does not match "rate"); a trailing ``*`` makes
    it a prefix, as in database truncation (``"anaesth*"`` matches "anaesthesia" whole). The
    words of a phrase may be separated by any white space.

    Raises
    ------
    InputError
        If the keyword has no letter or digit.

    Examples
    --------
    >>> keyword_pattern("CRPS").findall("crps, CRPS-I, CRPSX")
    ['crps', 'CRPS']
    >>> keyword_pattern("anaesth*").findall("Anaesthesia and anaesthetics")
    ['Anaesthesia', 'anaesthetics']
    """
    core = keyword.strip().rstrip("*")
    if not re.search(r"\w", core):
        raise InputError(
            f"keywords: {keyword!r} has no letter or digit; give words such as "
            "ketamine or anaesth* (a trailing * matches any ending)."
        )
    body = r"\s+".join(re.escape(word) for word in core.split())
    tail = r"\w*" if keyword.strip().endswith("*") else r"(?!\w)"
    return re.compile(rf"(?<!\w){body}{tail}", re.IGNORECASE)


# cast_vote's statements, built once (a vote's CPU went largely into building its
# statements and loading ORM objects: bench/bench_web.py, issue 14)
#: the project (its row held shared until the vote is written), the reviewer, and their
#: vote on the record (decision and reason; NULL: none yet)
_VOTE_PROJECT = (
    select(Project, Reviewer, ScreeningDecision.decision, ScreeningDecision.reason)
    .join(Reviewer, and_(Reviewer.project_id == Project.id, Reviewer.name == bindparam("reviewer")))
    .outerjoin(
        ScreeningDecision,
        and_(
            ScreeningDecision.record_id == bindparam("record_id"),
            ScreeningDecision.stage == bindparam("stage"),
            ScreeningDecision.reviewer_id == Reviewer.id,
        ),
    )
    .where(Project.name == bindparam("project"))
    .with_for_update(read=True, of=Project)
)
#: the record (its row held until the vote is written) and the reviewer's vote on it
_VOTE_RECORD = (
    select(Record.id, ScreeningDecision)
    .outerjoin(
        ScreeningDecision,
        and_(
            ScreeningDecision.record_id == Record.id,
            ScreeningDecision.stage == bindparam("stage"),
            ScreeningDecision.reviewer_id == bindparam("reviewer_id"),
        ),
    )
    .where(Record.id == bindparam("record_id"), Record.project_id == bindparam("project_id"))
    .with_for_update(of=Record)
)


def _reason(reason: str | None) -> str | None:
    return reason if isinstance(reason, str) and reason.strip() else None


def _keywords(s: Session, proj: Project) -> dict[str, list[str]]:
    rows = s.execute(
        select(ScreeningKeyword.kind, ScreeningKeyword.keyword)
        .where(ScreeningKeyword.project_id == proj.id)
        .order_by(ScreeningKeyword.id)
    ).all()
    return {kind: [w for k, w in rows if k == kind] for kind in KEYWORD_KINDS}
