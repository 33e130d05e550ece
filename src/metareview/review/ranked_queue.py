"""A reviewer's screening queue ordered by estimated relevance, honouring blinding.

The model behind a reviewer's order learns only from what that reviewer may see: their own
votes and the outcomes of records whose votes are complete (agreed or resolved). Another
reviewer's vote on a record still pending never enters it, so the order cannot reveal that
vote (DESIGN.md, blinding). The votes come from :meth:`Store.decisions`, the one place the
blinding rule is written; only the outcomes of complete records are read beside them.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from metareview.review.ranking import CLASSIFIERS, relevance_scores, screening_features
from metareview.review.screening import check_stage

__all__ = ["RankedQueue", "RankedQueueMixin"]


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
    """

    queue: pd.DataFrame
    classifier: str
    n_training: int
    n_included: int
    notes: tuple[str, ...] = ()


class RankedQueueMixin:
    """The ranked queue methods of :class:`~metareview.review.Store`."""

    def ranked_queue(
        self,
        project: str,
        reviewer: str,
        *,
        stage: str = "title_abstract",
        classifier: str = "logistic",
    ) -> RankedQueue:
        """``reviewer``'s open records at ``stage``, ordered by estimated relevance.

        Open records are those still pending that ``reviewer`` has not voted on (as
        :meth:`next_record`), and only those given to the reviewer when the stage is
        allocated. The model is trained on the reviewer's own include/exclude
        votes and on the outcomes of complete (agreed or resolved) records; "maybe" votes
        and records in conflict are left out. Until both an inclusion and an exclusion are
        known the order is random (fixed per project and reviewer) and a note says so.

        Raises
        ------
        InputError
            Unknown project or reviewer, bad stage or classifier.
        """
        stage = check_stage(stage)
        name = CLASSIFIERS.check(classifier)
        seen = self.decisions(project, reviewer, stage)  # type: ignore[attr-defined]
        status = self.screening_status(project, stage)  # type: ignore[attr-defined]
        records = self.records(project)  # type: ignore[attr-defined]
        outcome = status[
            status["status"].isin(("agreed", "resolved"))
            & status["decision"].isin(("include", "exclude"))
        ]
        labels = dict(zip(outcome["record_id"], outcome["decision"], strict=True))
        own = seen[(seen["reviewer"] == reviewer) & seen["decision"].isin(("include", "exclude"))]
        for record_id, decision in zip(own["record_id"], own["decision"], strict=True):
            labels.setdefault(record_id, decision)
        voted = set(seen.loc[seen["reviewer"] == reviewer, "record_id"])
        open_ids = [
            r for r in status.loc[status["status"] == "pending", "record_id"] if r not in voted
        ]
        allocated = self.assigned_records(project, stage, reviewer)  # type: ignore[attr-defined]
        if allocated is not None:  # an allocated stage: only the records given to the reviewer
            open_ids = [r for r in open_ids if r in allocated]
        position = {record_id: i for i, record_id in enumerate(records["id"])}
        train = [r for r in labels if r in position]
        y = np.array([labels[r] == "include" for r in train], dtype=np.int8)
        notes: list[str] = []
        scores = None
        if open_ids:
            features = screening_features(records, title="title", abstract="abstract")
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
        return RankedQueue(
            queue=queue,
            classifier=name,
            n_training=len(train),
            n_included=int(y.sum()),
            notes=tuple(notes),
        )
