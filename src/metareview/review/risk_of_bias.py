"""Risk-of-bias judgements per study and domain, by two reviewers, with consensus.

Tools and their domains are those of :mod:`metareview._rob_tools` (RoB 2, ROBINS-I 2016,
Newcastle-Ottawa), the same that :func:`metareview.plots.rob` reads. A judgement is checked
against the tool's levels (or star counts) when it is entered, with its support text
("quotes and reasons", Cochrane Handbook ch. 8.2). Where reviewers disagree on a domain the
consensus judgement is recorded separately; the table :meth:`RobMixin.rob_table` gives is
what :func:`metareview.plots.rob` draws.

Dual assessment as the web app runs it: :meth:`RobMixin.assess_rob` saves a reviewer's RoB 2
signalling answers with their judgements (the algorithm of
:mod:`metareview.review.rob_algorithm` suggests each domain's; a judgement against the
suggestion needs a reason), :meth:`RobMixin.rob_progress` says which studies are complete
(``reviewers_per_record`` assessors have judged every domain), and until then
:meth:`RobMixin.visible_rob_judgements` shows a reviewer only their own judgements and
:meth:`RobMixin.rob_agreed_table` leaves the study out of the figures (blinding as in
screening); :meth:`RobMixin.record_rob_consensus` settles a disagreement of a complete study.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from metareview._rob_tools import TOOL_NAMES, TOOLS, judgement_cell
from metareview.exceptions import InputError
from metareview.review._core import StoreCore
from metareview.review.models import Project, Reviewer, RobAnswer, RobJudgement, Study
from metareview.review.rob_algorithm import (
    check_answers,
    suggest_domain,
    suggest_overall,
)
from metareview.review.screening import reviewer_row

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from sqlalchemy.orm import Session

__all__ = ["RobMixin", "suggested_judgements"]


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
            row = _study_row(s, proj, study)
            self._judge(s, proj, row, person, name, domain, label, support, consensus)

    def _judge(
        self,
        s: Session,
        proj: Project,
        row: Study,
        person: Reviewer,
        name: str,
        domain: str,
        label: str,
        support: str | None,
        consensus: bool,
        reason: str | None = None,
    ) -> None:
        """Insert or revise one judgement row, audited, inside the caller's transaction."""
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
        key = f"{row.label}/{name}/{domain}"
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
            why = reason or ("consensus" if consensus else "judged")
            self._audit(s, person.name, "rob_judgement", key, None, new, why)
        elif (old.judgement, old.support) != (label, support):
            self._audit(
                s,
                person.name,
                "rob_judgement",
                key,
                {"judgement": old.judgement, "support": old.support},
                new,
                reason or "revised",
            )
            old.judgement, old.support = label, support

    def rob_judgements(self, project: str, tool: str) -> pd.DataFrame:
        """All judgements with ``tool``: ``study``, ``domain``, ``reviewer``, ``judgement``,
        ``support``, ``consensus``."""
        import pandas as pd

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
        import pandas as pd

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
        import pandas as pd

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

    # -- dual assessment with signalling questions, blinded until complete ---------------
    def assess_rob(
        self,
        project: str,
        study: str,
        tool: str,
        *,
        reviewer: str,
        judgements: Mapping[str, Any],
        answers: Mapping[str, str] | None = None,
        support: Mapping[str, str] | None = None,
    ) -> dict[str, str | None]:
        """Save ``reviewer``'s assessment of ``study`` with ``tool`` in one transaction:
        RoB 2 signalling ``answers`` (question -> Y/PY/PN/N/NI) and domain ``judgements``
        (domain -> level; NOS: star counts), each with its ``support`` text. A partial
        assessment may be saved and completed later; a re-entry revises (audited).

        Where the judgement differs from the one the tool's algorithm suggests (RoB 2: from
        the answers, :func:`~metareview.review.rob_algorithm.suggest_domain`; the overall
        judgement of RoB 2 and ROBINS-I from the domains), the support text is the reason
        for the override and is required.

        Returns the suggested judgement per domain (None where the answers do not reach one).

        Raises
        ------
        InputError
            An unknown domain or study, a level not of the tool, an answer not accepted for
            its question, or an override without a reason (naming the study and domain).
        """
        name, spec = _tool(tool)
        support = {k: v.strip() for k, v in (support or {}).items() if v and v.strip()}
        if answers and name != "RoB2":
            raise InputError(f"study {study!r}: signalling questions are kept for RoB 2 only.")
        clean = check_answers(study, answers or {}) if name == "RoB2" else {}
        labels = {
            domain: _checked(spec, study, domain, value)
            for domain, value in judgements.items()
            if value not in (None, "")
        }
        suggested = suggested_judgements(name, spec, clean, labels)
        for domain, label in labels.items():
            proposal = suggested.get(domain)
            if proposal is not None and label != proposal and domain not in support:
                raise InputError(
                    f"study {study!r}, domain {domain}: the algorithm suggests {proposal!r}; "
                    f"judging it {label!r} needs a reason (the support text)."
                )
        with self.session() as s:
            proj = self._project(s, project, lock=True)
            person = reviewer_row(s, proj, reviewer)
            row = _study_row(s, proj, study)
            if name == "RoB2":
                self._save_answers(s, proj, row, person, clean)
            for domain, label in labels.items():
                proposal = suggested.get(domain)
                reason = (
                    f"judged against the suggested {proposal!r}"
                    if proposal is not None and label != proposal
                    else None
                )
                self._judge(
                    s, proj, row, person, name, domain, label, support.get(domain), False, reason
                )
        return suggested

    def _save_answers(
        self, s: Session, proj: Project, row: Study, person: Reviewer, answers: dict[str, str]
    ) -> None:
        existing = {
            a.question: a
            for a in s.scalars(
                select(RobAnswer).where(
                    RobAnswer.study_id == row.id,
                    RobAnswer.tool == "RoB2",
                    RobAnswer.reviewer_id == person.id,
                )
            )
        }
        for question, answer in answers.items():
            old = existing.pop(question, None)
            key = f"{row.label}/RoB2/{question}"
            if old is None:
                s.add(
                    RobAnswer(
                        project_id=proj.id,
                        study_id=row.id,
                        tool="RoB2",
                        question=question,
                        reviewer_id=person.id,
                        answer=answer,
                    )
                )
                self._audit(s, person.name, "rob_answer", key, None, answer, "answered")
            elif old.answer != answer:
                self._audit(s, person.name, "rob_answer", key, old.answer, answer, "revised")
                old.answer = answer
        for question, old in existing.items():  # no longer asked, or cleared: NA
            key = f"{row.label}/RoB2/{question}"
            self._audit(s, person.name, "rob_answer", key, old.answer, None, "not applicable")
            s.delete(old)

    def rob_answers(self, project: str, tool: str) -> pd.DataFrame:
        """Every signalling answer with ``tool``: ``study``, ``question``, ``reviewer``,
        ``answer`` (not blinded: the store's full view, as :meth:`rob_judgements`)."""
        import pandas as pd

        name, _ = _tool(tool)
        with self.session() as s:
            proj = self._project(s, project)
            rows = s.execute(
                select(Study.label, RobAnswer.question, Reviewer.name, RobAnswer.answer)
                .join(Study, Study.id == RobAnswer.study_id)
                .join(Reviewer, Reviewer.id == RobAnswer.reviewer_id)
                .where(RobAnswer.project_id == proj.id, RobAnswer.tool == name)
                .order_by(RobAnswer.id)
            ).all()
        return pd.DataFrame(
            [tuple(r) for r in rows], columns=["study", "question", "reviewer", "answer"]
        )

    def rob_assessment(self, project: str, study: str, tool: str, reviewer: str) -> dict[str, Any]:
        """``reviewer``'s own assessment of ``study``: ``answers`` (question -> answer),
        ``judgements`` (domain -> level), ``support`` (domain -> text) and ``suggested``
        (domain -> the algorithm's suggestion, or None)."""
        name, spec = _tool(tool)
        with self.session() as s:
            proj = self._project(s, project)
            person = reviewer_row(s, proj, reviewer)
            row = _study_row(s, proj, study)
            answers = dict(
                s.execute(
                    select(RobAnswer.question, RobAnswer.answer).where(
                        RobAnswer.study_id == row.id,
                        RobAnswer.tool == name,
                        RobAnswer.reviewer_id == person.id,
                    )
                ).all()
            )
            rows = s.execute(
                select(RobJudgement.domain, RobJudgement.judgement, RobJudgement.support).where(
                    RobJudgement.study_id == row.id,
                    RobJudgement.tool == name,
                    RobJudgement.reviewer_id == person.id,
                    RobJudgement.consensus.is_(False),
                )
            ).all()
        judgements = {d: j for d, j, _ in rows}
        return {
            "answers": answers,
            "judgements": judgements,
            "support": {d: t for d, _, t in rows if t},
            "suggested": suggested_judgements(name, spec, answers, judgements),
        }

    def rob_progress(self, project: str, tool: str) -> pd.DataFrame:
        """One row per study: ``study``, ``assessors`` (reviewers who judged every domain and
        the overall judgement; NOS: every domain), ``complete`` (at least the project's
        ``reviewers_per_record`` assessors: the assessments are no longer blinded),
        ``conflicts`` (domains judged differently with no consensus yet, counted only when
        complete) and ``agreed`` (complete with no open conflict)."""
        import pandas as pd

        name, spec = _tool(tool)
        needed = _needed_domains(spec)
        with self.session() as s:
            proj = self._project(s, project)
            per_record = proj.reviewers_per_record
            studies = list(
                s.scalars(select(Study.label).where(Study.project_id == proj.id).order_by(Study.id))
            )
        table = self.rob_judgements(project, name)
        own = table[~table["consensus"].astype(bool)]
        rows = []
        for study in studies:
            mine = own[own["study"] == study]
            assessors = sorted(r for r, g in mine.groupby("reviewer") if needed <= set(g["domain"]))
            complete = len(assessors) >= per_record
            conflicts = 0
            if complete:
                judged = table[table["study"] == study]
                for _domain, group in judged.groupby("domain"):
                    if not group["consensus"].any() and group["judgement"].nunique() > 1:
                        conflicts += 1
            rows.append((study, assessors, complete, conflicts, complete and conflicts == 0))
        return pd.DataFrame(rows, columns=["study", "assessors", "complete", "conflicts", "agreed"])

    def visible_rob_judgements(self, project: str, tool: str, viewer: str | None) -> pd.DataFrame:
        """The judgements (as :meth:`rob_judgements`) that ``viewer`` may see: their own,
        and everyone's on studies whose assessments are complete (blinding as in screening:
        no one sees another's judgement of a study still being assessed)."""
        table = self.rob_judgements(project, tool)
        progress = self.rob_progress(project, tool)
        open_ = set(progress.loc[progress["complete"], "study"])
        keep = table["study"].isin(open_) | (table["reviewer"] == viewer)
        return table[keep].reset_index(drop=True)

    def record_rob_consensus(
        self,
        project: str,
        study: str,
        tool: str,
        domain: str,
        judgement: Any,
        *,
        by: str,
        reason: str,
    ) -> None:
        """Record the agreed judgement of a domain the assessors judged differently; only
        once the study's assessments are complete (before, the disagreement is blinded)."""
        from metareview._validation import check_text

        check_text(f"study {study!r}, domain {domain}: the consensus reason", reason)
        progress = self.rob_progress(project, tool)
        state = progress[progress["study"] == study]
        if state.empty or not bool(state["complete"].iloc[0]):
            raise InputError(
                f"study {study!r}: the assessments are not complete yet; a consensus is "
                "recorded once every assessor has judged every domain."
            )
        self.judge_rob(
            project, study, tool, domain, judgement, reviewer=by, support=reason, consensus=True
        )

    def rob_agreed_table(self, project: str, tool: str) -> tuple[pd.DataFrame, list[str]]:
        """The table :func:`metareview.plots.rob` draws, from the studies whose assessments
        are complete and agreed, and the labels of the studies left out (still being
        assessed or in conflict), so that a figure never shows a blinded judgement."""
        import pandas as pd

        progress = self.rob_progress(project, tool)
        agreed = progress.loc[progress["agreed"], "study"].tolist()
        pending = progress.loc[~progress["agreed"], "study"].tolist()
        if not agreed:
            return pd.DataFrame(), pending
        name, spec = _tool(tool)
        table = self.rob_judgements(project, name)
        table = table[table["study"].isin(agreed)]
        final: dict[str, dict[str, Any]] = {}
        for (study, domain), group in table.groupby(["study", "domain"], sort=False):
            chosen = group[group["consensus"]] if group["consensus"].any() else group
            value = chosen["judgement"].iloc[-1]
            final.setdefault(study, {})[domain] = int(value) if spec.is_star_scale else value
        columns = [c for c in (*spec.codes, spec.overall) if c in _needed_domains(spec)]
        frame = pd.DataFrame.from_dict(final, orient="index", columns=columns)
        return frame.loc[[s for s in agreed if s in frame.index]], pending


