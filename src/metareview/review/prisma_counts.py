"""PRISMA 2020 flow counts derived from the store, never typed in.

Every box of the flow diagram (Page et al. 2021, BMJ 372:n71, Figure 1, "databases and
registers" branch) is a query on the store: records per database or register, duplicates
removed (secondary members of active duplicate groups), records screened and excluded at
title/abstract, reports sought, not retrieved, assessed, excluded with reasons and included at
full text, and studies included (distinct studies of the included reports). The counts are
checked against the flow's arithmetic by :func:`metareview._prisma_flow.check_counts`
and can be drawn by :func:`metareview.plots.prisma` or written in the CSV layout of the
PRISMA2020 R package / Shiny app (Haddaway, Page, Pritchard & McGuinness 2022, Campbell
Systematic Reviews 18:e1230; columns ``data,node,box,description,boxtext,tooltips,url,n``).
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from metareview._prisma_flow import check_counts
from metareview.exceptions import InputError
from metareview.review._core import StoreCore
from metareview.review.models import (
    Record,
    Source,
    Study,
    StudyReport,
)
from metareview.review.ranked_queue import stopped_records
from metareview.review.screening import (
    outcomes,
    secondary_records,
    set_aside_records,
    stage_rows,
)

__all__ = ["PRISMA2020_ROWS", "PrismaMixin"]

# (data, node, box, description) of the PRISMA2020 package's CSV rows that carry counts, in
# its order; the title boxes (identification, screening, included...) carry none.
PRISMA2020_ROWS = (
    ("previous_studies", "node5", "box1", "Studies included in previous version of review"),
    ("previous_reports", "NA", "box1", "Reports of studies in previous version of review"),
    ("database_results", "node7", "box2", "Records identified from databases"),
    ("register_results", "NA", "box2", "Records identified from registers"),
    ("website_results", "node17", "box11", "Records identified from websites"),
    ("organisation_results", "NA", "box11", "Records identified from organisations"),
    ("citations_results", "NA", "box11", "Records identified from citation searching"),
    ("duplicates", "node8", "box3", "Duplicate records removed"),
    ("excluded_automatic", "NA", "box3", "Records marked as ineligible by automation tools"),
    ("excluded_other", "NA", "box3", "Records removed for other reasons"),
    ("records_screened", "node9", "box4", "Records screened"),
    ("records_excluded", "node10", "box5", "Records excluded"),
    ("dbr_sought_reports", "node11", "box6", "Reports sought for retrieval"),
    ("dbr_notretrieved_reports", "node12", "box7", "Reports not retrieved"),
    ("other_sought_reports", "node18", "box12", "Reports sought for retrieval (other)"),
    ("other_notretrieved_reports", "node19", "box13", "Reports not retrieved (other)"),
    ("dbr_assessed", "node13", "box8", "Reports assessed for eligibility"),
    ("dbr_excluded", "node14", "box9", "Reports excluded, with reasons"),
    ("other_assessed", "node20", "box14", "Reports assessed for eligibility (other)"),
    ("other_excluded", "node21", "box15", "Reports excluded, with reasons (other)"),
    ("new_studies", "node15", "box10", "New studies included in review"),
    ("new_reports", "NA", "box10", "Reports of new included studies"),
    ("total_studies", "node22", "box16", "Total studies included in review"),
    ("total_reports", "NA", "box16", "Reports of total included studies"),
)


class PrismaMixin(StoreCore):
    """PRISMA methods of :class:`~metareview.review.Store`."""

    def prisma_counts(self, project: str) -> dict[str, Any]:
        """The PRISMA 2020 counts of ``project``, ready for :func:`metareview.plots.prisma`.

        Returns
        -------
        dict
            ``records_databases`` (``{database: n}``), ``records_registers`` (``{register:
            n}``, or 0 when none was searched), ``duplicates_removed``,
            ``records_removed_automation`` (records left unscreened because a stopping
            rule said stop, :meth:`stop_screening`), ``records_removed_other`` (``{reason: n}``
            for the records set aside and not released -- ``"no title, abstract or
            authors"`` while held, the owner's reason once discarded -- or 0 when there are
            none), ``records_screened``, ``records_excluded``,
            ``reports_sought``, ``reports_not_retrieved``, ``reports_assessed``,
            ``reports_excluded`` (``{reason: n}``), ``reports_included`` and
            ``studies_included``; checked against the flow's arithmetic.

        Raises
        ------
        InputError
            While any record still lacks an outcome (votes missing or a conflict open) at a
            stage it reached -- the counts would be wrong -- naming how many and which.

        Examples
        --------
        >>> from metareview.review import Store
        >>> store = Store.open("sqlite://"); _ = store.create_project("p")
        >>> store.prisma_counts("p")["records_screened"]
        0
        """
        with self.session() as s:
            proj = self._project(s, project)
            kinds = dict(
                s.execute(select(Source.id, Source.kind).where(Source.project_id == proj.id)).all()
            )
            names = {
                sid: (db or name)
                for sid, db, name in s.execute(
                    select(Source.id, Source.database, Source.name).where(
                        Source.project_id == proj.id
                    )
                ).all()
            }
            records = s.execute(
                select(Record.id, Record.source_id)
                .where(Record.project_id == proj.id)
                .order_by(Record.source_id, Record.ordinal)
            ).all()
            secondary = secondary_records(s, proj)
            aside = {
                rid: row for rid, row in set_aside_records(s, proj).items() if rid not in secondary
            }
            title_abstract = outcomes(s, proj, "title_abstract")
            automation = stopped_records(s, proj) - set(secondary) - set(aside)
            # the full-text stage holds exactly the reports sought and retrieved, i.e. assessed
            assessed_rows = stage_rows(s, proj, "full_text")
            studies = dict(
                s.execute(
                    select(StudyReport.record_id, Study.label)
                    .join(Study)
                    .where(Study.project_id == proj.id)
                ).all()
            )
        per_source: dict[str, Counter[str]] = {"database": Counter(), "register": Counter()}
        for _rid, sid in records:
            per_source[kinds[sid]][names[sid]] += 1
        units = [rid for rid, _ in records if rid not in secondary and rid not in aside]
        screened = [u for u in units if u not in automation]
        removed_other = Counter(
            row.decision_reason if row.status == "discarded" else row.reason
            for row in aside.values()
        )
        _require_outcomes("title_abstract", units, title_abstract)
        sought = [u for u in screened if title_abstract[u] == "include"]
        assessed = [rid for rid, *_ in assessed_rows]
        decided = {
            rid: (decision, reason) for rid, _, _, decision, reason in assessed_rows if decision
        }
        _require_outcomes("full_text", assessed, decided)
        excluded = Counter(reason for decision, reason in decided.values() if decision == "exclude")
        included = [rid for rid, (decision, _) in decided.items() if decision == "include"]
        counts: dict[str, Any] = {
            "records_databases": dict(per_source["database"]),
            "records_registers": dict(per_source["register"]) or 0,
            "duplicates_removed": len(secondary),
            # records a stopping rule left unscreened (Store.stop_screening); records set
            # aside (no title, abstract or authors) and not released are removed for other
            # reasons, by reason (review.set_aside)
            "records_removed_automation": len(automation),
            "records_removed_other": dict(sorted(removed_other.items())) or 0,
            "records_screened": len(screened),
            "records_excluded": sum(title_abstract[u] == "exclude" for u in screened),
            "reports_sought": len(sought),
            "reports_not_retrieved": len(sought) - len(assessed),
            "reports_assessed": len(assessed),
            "reports_excluded": dict(sorted(excluded.items())),
            "reports_included": len(included),
            "studies_included": len({studies.get(u, u) for u in included}),
        }
        check_counts(counts)
        return counts

    def prisma_csv(self, project: str, path: str | Path) -> Path:
        """Write the counts of ``project`` in the PRISMA2020 package's CSV layout.

        Boxes the store does not track (previous review, other methods) get ``n = 0`` as in
        the package's template; the automation box's tooltip names the stopping rule that
        left records unscreened (:meth:`stop_screening`); exclusion reasons are written
        ``"reason, n; reason, n"`` as the package expects. Returns the path written.
        """
        counts = self.prisma_counts(project)
        values = {
            "database_results": sum(counts["records_databases"].values()),
            "register_results": sum((counts["records_registers"] or {}).values()),
            "duplicates": counts["duplicates_removed"],
            "excluded_automatic": counts["records_removed_automation"],
            "excluded_other": _total(counts["records_removed_other"]),
            "records_screened": counts["records_screened"],
            "records_excluded": counts["records_excluded"],
            "dbr_sought_reports": counts["reports_sought"],
            "dbr_notretrieved_reports": counts["reports_not_retrieved"],
            "dbr_assessed": counts["reports_assessed"],
            "dbr_excluded": "; ".join(
                f"{reason.replace(',', ' ')}, {n}"
                for reason, n in counts["reports_excluded"].items()
            ),
            "new_studies": counts["studies_included"],
            "new_reports": counts["reports_included"],
            "total_studies": counts["studies_included"],
            "total_reports": counts["reports_included"],
        }
        stops = self.screening_stops(project)  # type: ignore[attr-defined]
        tooltips = (
            {
                "excluded_automatic": "Records marked as ineligible by automation tools: "
                + "; ".join(f"left unscreened by the {stop.rule} stopping rule" for stop in stops)
            }
            if stops
            else {}
        )
        path = Path(path)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(
                ["data", "node", "box", "description", "boxtext", "tooltips", "url", "n"]
            )
            for data, node, box, description in PRISMA2020_ROWS:
                writer.writerow(
                    [
                        data,
                        node,
                        box,
                        description,
                        description,
                        tooltips.get(data, description),
                        "NA",
                        values.get(data, 0),
                    ]
                )
        return path


def _total(count: int | dict[str, int]) -> int:
    return sum(count.values()) if isinstance(count, dict) else count


def _require_outcomes(stage: str, units: list[str], decided: Iterable[str]) -> None:
    decided = set(decided)
    missing = [u for u in units if u not in decided]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise InputError(
            f"PRISMA counts: {len(missing)} records have no {stage} outcome yet "
            f"(votes missing or a conflict open): {shown}."
        )
