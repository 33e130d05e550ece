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
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from metareview.review.ranking import (
    CLASSIFIERS,
    ScreeningFeatures,
    relevance_scores,
    screening_features,
)
from metareview.review.screening import check_stage
from metareview.review.stopping import StoppingDecision, current_decisions

__all__ = ["RankedQueue", "RankedQueueMixin"]

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


class RankedQueueMixin:
    """The ranked queue methods of :class:`~metareview.review.Store`."""

    def ranked_queue(
        self,
        project: str,
        reviewer: str,
        *,
        stage: str = "title_abstract",
        classifier: str = "logistic",
        recall_target: float = 0.95,
        confidence: float = 0.95,
        n_irrelevant: int = 50,
    ) -> RankedQueue:
        """``reviewer``'s open records at ``stage``, ordered by estimated relevance.

        Open records are those of :meth:`screening_queue` (still pending, not voted on by
        ``reviewer``, and only those given to the reviewer when the stage is allocated).
        The model is trained on the reviewer's own include/exclude votes and on the outcomes
        of complete (agreed or resolved) records; "maybe" votes and records in conflict are
        left out. Until both an inclusion and an exclusion are
        known the order is random (fixed per project and reviewer) and a note says so.

        ``stopping`` holds each stopping rule's verdict on the reviewer's own votes in the
        order cast (include and maybe count as relevant) over the records of their queue,
        with ``recall_target``, ``confidence`` and ``n_irrelevant`` as in
        :func:`metareview.review.stopping.current_decisions`.

        Raises
        ------
        InputError
            Unknown project or reviewer, bad stage or classifier.
        """
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
