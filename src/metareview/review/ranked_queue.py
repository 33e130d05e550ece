"""A reviewer's screening queue ordered by estimated relevance, honouring blinding, with the
stopping rules' verdict on the reviewer's own screening so far.

The model behind a reviewer's order learns only from what that reviewer may see: their own
votes and the outcomes of records whose votes are complete (agreed or resolved). Another
reviewer's vote on a record still pending never enters it, so the order cannot reveal that
vote (DESIGN.md, blinding). The open records and the reviewer's own votes come from
:meth:`Store.screening_queue`, the one rule for what a reviewer screens (allocation
included); only the outcomes of complete records are read beside them.

The stopping rules (:mod:`metareview.review.stopping`) are applied to the reviewer's own
votes in the order cast ("include" and "maybe" count as relevant), over the records of their
queue: what they have screened and what is left for them. They use no other reviewer's vote.

An owner ends title/abstract screening by a rule with :meth:`~RankedQueueMixin.stop_screening`:
the records nobody has voted on are then resolved as excluded with the method
``"stopping_rule"``, so every queue empties and PRISMA 2020 counts them as "records marked as
ineligible by automation tools" (:meth:`Store.prisma_counts`), and
:meth:`~RankedQueueMixin.screening_stops` gives the stop for the report's methods text.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from metareview.exceptions import InputError
from metareview.review._core import StoreCore
from metareview.review.models import AuditLog, Project, ScreeningResolution
from metareview.review.ranking import (
    CLASSIFIERS,
    DEFAULT_CLASSIFIER,
    ScreeningFeatures,
    relevance_scores,
    screening_features,
)
from metareview.review.screening import check_stage, owner_row, stage_table, votes_frame
from metareview.review.stopping import (
    RULE_ASSUMPTIONS,
    STOPPING_RULES,
    StoppingDecision,
    current_decisions,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "STOPPING_METHOD",
    "RankedQueue",
    "RankedQueueMixin",
    "ScreeningStop",
    "stopped_records",
]

#: The resolution method of records left unscreened because a stopping rule said stop.
STOPPING_METHOD = "stopping_rule"

_RULE_CITATIONS = {
    "hypergeometric": "the statistical stopping criterion of Callaghan and Müller-Hansen "
    "(2020, Syst Rev 9:273)",
    "consecutive_irrelevant": "the consecutive-irrelevant-records heuristic",
    "knee": "the knee method of Cormack and Grossman (2016)",
}

#: Votes that count as "relevant found" for the stopping rules: a maybe is kept for full
#: text, so counting it as relevant keeps the recall estimate on the safe side.
RELEVANT_VOTES = ("include", "maybe")


@dataclass(frozen=True, slots=True)
class RankedQueue:
    """A reviewer's open records, most likely relevant first.

    Attributes
    ----------
    queue : pandas.DataFrame
        Columns ``record_id`` and ``score`` (the classifier's relevance score; NaN while no
        model can be trained), in the order to screen.
    classifier : str
        The classifier used.
    n_training : int
        Decisions the model learned from (the reviewer's own include/exclude votes and the
        outcomes of complete records).
    n_included : int
        Inclusions among them.
    notes : tuple of str
        What the screen should say (random order until the first inclusion, records ranked
        on their title only, ...).
    stopping : mapping of str to StoppingDecision
        What each stopping rule says about the reviewer's own screening so far (rule name
        -> decision; ``n_unscreened`` is the records stopping now would leave).
    """

    queue: pd.DataFrame
    classifier: str
    n_training: int
    n_included: int
    notes: tuple[str, ...] = ()
    stopping: Mapping[str, StoppingDecision] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ScreeningStop:
    """Title/abstract screening ended by a stopping rule.

    Attributes
    ----------
    rule : str
        The rule's name (``"hypergeometric"``, ``"consecutive_irrelevant"``, ``"knee"``).
    by : str
        The owner who stopped.
    time : datetime
        When.
    n_unscreened : int
        Records left unscreened (resolved as excluded by the rule).
    n_screened : int
        Records with at least one vote when screening stopped.
    reason : str
        The rule's verdict in words, as recorded.
    """

    rule: str
    by: str
    time: datetime
    n_unscreened: int
    n_screened: int
    reason: str

    def methods_text(self) -> str:
        """Sentences for a report's methods section naming the rule, its promise and what
        it rests on."""
        when = self.time.date().isoformat()
        assumption = RULE_ASSUMPTIONS.get(self.rule)
        return (
            f"Title and abstract screening was prioritised by relevance and stopped on "
            f"{when} by {_RULE_CITATIONS.get(self.rule, self.rule)} after "
            f"{self.n_screened:,} records had been screened: {self.reason}. "
            + (f"{assumption} " if assumption else "")
            + f"The {self.n_unscreened:,} records left unscreened are counted as records "
            "marked as ineligible by automation tools."
        )


class RankedQueueMixin(StoreCore):
    """The ranked queue and stopping methods of :class:`~metareview.review.Store`."""

    def ranked_queue(
        self,
        project: str,
        reviewer: str,
        *,
        stage: str = "title_abstract",
        classifier: str = DEFAULT_CLASSIFIER,
        recall_target: float = 0.95,
        confidence: float = 0.95,
        n_irrelevant: int = 50,
    ) -> RankedQueue:
        """``reviewer``'s open records at ``stage``, ordered by estimated relevance.

        Open records are those of :meth:`screening_queue` (still pending, not voted on by
        ``reviewer``, and only those given to the reviewer when the stage is allocated).
        The model is trained on the reviewer's own include/exclude votes and on the outcomes
        of complete (agreed or resolved) records; "maybe" votes and records in conflict are
        left out. The default ranking also trains on records presumed irrelevant
        (:func:`~metareview.review.ranking.presumed_irrelevant`): drawn from the records
        outside that training set, seeded by it, so they reveal no other vote. Until both
        an inclusion and an exclusion are known the order is random (fixed per project and
        reviewer) and a note says so. Past
        :data:`~metareview.review.ranking.MAX_TRAINING_EXCLUDED` known exclusions the model
        learns from a fixed random sample of them
        (:func:`~metareview.review.ranking.training_rows`), so a re-rank stays fast.

        ``stopping`` holds each stopping rule's verdict on the reviewer's own votes in the
        order cast (include and maybe count as relevant) over the records of their queue,
        with ``recall_target``, ``confidence`` and ``n_irrelevant`` as in
        :func:`metareview.review.stopping.current_decisions`.

        Raises
        ------
        InputError
            Unknown project or reviewer, bad stage or classifier.
        """
        import numpy as np
        import pandas as pd

        stage = check_stage(stage)
        name = CLASSIFIERS.check(classifier)
        mine = self.screening_queue(project, reviewer, stage)  # type: ignore[attr-defined]
        status = self.screening_status(project, stage)  # type: ignore[attr-defined]
        records = self.records(project)  # type: ignore[attr-defined]
        outcome = status[
            status["status"].isin(("agreed", "resolved"))
            & status["decision"].isin(("include", "exclude"))
        ]
        labels = dict(zip(outcome["record_id"], outcome["decision"], strict=True))
        for record_id, (decision, _reason) in mine.own.items():
            if decision in ("include", "exclude"):
                labels.setdefault(record_id, decision)
        open_ids = list(mine.to_vote)
        position = {record_id: i for i, record_id in enumerate(records["id"])}
        train = [r for r in labels if r in position]
        y = np.array([labels[r] == "include" for r in train], dtype=np.int8)
        notes: list[str] = []
        scores = None
        if open_ids:
            features = self._ranking_features(project, records)
            notes += features.notes()
            scores = relevance_scores(features, [position[r] for r in train], y, classifier=name)
        if scores is None:
            notes.insert(
                0,
                "Records are shown in random order until at least one inclusion "
                "and one exclusion are known.",
            )
            seed = zlib.crc32(f"{project}\x00{reviewer}\x00{stage}".encode())
            order = np.random.default_rng(seed).permutation(len(open_ids))
            queue = pd.DataFrame(
                {"record_id": [open_ids[i] for i in order], "score": np.full(len(open_ids), np.nan)}
            )
        else:
            open_scores = np.array([scores[position[r]] for r in open_ids])
            order = np.argsort(-open_scores, kind="stable")
            queue = pd.DataFrame(
                {"record_id": [open_ids[i] for i in order], "score": open_scores[order]}
            )
        history = [int(d in RELEVANT_VOTES) for d, _reason in mine.own.values()]
        stopping = current_decisions(
            history,
            len(history) + len(open_ids),
            recall_target=recall_target,
            confidence=confidence,
            n_irrelevant=n_irrelevant,
        )
        return RankedQueue(
            queue=queue,
            classifier=name,
            n_training=len(train),
            n_included=int(y.sum()),
            notes=tuple(notes),
            stopping=stopping,
        )

    def _ranking_features(self, project: str, records: pd.DataFrame) -> ScreeningFeatures:
        """TF-IDF features of the project's records, fitted once and kept while the records
        (ids and text) stay the same: re-ranking after a vote refits only the classifier."""
        digest = hashlib.sha256()
        for column in ("id", "title", "abstract"):
            digest.update("\x1f".join(records[column].fillna("").astype(str)).encode())
            digest.update(b"\x1e")
        key = (project, digest.hexdigest())
        cache: dict[tuple[str, str], ScreeningFeatures] = self.__dict__.setdefault(
            "_ranking_feature_cache", {}
        )
        features = cache.get(key)
        if features is None:  # (web requests run in threads: only local reads after this)
            features = screening_features(records, title="title", abstract="abstract")
            cache.clear()  # one project's features at a time: bounded memory
            cache[key] = features
        return features

    def project_stopping(
        self,
        project: str,
        *,
        by: str,
        recall_target: float = 0.95,
        confidence: float = 0.95,
        n_irrelevant: int = 50,
    ) -> dict[str, StoppingDecision]:
        """What each stopping rule says about the team's title/abstract screening so far.

        The history is every record with at least one vote, in the order of its first vote,
        counted relevant when any vote on it is "include" or "maybe" (or its outcome is an
        inclusion); the records left are those nobody has voted on. It reads every vote,
        so only the verdicts and counts leave this method, and only for an owner (``by``).

        Raises
        ------
        InputError
            ``by`` is not an owner of the project.
        """
        with self.session() as s:
            proj = self._project(s, project)
            owner_row(s, proj, by, "see the team's stopping estimate")
            history, n_left = _team_history(s, proj)
        return current_decisions(
            history,
            len(history) + n_left,
            recall_target=recall_target,
            confidence=confidence,
            n_irrelevant=n_irrelevant,
        )

    def stop_screening(
        self,
        project: str,
        *,
        rule: str = "hypergeometric",
        by: str,
        recall_target: float = 0.95,
        confidence: float = 0.95,
        n_irrelevant: int = 50,
    ) -> StoppingDecision:
        """End title/abstract screening because ``rule`` says stop; only an owner may.

        Every record nobody has voted on is resolved as excluded with the method
        ``"stopping_rule"`` and the rule's verdict as reason, in one transaction, with one
        audit entry (rule, verdict, counts). Records with some votes keep their queue: the
        reviewers finish them. PRISMA 2020 then counts the resolved records as "records
        marked as ineligible by automation tools".

        Returns
        -------
        StoppingDecision
            The verdict that allowed the stop (``n_unscreened`` records were resolved).

        Raises
        ------
        InputError
            ``by`` is not an owner, an unknown rule, the rule does not say stop yet (the
            message gives its verdict), or no record is left to stop on.
        """
        name = STOPPING_RULES.check(rule)
        with self.session() as s:
            proj = self._project(s, project, lock=True)
            person = owner_row(s, proj, by, "stop screening by a stopping rule")
            history, n_left = _team_history(s, proj)
            decision = current_decisions(
                history,
                len(history) + n_left,
                recall_target=recall_target,
                confidence=confidence,
                n_irrelevant=n_irrelevant,
            )[name]
            if not decision.stop:
                raise InputError(
                    f"the {name} rule does not say stop yet: {decision.promise}. Screening goes on."
                )
            left = _unvoted(s, proj)
            if not left:
                raise InputError("every record has a vote already; nothing is left to stop on.")
            reason = f"not screened: the {name} stopping rule said stop ({decision.promise})"
            for record_id in left:
                s.add(
                    ScreeningResolution(
                        project_id=proj.id,
                        record_id=record_id,
                        stage="title_abstract",
                        decision="exclude",
                        reason=reason,
                        method=STOPPING_METHOD,
                        resolved_by=person.id,
                    )
                )
            self._audit(
                s,
                by,
                "screening_stop",
                name,
                None,
                {**decision.to_dict(), "stage": "title_abstract", "records": len(left)},
                reason,
            )
        return decision

    def screening_stops(self, project: str) -> list[ScreeningStop]:
        """The stops of title/abstract screening by a rule (see :meth:`stop_screening`),
        oldest first, each with :meth:`ScreeningStop.methods_text`; read from the audit
        entries that :meth:`stop_screening` writes with its resolutions."""
        with self.session() as s:
            proj = self._project(s, project)
            rows = s.scalars(
                select(AuditLog)
                .where(AuditLog.project_id == proj.id, AuditLog.entity == "screening_stop")
                .order_by(AuditLog.id)
            ).all()
            return [
                ScreeningStop(
                    rule=row.entity_id,
                    by=row.actor,
                    time=row.time,
                    n_unscreened=int(row.new["records"]),
                    n_screened=int(row.new["n_screened"]),
                    reason=str(row.new["promise"]),
                )
                for row in rows
            ]


def _team_history(s: Session, proj: Project) -> tuple[list[int], int]:
    """(labels of the records with votes, in first-vote order; records nobody voted on)."""
    votes = votes_frame(s, proj, "title_abstract")
    table = stage_table(s, proj, "title_abstract")
    units = set(table["record_id"])
    included = set(table.loc[table["decision"] == "include", "record_id"])
    votes = votes[votes["record_id"].isin(units)]
    relevant = set(votes.loc[votes["decision"].isin(RELEVANT_VOTES), "record_id"]) | included
    order = list(dict.fromkeys(votes["record_id"]))  # votes come oldest first
    history = [int(r in relevant) for r in order]
    resolved = set(table.loc[table["status"] == "resolved", "record_id"])
    n_left = len(units - set(order) - resolved)
    return history, n_left


def _unvoted(s: Session, proj: Project) -> list[str]:
    """Records at title/abstract with no vote and no outcome, in import order."""
    table = stage_table(s, proj, "title_abstract")
    voted = set(votes_frame(s, proj, "title_abstract")["record_id"])
    return [
        r
        for r, status in zip(table["record_id"], table["status"], strict=True)
        if status == "pending" and r not in voted
    ]


def stopped_records(s: Session, proj: Project) -> set[str]:
    """Records left unscreened at title/abstract because a stopping rule said stop (PRISMA
    2020: "records marked as ineligible by automation tools")."""
    return set(
        s.scalars(
            select(ScreeningResolution.record_id).where(
                ScreeningResolution.project_id == proj.id,
                ScreeningResolution.stage == "title_abstract",
                ScreeningResolution.method == STOPPING_METHOD,
            )
        )
    )
