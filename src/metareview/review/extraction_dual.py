"""Dual, blinded extraction as a team does it in the browser: the rules, as Store methods.

- The project's extraction form is stored with the project (:meth:`set_extraction_form`, the
  protocol's ``[extraction]`` section), so every interface checks values against one form.
- Each study is extracted by two reviewers (:data:`EXTRACTORS_PER_STUDY`), independently: a
  reviewer saves drafts (:meth:`save_extraction`; a required field may stay empty until
  :meth:`submit_extraction`) and sees only their own values. A third reviewer cannot start.
- Once both have submitted, the study is complete: the two extractions are shown side by
  side (:meth:`reconciliation`), the extractors' values are frozen, and each field where
  they differ is reconciled with an agreed value, who agreed it and why
  (:meth:`reconcile_extraction`; a later reconciliation of the same field revises it, with
  the old value kept in the audit log).
- Blinding, as in screening: no method returns another reviewer's values of a study that is
  not complete; agreement (:meth:`extraction_kappa`) counts complete studies only.
- Saves are compare-and-set: the caller says which version of each field it saw (the token
  of :meth:`extraction_sheet` or :meth:`reconciliation`); a field stored meanwhile by another
  session refuses the whole save with
  :class:`~metareview.exceptions.StaleExtractionError` and writes nothing. Every change is
  audited with its old value (:meth:`extraction_history`).
- Integrity checks (:func:`~metareview.review.extraction_checks.form_flags`) run on the
  reviewer's own rows, saved or as typed (:meth:`extraction_flags`).
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from metareview._validation import check_text
from metareview.exceptions import FieldsError, InputError, StaleExtractionError, StoreError
from metareview.review._core import StoreCore
from metareview.review.extraction import _category, _study
from metareview.review.extraction_checks import form_flags
from metareview.review.extraction_form import ExtractionForm
from metareview.review.models import (
    AuditLog,
    ExtractionFormRow,
    ExtractionResolution,
    ExtractionSubmission,
    ExtractionValue,
    Record,
    Reviewer,
    Study,
    StudyReport,
    utc_now,
)
from metareview.review.screening import outcomes, reviewer_row

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from sqlalchemy.orm import Session

    from metareview.integrity import Flag

__all__ = ["EXTRACTORS_PER_STUDY", "DualExtractionMixin", "ExtractionSheet"]

#: reviewers who extract each study independently
EXTRACTORS_PER_STUDY = 2


@dataclass(frozen=True, slots=True)
class ExtractionSheet:
    """One reviewer's extraction of one study, as that reviewer may see it.

    Attributes
    ----------
    study, reviewer : str
    values : dict
        Field -> the reviewer's stored value (fields not yet saved are absent).
    tokens : dict
        Field -> the version the caller saw ("" for a field never saved); pass it back as
        ``seen`` when saving.
    submitted : bool
        The reviewer declared this extraction finished.
    complete : bool
        Two reviewers have submitted: values are frozen, reconciliation is open.
    extractors : int
        How many reviewers extract the study (no names: blinding).
    """

    study: str
    reviewer: str
    values: dict[str, Any]
    tokens: dict[str, str]
    submitted: bool
    complete: bool
    extractors: int


def _token(row: ExtractionValue | ExtractionResolution | None) -> str:
    """The version of a stored value: its id and time ("" when nothing is stored)."""
    if row is None:
        return ""
    return f"{row.id}@{row.time.replace(tzinfo=None).isoformat()}"


class DualExtractionMixin(StoreCore):
    """Dual blinded extraction, reconciliation and extraction agreement (see the module)."""

    # ------------------------------------------------------------------ the form

    def set_extraction_form(
        self,
        project: str,
        section: Mapping[str, Any],
        *,
        actor: str,
        protocol: str | None = None,
    ) -> ExtractionForm:
        """Make ``section`` (the protocol's ``[extraction]`` mapping) the project's form.

        The form is checked first (:meth:`ExtractionForm.from_mapping`); replacing a form
        is audited with the old one. Values already extracted stay as they are.

        ``protocol``, the whole ``protocol.toml`` text the section was read from, is kept
        with the form (:meth:`project_protocol`): the analysis page and the report read
        the project's outcomes from it, with no review folder on the server. Its
        ``[extraction]`` section must be ``section``.
        """
        form = ExtractionForm.from_mapping(section)
        spec: dict[str, Any] = {
            "fields": {name: dict(value) for name, value in section["fields"].items()}
        }
        if protocol is not None:
            try:
                parsed = tomllib.loads(protocol)
            except tomllib.TOMLDecodeError as exc:
                raise InputError(f"protocol: not valid TOML ({exc}).") from exc
            if ExtractionForm.from_mapping(parsed.get("extraction", {})) != form:
                raise InputError(
                    "protocol: its [extraction] section is not the form being set; pass the "
                    "protocol the section was read from."
                )
            spec["protocol"] = protocol
        with self.session() as s:
            proj = self._project(s, project, lock=True)
            row = s.scalar(select(ExtractionFormRow).where(ExtractionFormRow.project_id == proj.id))
            old = None if row is None else row.spec
            if row is None:
                s.add(ExtractionFormRow(project_id=proj.id, spec=spec, set_by=actor))
            else:
                row.spec, row.set_by, row.time = spec, actor, utc_now()
            self._audit(s, actor, "extraction_form", project, old, spec, "extraction form set")
        return form

    def extraction_form(self, project: str) -> ExtractionForm:
        """The project's extraction form; InputError when none was set."""
        with self.session() as s:
            proj = self._project(s, project)
            row = s.scalar(select(ExtractionFormRow).where(ExtractionFormRow.project_id == proj.id))
            if row is None:
                raise InputError(
                    f"project {project!r} has no extraction form yet; an owner sets it from "
                    "the protocol's [extraction] section (Store.set_extraction_form)."
                )
            return ExtractionForm.from_mapping(row.spec)

    def project_protocol(self, project: str) -> str | None:
        """The ``protocol.toml`` text kept with the project's extraction form
        (:meth:`set_extraction_form` with ``protocol``), or None."""
        with self.session() as s:
            proj = self._project(s, project)
            row = s.scalar(select(ExtractionFormRow).where(ExtractionFormRow.project_id == proj.id))
            return None if row is None else row.spec.get("protocol")

    # ------------------------------------------------------------------ studies

    def unassigned_reports(self, project: str) -> pd.DataFrame:
        """Reports included at full text that belong to no study yet: ``record_id``,
        ``title``, ``authors``, ``year`` (import order)."""
        import pandas as pd

        with self.session() as s:
            proj = self._project(s, project)
            included = {rid for rid, d in outcomes(s, proj, "full_text").items() if d == "include"}
            linked = set(
                s.scalars(
                    select(StudyReport.record_id).join(Study).where(Study.project_id == proj.id)
                )
            )
            wanted = sorted(included - linked)
            rows = s.execute(
                select(Record.id, Record.title, Record.authors, Record.year)
                .where(Record.id.in_(wanted))
                .order_by(Record.source_id, Record.ordinal)
            ).all()
        return pd.DataFrame(
            [tuple(r) for r in rows],
            columns=["record_id", "title", "authors", "year"],
            dtype=object,
        )

    # ------------------------------------------------------------------ one extractor

    def extraction_sheet(self, project: str, study: str, reviewer: str) -> ExtractionSheet:
        """``reviewer``'s own values of ``study`` with their versions (blinded: nothing of
        the other extractor but their existence)."""
        with self.session() as s:
            proj = self._project(s, project)
            person = reviewer_row(s, proj, reviewer)
            row = _study(s, proj, study)
            cells = _cells(s, row.id, person.id)
            submitted = _submitted(s, row.id)
            return ExtractionSheet(
                study=study,
                reviewer=reviewer,
                values={name: c.value for name, c in cells.items()},
                tokens={name: _token(c) for name, c in cells.items()},
                submitted=person.id in submitted,
                complete=len(submitted) >= EXTRACTORS_PER_STUDY,
                extractors=len(_extractors(s, row.id)),
            )

    def save_extraction(
        self,
        project: str,
        study: str,
        reviewer: str,
        values: Mapping[str, Any],
        *,
        seen: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """Save ``reviewer``'s values of ``study`` (a draft: required fields may be empty).

        Parameters
        ----------
        values : mapping
            Field -> value as typed ("93.5%", "19(26)", "" for not reported) or a Python
            value; checked against the project's form.
        seen : mapping, optional
            Field -> the token the caller saw (:meth:`extraction_sheet`; "" for none). A
            field stored meanwhile by another session refuses the save. None: no check
            (scripts that are the only writer).

        Returns
        -------
        dict
            Field -> its new token.

        Raises
        ------
        FieldsError
            Values the form refuses, one message per field; nothing written.
        StaleExtractionError
            A field changed since ``seen``; nothing written.
        StoreError
            The study is complete (frozen), or two other reviewers extract it.
        """
        form = self.extraction_form(project)
        errors: dict[str, str] = {}
        checked: dict[str, Any] = {}
        for name, value in values.items():
            try:
                spec = form.field(name)
                checked[name] = dataclasses.replace(spec, required=False).check(study, value)
            except InputError as exc:
                errors[name] = str(exc)
        if errors:
            raise FieldsError(errors)
        with self.session() as s:
            proj = self._project(s, project, lock=True)
            person = reviewer_row(s, proj, reviewer)
            row = _study(s, proj, study)
            _check_may_extract(s, row, person)
            cells = _cells(s, row.id, person.id)
            if seen is not None:
                stale = {
                    name: (cells[name].value if name in cells else None)
                    for name in checked
                    if _token(cells.get(name)) != seen.get(name, "")
                }
                if stale:
                    raise StaleExtractionError(study, stale)
            now = utc_now()
            for name, value in checked.items():
                cell = cells.get(name)
                if cell is None:
                    if value is None:
                        continue  # an empty field never saved: nothing to record
                    cell = ExtractionValue(
                        project_id=proj.id,
                        study_id=row.id,
                        field=name,
                        reviewer_id=person.id,
                        value=value,
                        time=now,
                    )
                    s.add(cell)
                    cells[name] = cell
                    self._audit(
                        s, reviewer, "extraction_value", f"{study}/{name}", None, value, "extracted"
                    )
                elif cell.value != value or type(cell.value) is not type(value):
                    self._audit(
                        s,
                        reviewer,
                        "extraction_value",
                        f"{study}/{name}",
                        cell.value,
                        value,
                        "revised",
                    )
                    cell.value, cell.time = value, now
            s.flush()
            return {name: _token(cells[name]) for name in checked if name in cells}

    def submit_extraction(self, project: str, study: str, reviewer: str) -> bool:
        """Declare ``reviewer``'s extraction of ``study`` finished; True when this makes the
        study complete (two submissions). FieldsError listing required fields left empty."""
        form = self.extraction_form(project)
        with self.session() as s:
            proj = self._project(s, project, lock=True)
            person = reviewer_row(s, proj, reviewer)
            row = _study(s, proj, study)
            submitted = _submitted(s, row.id)
            if person.id in submitted:
                raise StoreError(f"study {study!r}: you have already submitted its extraction.")
            _check_may_extract(s, row, person)
            cells = _cells(s, row.id, person.id)
            missing = {
                spec.name: f"study {study!r}, field {spec.name!r}: a value is required "
                "(the form marks it required)."
                for spec in form.fields
                if spec.required and (spec.name not in cells or cells[spec.name].value is None)
            }
            if missing:
                raise FieldsError(missing)
            s.add(ExtractionSubmission(study_id=row.id, reviewer_id=person.id, project_id=proj.id))
            self._audit(s, reviewer, "extraction_submission", study, None, True, "submitted")
            return len(submitted) + 1 >= EXTRACTORS_PER_STUDY

    def extraction_status(self, project: str, reviewer: str | None) -> pd.DataFrame:
        """Every study with what ``reviewer`` may know of it: ``study``, ``extractors``
        (how many), ``submitted`` (how many), ``mine`` ("not started", "draft",
        "submitted"; None for no reviewer), ``complete``, ``open_conflicts`` (fields where the
        extractors differ and nothing is agreed; counted for complete studies only)."""
        import pandas as pd

        with self.session() as s:
            proj = self._project(s, project)
            person = None if reviewer is None else reviewer_row(s, proj, reviewer)
            studies = s.execute(
                select(Study.id, Study.label).where(Study.project_id == proj.id).order_by(Study.id)
            ).all()
            rows = []
            for sid, label in studies:
                extractors = _extractors(s, sid)
                submitted = _submitted(s, sid)
                complete = len(submitted) >= EXTRACTORS_PER_STUDY
                mine = None
                if person is not None:
                    mine = (
                        "submitted"
                        if person.id in submitted
                        else "draft"
                        if person.id in extractors
                        else "not started"
                    )
                rows.append(
                    {
                        "study": label,
                        "extractors": len(extractors),
                        "submitted": len(submitted),
                        "mine": mine,
                        "complete": complete,
                        "open_conflicts": (
                            sum(1 for f in _fields(s, sid, submitted) if f["open"])
                            if complete
                            else 0
                        ),
                    }
                )
        return pd.DataFrame(
            rows,
            columns=["study", "extractors", "submitted", "mine", "complete", "open_conflicts"],
        )

    def extraction_flags(
        self,
        project: str,
        study: str,
        reviewer: str,
        typed: Mapping[str, Any] | None = None,
    ) -> list[Flag]:
        """Integrity findings of ``reviewer``'s row of ``study``: their saved values, with
        ``typed`` (field -> text as typed, not yet saved) in their place when given. The
        other studies' rows are the reviewer's own (the median of a percentage column)."""
        form = self.extraction_form(project)
        with self.session() as s:
            proj = self._project(s, project)
            person = reviewer_row(s, proj, reviewer)
            _study(s, proj, study)
            saved = s.execute(
                select(Study.label, ExtractionValue.field, ExtractionValue.value)
                .join(Study, Study.id == ExtractionValue.study_id)
                .where(
                    ExtractionValue.project_id == proj.id,
                    ExtractionValue.reviewer_id == person.id,
                )
            ).all()
        rows: dict[str, dict[str, Any]] = {study: {}}
        for label, name, value in saved:
            rows.setdefault(label, {})[name] = value
        if typed is not None:
            rows[study] = {**rows[study], **{k: v for k, v in typed.items() if k in form.names}}
        return [f for f in form_flags(form, rows) if f.study == study]

    # ------------------------------------------------------------------ reconciliation

    def reconciliation(self, project: str, study: str) -> pd.DataFrame:
        """The two extractions of a complete study side by side, one row per form field:
        ``field``, ``values`` ({reviewer: value}), ``differs``, ``agreed`` (the agreed
        value: the resolution, else the common value), ``resolved_by``, ``reason``,
        ``token`` (pass back to :meth:`reconcile_extraction`).

        StoreError while the study is not complete (blinding)."""
        import pandas as pd

        form = self.extraction_form(project)
        with self.session() as s:
            proj = self._project(s, project)
            row = _study(s, proj, study)
            submitted = _submitted(s, row.id)
            if len(submitted) < EXTRACTORS_PER_STUDY:
                raise StoreError(
                    f"study {study!r}: its extraction is not complete ({len(submitted)} of "
                    f"{EXTRACTORS_PER_STUDY} extractors submitted); the values stay blinded "
                    "until then."
                )
            by_name = {f["field"]: f for f in _fields(s, row.id, submitted)}
        rows = []
        for spec in form.fields:
            f = by_name.get(spec.name) or {"values": {}, "differs": False, "token": "||"}
            rows.append(
                {
                    "field": spec.name,
                    "values": f["values"],
                    "differs": f["differs"],
                    "agreed": f.get("agreed"),
                    "resolved_by": f.get("resolved_by"),
                    "reason": f.get("reason"),
                    "token": f["token"],
                }
            )
        return pd.DataFrame(
            rows,
            columns=["field", "values", "differs", "agreed", "resolved_by", "reason", "token"],
            dtype=object,  # None stays None (not NaN), 20 stays an int
        )

    def reconcile_extraction(
        self,
        project: str,
        study: str,
        field: str,
        value: Any,
        *,
        by: str,
        reason: str,
        seen: str | None = None,
    ) -> None:
        """Record the agreed ``value`` of ``field`` for the complete ``study``, with who
        (``by``) and why (``reason``). A field already agreed is revised (the old agreement
        stays in the audit log).

        ``seen`` is the field's token from :meth:`reconciliation`: if an extractor's value or
        the agreement changed since, StaleExtractionError and nothing is written.
        """
        form = self.extraction_form(project)
        spec = form.field(field)
        try:
            checked = spec.check(study, value)
        except InputError as exc:
            raise FieldsError({field: str(exc)}) from None
        check_text(f"study {study!r}, field {field!r}: the reason", reason)
        with self.session() as s:
            proj = self._project(s, project, lock=True)
            person = reviewer_row(s, proj, by)
            row = _study(s, proj, study)
            submitted = _submitted(s, row.id)
            if len(submitted) < EXTRACTORS_PER_STUDY:
                raise StoreError(
                    f"study {study!r}: its extraction is not complete; it can be reconciled "
                    "once both extractors have submitted."
                )
            current = {f["field"]: f for f in _fields(s, row.id, submitted)}.get(field)
            token = current["token"] if current else "||"
            if seen is not None and seen != token:
                agreed = current.get("agreed") if current else None
                raise StaleExtractionError(study, {field: agreed})
            found = s.scalar(
                select(ExtractionResolution).where(
                    ExtractionResolution.study_id == row.id, ExtractionResolution.field == field
                )
            )
            if found is None:
                s.add(
                    ExtractionResolution(
                        project_id=proj.id,
                        study_id=row.id,
                        field=field,
                        value=checked,
                        reason=reason,
                        resolved_by=person.id,
                    )
                )
                old = None
            else:
                old = found.value
                found.value, found.reason, found.resolved_by = checked, reason, person.id
                found.time = utc_now()
            self._audit(s, by, "extraction_resolution", f"{study}/{field}", old, checked, reason)

    def extraction_history(self, project: str, study: str, field: str) -> pd.DataFrame:
        """Every change of ``field`` of ``study`` from the audit log, oldest first:
        ``time``, ``actor``, ``entity`` (value or resolution), ``old``, ``new``, ``reason``.
        Values of an incomplete study's other extractor are the caller's business to hide
        (the web shows a reviewer only their own entries before completion)."""
        import pandas as pd

        with self.session() as s:
            proj = self._project(s, project)
            _study(s, proj, study)
            rows = s.execute(
                select(
                    AuditLog.time,
                    AuditLog.actor,
                    AuditLog.entity,
                    AuditLog.old,
                    AuditLog.new,
                    AuditLog.reason,
                )
                .where(
                    AuditLog.project_id == proj.id,
                    AuditLog.entity.in_(["extraction_value", "extraction_resolution"]),
                    AuditLog.entity_id == f"{study}/{field}",
                )
                .order_by(AuditLog.id)
            ).all()
        return pd.DataFrame(
            [tuple(r) for r in rows],
            columns=["time", "actor", "entity", "old", "new", "reason"],
            dtype=object,  # values as stored: None stays None, 20 stays an int
        )

    def extraction_kappa(self, project: str) -> pd.DataFrame:
        """Cohen's kappa per field for each pair of reviewers over the complete studies both
        extracted: ``reviewer_a``, ``reviewer_b``, ``field``, ``n``, ``agreement``
        (proportion of identical values), ``kappa``, ``ci_lb``, ``ci_ub`` (NaN where kappa is
        undefined: one value throughout). Each distinct value is a category, compared after
        the form's conversion, as :meth:`extraction_agreement`."""
        import pandas as pd

        from metareview.stats.agreement import cohen_kappa  # scipy: only when asked

        with self.session() as s:
            proj = self._project(s, project)
            complete = [
                sid
                for (sid,) in s.execute(
                    select(ExtractionSubmission.study_id)
                    .where(ExtractionSubmission.project_id == proj.id)
                    .group_by(ExtractionSubmission.study_id)
                    .having(func.count() >= EXTRACTORS_PER_STUDY)
                ).all()
            ]
            values = s.execute(
                select(
                    ExtractionValue.study_id,
                    ExtractionValue.field,
                    Reviewer.name,
                    ExtractionValue.value,
                )
                .join(Reviewer, Reviewer.id == ExtractionValue.reviewer_id)
                .where(ExtractionValue.study_id.in_(complete))
            ).all()
        columns = ["reviewer_a", "reviewer_b", "field", "n", "agreement", "kappa", "ci_lb", "ci_ub"]
        if not values:
            return pd.DataFrame(columns=columns)
        frame = pd.DataFrame([tuple(v) for v in values], columns=["study", "field", "who", "value"])
        frame["value"] = frame["value"].map(lambda v: repr(_category(v)))
        out = []
        for name, group in frame.groupby("field", sort=False):
            wide = group.pivot(index="study", columns="who", values="value")
            names = sorted(wide.columns)
            for i, a in enumerate(names):
                for b in names[i + 1 :]:
                    both = wide[[a, b]].dropna()
                    if both.empty:
                        continue
                    agreement = float((both[a] == both[b]).mean())
                    kappa = lb = ub = float("nan")
                    try:
                        result = cohen_kappa(both[a].tolist(), both[b].tolist())
                        kappa, lb, ub = result.kappa, result.ci_lb, result.ci_ub
                    except InputError:
                        pass  # one category throughout: kappa undefined, agreement shown
                    out.append((a, b, name, len(both), agreement, kappa, lb, ub))
        return pd.DataFrame(out, columns=columns)


# ---------------------------------------------------------------------- helpers


def _cells(s: Session, study_id: int, reviewer_id: int) -> dict[str, ExtractionValue]:
    rows = s.scalars(
        select(ExtractionValue).where(
            ExtractionValue.study_id == study_id, ExtractionValue.reviewer_id == reviewer_id
        )
    )
    return {r.field: r for r in rows}


def _submitted(s: Session, study_id: int) -> set[int]:
    return set(
        s.scalars(
            select(ExtractionSubmission.reviewer_id).where(
                ExtractionSubmission.study_id == study_id
            )
        )
    )


def _extractors(s: Session, study_id: int) -> set[int]:
    """Reviewers who saved a value of the study or submitted it."""
    saved = set(
        s.scalars(select(ExtractionValue.reviewer_id).where(ExtractionValue.study_id == study_id))
    )
    return saved | _submitted(s, study_id)


def _check_may_extract(s: Session, study: Study, person: Reviewer) -> None:
    submitted = _submitted(s, study.id)
    if len(submitted) >= EXTRACTORS_PER_STUDY:
        raise StoreError(
            f"study {study.label!r}: its extraction is complete (both extractors submitted); "
            "values are changed on its reconciliation page, with a reason."
        )
    others = _extractors(s, study.id) - {person.id}
    if len(others) >= EXTRACTORS_PER_STUDY:
        raise StoreError(
            f"study {study.label!r} already has {EXTRACTORS_PER_STUDY} extractors; "
            "extract another study."
        )


def _fields(s: Session, study_id: int, submitted: set[int]) -> list[dict[str, Any]]:
    """Per field of a study: the submitted extractors' values, whether they differ, the
    agreed value, and the field's token (both extractors' and the resolution's versions)."""
    rows = s.execute(
        select(ExtractionValue, Reviewer.name)
        .join(Reviewer, Reviewer.id == ExtractionValue.reviewer_id)
        .where(
            ExtractionValue.study_id == study_id,
            ExtractionValue.reviewer_id.in_(list(submitted)),
        )
        .order_by(Reviewer.name)
    ).all()
    resolutions = {
        r.field: r
        for r in s.scalars(
            select(ExtractionResolution).where(ExtractionResolution.study_id == study_id)
        )
    }
    names = sorted(s.scalars(select(Reviewer.name).where(Reviewer.id.in_(list(submitted)))))
    by_field: dict[str, dict[str, ExtractionValue]] = {}
    for cell, who in rows:
        by_field.setdefault(cell.field, {})[who] = cell
    out = []
    for name in sorted(set(by_field) | set(resolutions)):
        cells = by_field.get(name, {})
        values = {who: (cells[who].value if who in cells else None) for who in names}
        differs = len({repr(_category(v)) for v in values.values()}) > 1
        res = resolutions.get(name)
        token = "|".join([*(_token(cells.get(who)) for who in names), _token(res)])
        out.append(
            {
                "field": name,
                "values": values,
                "differs": differs,
                "open": differs and res is None,
                "agreed": res.value
                if res is not None
                else (None if differs else next(iter(values.values()), None)),
                "resolved_by": (s.get(Reviewer, res.resolved_by).name if res is not None else None),
                "reason": res.reason if res is not None else None,
                "token": token,
            }
        )
    return out
