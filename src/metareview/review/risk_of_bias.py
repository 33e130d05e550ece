"""Risk-of-bias judgements per study and domain, by two reviewers, with consensus.

Tools and their domains are those of :mod:`metareview._rob_tools` (RoB 2, ROBINS-I 2016,
Newcastle-Ottawa), the same that :func:`metareview.plots.rob` reads. A judgement is checked
against the tool's levels (or star counts) when it is entered, with its support text
("quotes and reasons", Cochrane Handbook ch. 8.2). Where reviewers disagree on a domain the
consensus judgement is recorded separately; the table :meth:`RobMixin.rob_table` gives is
what :func:`metareview.plots.rob` draws.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import select

from metareview._rob_tools import TOOL_NAMES, TOOLS, judgement_cell
from metareview.exceptions import InputError
from metareview.review._core import StoreCore
from metareview.review.models import Reviewer, RobJudgement, Study
from metareview.review.screening import reviewer_row

__all__ = ["RobMixin"]


def _tool(tool: str) -> tuple[str, Any]:
    name = TOOL_NAMES.check(tool)
    return name, TOOLS[name]


def _checked(spec: Any, study: str, domain: str, judgement: Any) -> str:
    codes = (*spec.codes, spec.overall)
    if domain not in codes:
        raise InputError(
            f"study {study!r}: domain must be one of {list(codes)} for {spec.name}; got {domain!r}."
        )
    if spec.is_star_scale and domain == spec.overall:
        raise InputError(
            f"study {study!r}: the {spec.overall} of {spec.name} is the sum of "
            "the domains' stars; it is not entered."
        )
    level = judgement_cell(spec, study, domain, judgement)
    return str(level if isinstance(level, int) else level.label)


class RobMixin(StoreCore):
    """Risk-of-bias methods of :class:`~metareview.review.Store`."""

    def judge_rob(
        self,
        project: str,
        study: str,
        tool: str,
        domain: str,
        judgement: Any,
        *,
        reviewer: str,
        support: str | None = None,
        consensus: bool = False,
    ) -> None:
        """Record a judgement of ``domain`` (``"D1"``... or ``"Overall"``; NOS: the three
        domains' star counts) of ``study`` with ``tool``, by ``reviewer`` (or, with
        ``consensus=True``, the agreed judgement ``reviewer`` recorded). A re-entry revises.
        """
        name, spec = _tool(tool)
        label = _checked(spec, study, domain, judgement)
        with self.session() as s:
            proj = self._project(s, project, lock=True)
            person = reviewer_row(s, proj, reviewer)
            row = s.scalar(select(Study).where(Study.project_id == proj.id, Study.label == study))
            if row is None:
                raise InputError(f"study {study!r} is not in project {proj.name!r}.")
            old = s.scalar(
                select(RobJudgement).where(
                    RobJudgement.study_id == row.id,
                    RobJudgement.tool == name,
                    RobJudgement.domain == domain,
                    RobJudgement.reviewer_id == person.id,
                    RobJudgement.consensus.is_(consensus),
                )
            )
            new = {
                "tool": name,
                "domain": domain,
                "judgement": label,
                "support": support,
                "consensus": consensus,
            }
            if old is None:
                s.add(
                    RobJudgement(
                        project_id=proj.id,
                        study_id=row.id,
                        tool=name,
                        domain=domain,
                        reviewer_id=person.id,
                        judgement=label,
                        support=support,
                        consensus=consensus,
                    )
                )
                self._audit(
                    s,
                    reviewer,
                    "rob_judgement",
                    f"{study}/{name}/{domain}",
                    None,
                    new,
                    "consensus" if consensus else "judged",
                )
            else:
                self._audit(
                    s,
                    reviewer,
                    "rob_judgement",
                    f"{study}/{name}/{domain}",
                    {"judgement": old.judgement, "support": old.support},
                    new,
                    "revised",
                )
                old.judgement, old.support = label, support

    def rob_judgements(self, project: str, tool: str) -> pd.DataFrame:
        """All judgements with ``tool``: ``study``, ``domain``, ``reviewer``, ``judgement``,
        ``support``, ``consensus``."""
        name, _ = _tool(tool)
        with self.session() as s:
            proj = self._project(s, project)
            rows = s.execute(
                select(
                    Study.label,
                    RobJudgement.domain,
                    Reviewer.name,
                    RobJudgement.judgement,
                    RobJudgement.support,
                    RobJudgement.consensus,
                )
                .join(Study, Study.id == RobJudgement.study_id)
                .join(Reviewer, Reviewer.id == RobJudgement.reviewer_id)
                .where(RobJudgement.project_id == proj.id, RobJudgement.tool == name)
                .order_by(RobJudgement.id)
            ).all()
        return pd.DataFrame(
            [tuple(r) for r in rows],
            columns=["study", "domain", "reviewer", "judgement", "support", "consensus"],
        )

    def rob_conflicts(self, project: str, tool: str) -> pd.DataFrame:
        """Domains whose reviewers disagree and that have no consensus judgement yet."""
        table = self.rob_judgements(project, tool)
        rows = []
        for (study, domain), group in table.groupby(["study", "domain"], sort=False):
            if group["consensus"].any():
                continue
            if group["judgement"].nunique() > 1:
                rows.append(
                    (study, domain, dict(zip(group["reviewer"], group["judgement"], strict=True)))
                )
        return pd.DataFrame(rows, columns=["study", "domain", "judgements"])

    def rob_table(self, project: str, tool: str) -> pd.DataFrame:
        """One row per study (index), one column per domain: the consensus judgement, or the
        reviewers' common one -- the input of :func:`metareview.plots.rob`.

        Raises InputError while a domain is in conflict (see :meth:`rob_conflicts`).
        """
        open_ = self.rob_conflicts(project, tool)
        if not open_.empty:
            shown = "; ".join(f"{r.study}/{r.domain}" for r in open_.head(5).itertuples())
            raise InputError(
                f"{len(open_)} risk-of-bias domains are in conflict ({shown}); "
                "record a consensus judgement first."
            )
        _, spec = _tool(tool)
        table = self.rob_judgements(project, tool)
        final: dict[str, dict[str, Any]] = {}
        for (study, domain), group in table.groupby(["study", "domain"], sort=False):
            chosen = group[group["consensus"]] if group["consensus"].any() else group
            value = chosen["judgement"].iloc[-1]
            final.setdefault(study, {})[domain] = int(value) if spec.is_star_scale else value
        columns = [
            c for c in (*spec.codes, spec.overall) if any(c in row for row in final.values())
        ]
        return pd.DataFrame.from_dict(final, orient="index", columns=columns)