def _needed_domains(spec: Any) -> set[str]:
    """The domains an assessment is complete with: every domain and the overall judgement
    (star scales: every domain; their total is computed)."""
    return set(spec.codes) | (set() if spec.is_star_scale else {spec.overall})


def suggested_judgements(
    name: str, spec: Any, answers: Mapping[str, str], judgements: Mapping[str, str]
) -> dict[str, str | None]:
    """The algorithm's suggestion per domain (RoB 2, from the answers) and overall (RoB 2
    and ROBINS-I, from the domain judgements: entered ones win over suggested ones).
    ``name`` and ``spec``: the tool's key (``"RoB2"``...) and its
    :class:`~metareview._rob_tools.Tool`."""
    suggested: dict[str, str | None] = {}
    if name == "RoB2":
        suggested = {d: suggest_domain(d, answers) for d in spec.codes}
    if not spec.is_star_scale:
        domains = {d: judgements.get(d) or suggested.get(d) for d in spec.codes}
        suggested[spec.overall] = suggest_overall(name, domains)
    return suggested


def _study_row(s: Session, proj: Project, label: str) -> Study:
    row = s.scalar(select(Study).where(Study.project_id == proj.id, Study.label == label))
    if row is None:
        raise InputError(f"study {label!r} is not in project {proj.name!r}.")
    return row
