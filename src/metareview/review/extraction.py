"""Included studies and dual data extraction.

Reports included at full text are grouped into studies (:meth:`assign_study`); each study's
fields (an :class:`~metareview.review.extraction_form.ExtractionForm`) are extracted by two
reviewers independently; a field whose values differ is a conflict until resolved with a
reason; the agreed values make the studies table that ``metareview report`` reads. Agreement
between extractors is Cohen's kappa over all (study, field) items, the statistic the seed
review reports (kappa 0.98).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from metareview._validation import check_text
from metareview.exceptions import InputError, StoreError
from metareview.review._core import StoreCore
from metareview.review.extraction_form import ExtractionForm
from metareview.review.models import (
    ExtractionResolution,
    ExtractionValue,
    Reviewer,
    Study,
    StudyReport,
)
from metareview.review.screening import outcomes, reviewer_row

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from sqlalchemy.orm import Session

    from metareview.review.models import Project
    from metareview.stats.agreement import KappaResult

__all__ = ["ExtractionMixin"]


class ExtractionMixin(StoreCore):
    """Study and extraction methods of :class:`~metareview.review.Store`."""

    def assign_study(
        self, project: str, label: str, record_ids: Sequence[str], *, actor: str, new: bool = False
    ) -> None:
        """Make ``record_ids`` (reports included at full text) the reports of study ``label``.

        The study is created if new; a report belongs to one study only. With ``new=True``
        the study must not exist yet: a label that collides with an existing one -- the same
        ignoring case and spacing ("Kiefer 2008", "kiefer  2008") -- is refused with
        StoreError, since two studies that read alike would be confused in every table.
        """
        check_text("label", label, max_length=200)
        with self.session() as s:
            proj = self._project(s, project, lock=True)
            if new and not record_ids:
                raise InputError(f"study {label!r}: choose at least one report.")
            if new:
                key = " ".join(label.split()).casefold()
                for existing in s.scalars(select(Study.label).where(Study.project_id == proj.id)):
                    if " ".join(existing.split()).casefold() == key:
                        raise StoreError(
                            f"study label {label!r} collides with the existing study "
                            f"{existing!r} (labels are compared ignoring case and spacing); "
                            "choose another, e.g. with a or b after the year."
                        )
            included = {rid for rid, d in outcomes(s, proj, "full_text").items() if d == "include"}
            for rid in record_ids:
                if rid not in included:
                    raise InputError(
                        f"record {rid}: not included at full text, so it cannot "
                        f"be a report of study {label!r}."
                    )
            linked = dict(
                s.execute(
                    select(StudyReport.record_id, Study.label)
                    .join(Study)
                    .where(Study.project_id == proj.id, StudyReport.record_id.in_(list(record_ids)))
                ).all()
            )
            elsewhere = {r: lab for r, lab in linked.items() if lab != label}
            if elsewhere:
                raise InputError(f"records already belong to other studies: {elsewhere}.")
            study = s.scalar(select(Study).where(Study.project_id == proj.id, Study.label == label))
            if study is None:
                study = Study(project_id=proj.id, label=label)
                s.add(study)
                s.flush()
            for rid in record_ids:
                if rid not in linked:
                    s.add(StudyReport(study_id=study.id, record_id=rid))
            self._audit(
                s,
                actor,
                "study",
                str(study.id),
                None,
                {"label": label, "records": list(record_ids)},
                "reports assigned",
            )

    def studies(self, project: str) -> pd.DataFrame:
        """Studies of ``project``: ``study`` (label) and ``record_ids`` (list)."""
        import pandas as pd

        with self.session() as s:
            proj = self._project(s, project)
            rows = s.execute(
                select(Study.label, StudyReport.record_id)
                .join(StudyReport)
                .where(Study.project_id == proj.id)
                .order_by(Study.id, StudyReport.record_id)
            ).all()
        grouped: dict[str, list[str]] = {}
        for label, rid in rows:
            grouped.setdefault(label, []).append(rid)
        return pd.DataFrame({"study": list(grouped), "record_ids": list(grouped.values())})

    def extract(
        self,
        project: str,
        study: str,
        reviewer: str,
        values: Mapping[str, Any],
        form: ExtractionForm,
    ) -> None:
        """Record ``reviewer``'s values of form fields for ``study`` (a re-entry revises).

        Each value is checked against the form first (type, range, choices); one bad value
        refuses the whole call, naming the study and the field.
        """
        checked = {name: form.field(name).check(study, value) for name, value in values.items()}
        with self.session() as s:
            proj = self._project(s, project, lock=True)
            person = reviewer_row(s, proj, reviewer)
            row = _study(s, proj, study)
            for name, value in checked.items():
                cell = s.scalar(
                    select(ExtractionValue).where(
                        ExtractionValue.study_id == row.id,
                        ExtractionValue.field == name,
                        ExtractionValue.reviewer_id == person.id,
                    )
                )
                if cell is None:
                    s.add(
                        ExtractionValue(
                            project_id=proj.id,
                            study_id=row.id,
                            field=name,
                            reviewer_id=person.id,
                            value=value,
                        )
                    )
                    self._audit(
                        s, reviewer, "extraction_value", f"{study}/{name}", None, value, "extracted"
                    )
                elif cell.value != value:
                    self._audit(
                        s,
                        reviewer,
                        "extraction_value",
                        f"{study}/{name}",
                        cell.value,
                        value,
                        "revised",
                    )
                    cell.value = value

    def extraction_values(self, project: str) -> pd.DataFrame:
        """Every extracted value: ``study``, ``field``, ``reviewer``, ``value``."""
        import pandas as pd

        with self.session() as s:
            proj = self._project(s, project)
            rows = s.execute(
                select(Study.label, ExtractionValue.field, Reviewer.name, ExtractionValue.value)
                .join(Study, Study.id == ExtractionValue.study_id)
                .join(Reviewer, Reviewer.id == ExtractionValue.reviewer_id)
                .where(ExtractionValue.project_id == proj.id)
                .order_by(ExtractionValue.id)
            ).all()
        return pd.DataFrame(
            [tuple(r) for r in rows], columns=["study", "field", "reviewer", "value"]
        )

    def extraction_conflicts(self, project: str) -> pd.DataFrame:
        """Fields whose extractors disagree and that are not resolved: ``study``, ``field``,
        ``values`` (``{reviewer: value}``)."""
        return _open_conflicts(self.extraction_values(project), self._resolutions(project))

    def resolve_extraction(
        self,
        project: str,
        study: str,
        field: str,
        value: Any,
        form: ExtractionForm,
        *,
        by: str,
        reason: str,
    ) -> None:
        """Set the agreed ``value`` of ``field`` for ``study`` (checked against the form)."""
        checked = form.field(field).check(study, value)
        check_text(f"study {study!r}, field {field!r}: the resolution's reason", reason)
        with self.session() as s:
            proj = self._project(s, project, lock=True)
            person = reviewer_row(s, proj, by)
            row = _study(s, proj, study)
            if (
                s.scalar(
                    select(ExtractionResolution.id).where(
                        ExtractionResolution.study_id == row.id, ExtractionResolution.field == field
                    )
                )
                is not None
            ):
                raise InputError(f"study {study!r}, field {field!r}: already resolved.")
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
            self._audit(s, by, "extraction_resolution", f"{study}/{field}", None, checked, reason)

    def _resolutions(self, project: str) -> dict[tuple[str, str], Any]:
        with self.session() as s:
            proj = self._project(s, project)
            rows = s.execute(
                select(Study.label, ExtractionResolution.field, ExtractionResolution.value)
                .join(Study, Study.id == ExtractionResolution.study_id)
                .where(ExtractionResolution.project_id == proj.id)
            ).all()
        return {(label, name): value for label, name, value in rows}

    def extraction_agreement(self, project: str, first: str, second: str) -> KappaResult:
        """Cohen's kappa between extractors ``first`` and ``second`` over every (study,
        field) both filled in; each distinct value is a category (numbers compared exactly
        after the form's type conversion)."""
        values = self.extraction_values(project)
        wide = values.assign(
            item=values["study"] + "\x1f" + values["field"], value=values["value"].map(_category)
        ).pivot(index="item", columns="reviewer", values="value")
        for name in (first, second):
            if name not in wide.columns:
                raise InputError(f"reviewer {name!r} has extracted nothing in {project!r}.")
        both = wide[[first, second]].dropna()
        from metareview.stats.agreement import cohen_kappa  # scipy: only when asked

        return cohen_kappa(both[first].tolist(), both[second].tolist())

    def studies_table(
        self, project: str, form: ExtractionForm, *, only: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """The agreed extraction table: one row per study, ``study`` then the form's fields
        (``only``: of these studies only).

        A field's value is the resolution if there is one, else the extractors' common
        value. Raises InputError listing open conflicts or required fields nobody filled.
        """
        import pandas as pd

        values = self.extraction_values(project)
        resolved = self._resolutions(project)
        if only is not None:
            values = values[values["study"].isin(list(only))]
        open_ = _open_conflicts(values, resolved)
        if not open_.empty:
            shown = "; ".join(f"{r.study}/{r.field}" for r in open_.head(5).itertuples())
            raise InputError(
                f"{len(open_)} extraction conflicts are open ({shown}); resolve them first."
            )
        table = []
        for study in self.studies(project)["study"]:
            if only is not None and study not in only:
                continue
            row: dict[str, Any] = {"study": study}
            mine = values[values["study"] == study]
            for spec in form.fields:
                if (study, spec.name) in resolved:
                    row[spec.name] = resolved[(study, spec.name)]
                    continue
                given = mine.loc[mine["field"] == spec.name, "value"].tolist()
                if not given and spec.required:
                    raise InputError(
                        f"study {study!r}, field {spec.name!r}: required but not extracted."
                    )
                row[spec.name] = given[0] if given else None
            table.append(row)
        return pd.DataFrame(table, columns=["study", *form.names])


def _open_conflicts(values: pd.DataFrame, resolved: Mapping[tuple[str, str], Any]) -> pd.DataFrame:
    """(study, field) items of ``values`` whose extractors disagree and are not resolved."""
    import pandas as pd

    rows = []
    for (study, name), group in values.groupby(["study", "field"], sort=False):
        if (study, name) in resolved or _agree(list(group["value"])):
            continue
        rows.append((study, name, dict(zip(group["reviewer"], group["value"], strict=True))))
    return pd.DataFrame(rows, columns=["study", "field", "values"])


def _study(s: Session, proj: Project, label: str) -> Study:
    row = s.scalar(select(Study).where(Study.project_id == proj.id, Study.label == label))
    if row is None:
        raise InputError(f"study {label!r} is not in project {proj.name!r} (assign_study first).")
    return row


def _category(value: Any) -> Any:
    """A hashable category for a value; "not reported" (None) is a category of its own."""
    if value is None:
        return "<not reported>"
    if isinstance(value, float) and value == int(value) and math.isfinite(value):
        return int(value)
    return value


def _agree(values: list[Any]) -> bool:
    return len({repr(_category(v)) for v in values}) <= 1
