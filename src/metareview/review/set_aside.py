"""Records with nothing to screen on, set aside for an owner instead of the screening queue.

A record with no title, abstract or authors (one real RIS export held 61 of them: reference
types with no fields at all) would reach reviewers as a blank card, and PRISMA would count
it as screened. The store keeps every such record (nothing imported is lost) but sets it
aside as it imports it (:func:`metareview.review.importers._base.lacks_content`): it is not
in the queue, cannot be voted on, and is not counted as screened. An owner then lists them
(:meth:`SetAsideMixin.set_aside`) and either releases one into the queue (an owner who found
what the record is, e.g. from its DOI) or discards it; both are audited with a reason.

PRISMA 2020 counts every record set aside and not released among the records removed before
screening "for other reasons", by reason (:meth:`~metareview.review.Store.prisma_counts`):
the importer's reason (``"no title, abstract or authors"``) while the record is held, the
owner's reason once discarded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy import select

from metareview._validation import check_text
from metareview.exceptions import InputError
from metareview.review._core import StoreCore, rows_frame
from metareview.review.models import Record, Reviewer, SetAside, utc_now
from metareview.review.screening import owner_row

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["SET_ASIDE_STATUSES", "SetAsideMixin", "SetAsideRow"]

#: ``held`` (waiting for an owner), ``released`` (in the queue) or ``discarded``
SET_ASIDE_STATUSES = ("held", "released", "discarded")


class SetAsideRow(NamedTuple):
    """A record set aside at import: a row of :meth:`SetAsideMixin.set_aside`."""

    record_id: str
    source_id: int
    source_line: int
    doi: str | None
    pmid: str | None
    year: int | None
    reason: str
    time: datetime
    status: str
    decided_by: str | None
    decision_reason: str | None
    decided_at: datetime | None


class SetAsideMixin(StoreCore):
    """Set-aside methods of :class:`~metareview.review.Store` (see the module docstring)."""

    def set_aside(self, project: str, status: str | None = None) -> pd.DataFrame:
        """The records of ``project`` set aside at import, in import order.

        Parameters
        ----------
        project : str
            Name of the project.
        status : {"held", "released", "discarded"}, optional
            Only those in this state (all by default).

        Returns
        -------
        pandas.DataFrame
            ``record_id``, ``source_id``, ``source_line`` (where the record is in its file),
            ``doi``, ``pmid``, ``year`` (what little the record has), ``reason`` (why it was
            set aside), ``time``, ``status``, ``decided_by`` (the owner who released or
            discarded it), ``decision_reason`` and ``decided_at``.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from metareview.review import Store
        >>> store = Store.open("sqlite://"); _ = store.create_project("p")
        >>> ris = pathlib.Path(tempfile.mkdtemp()) / "search.ris"
        >>> _ = ris.write_text("TY  - JOUR\\nTI  - Ketamine\\nER  - \\n\\nTY  - GEN\\nER  - \\n")
        >>> _ = store.import_file("p", ris)
        >>> store.set_aside("p")[["source_line", "reason", "status"]].values.tolist()
        [[5, 'no title, abstract or authors', 'held']]
        >>> store.screening_status("p")["record_id"].str.endswith("-000001").tolist()
        [True]
        """
        frame = rows_frame(self.set_aside_rows(project, status), SetAsideRow)
        frame["year"] = frame["year"].astype("Int64")
        return frame

    def set_aside_rows(self, project: str, status: str | None = None) -> list[SetAsideRow]:
        """The records of ``project`` set aside at import, in import order, as rows (see
        :meth:`set_aside`)."""
        if status is not None and status not in SET_ASIDE_STATUSES:
            raise InputError(f"status must be one of {list(SET_ASIDE_STATUSES)}; got {status!r}.")
        with self.session() as s:
            proj = self._project(s, project)
            query = (
                select(SetAside, Record, Reviewer.name)
                .join(Record, Record.id == SetAside.record_id)
                .outerjoin(Reviewer, Reviewer.id == SetAside.decided_by)
                .where(SetAside.project_id == proj.id)
                .order_by(Record.source_id, Record.ordinal)
            )
            if status is not None:
                query = query.where(SetAside.status == status)
            return [
                SetAsideRow(
                    a.record_id,
                    r.source_id,
                    r.source_line,
                    r.doi,
                    r.pmid,
                    r.year,
                    a.reason,
                    a.time,
                    a.status,
                    who,
                    a.decision_reason,
                    a.decided_at,
                )
                for a, r, who in s.execute(query)
            ]

    def release_set_aside(
        self, project: str, record_ids: Sequence[str], *, owner: str, reason: str
    ) -> None:
        """Put records set aside into the screening queue (an owner found what they are).

        Raises
        ------
        InputError
            If ``owner`` is not an owner of the project, ``reason`` is empty, or a record is
            not set aside and held (unknown, never set aside, released or discarded
            already); nothing is changed then.
        """
        self._decide_set_aside(project, record_ids, owner, reason, "released")

    def discard_set_aside(
        self, project: str, record_ids: Sequence[str], *, owner: str, reason: str
    ) -> None:
        """Remove records set aside before screening, for good; PRISMA counts them among the
        records removed for other reasons, under ``reason``. The records themselves are kept
        (and exported by backups). Raises as :meth:`release_set_aside`."""
        self._decide_set_aside(project, record_ids, owner, reason, "discarded")

    def _decide_set_aside(
        self, project: str, record_ids: Sequence[str], owner: str, reason: str, status: str
    ) -> None:
        check_text("reason", reason, purpose=" for the audit log")
        ids = list(dict.fromkeys([record_ids] if isinstance(record_ids, str) else record_ids))
        if not ids:
            raise InputError("record_ids is empty; name at least one record set aside.")
        verb = "release" if status == "released" else "discard"
        with self.session() as s:
            proj = self._project(s, project, lock=True)
            person = owner_row(s, proj, owner, f"{verb} records set aside")
            rows = {
                row.record_id: row
                for row in s.scalars(
                    select(SetAside).where(
                        SetAside.project_id == proj.id, SetAside.record_id.in_(ids)
                    )
                )
            }
            missing = [rid for rid in ids if rid not in rows]
            if missing:
                raise InputError(
                    f"record_ids: {missing} are not set aside in project "
                    f"{proj.name!r}; nothing was changed."
                )
            done = [rid for rid in ids if rows[rid].status != "held"]
            if done:
                states = ", ".join(f"{rid} ({rows[rid].status})" for rid in done)
                raise InputError(f"record_ids: {states} were decided already; nothing was changed.")
            now: datetime = utc_now()
            for rid in ids:
                row = rows[rid]
                row.status, row.decided_by = status, person.id
                row.decision_reason, row.decided_at = reason, now
                self._audit(
                    s, owner, "set_aside", rid, {"status": "held"}, {"status": status}, reason
                )
