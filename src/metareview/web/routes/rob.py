"""Risk of bias in the browser: each study assessed by two reviewers independently (RoB 2
with its signalling questions and the algorithm's suggested judgement, which a reviewer may
override with a reason; ROBINS-I; Newcastle-Ottawa), blinded until both have finished;
disagreements settled by consensus; the traffic-light and summary figures of
:mod:`metareview.plots.rob` drawn from the agreed judgements.

The rules are the store's (:meth:`~metareview.review.Store.assess_rob`, ``rob_progress``,
``visible_rob_judgements``, ``record_rob_consensus``, ``rob_agreed_table``); this module
checks who is asking and renders.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import Response

from metareview._rob_tools import TOOL_NAMES, TOOLS
from metareview.exceptions import InputError
from metareview.review.risk_of_bias import suggested_judgements
from metareview.review.rob_algorithm import ANSWERS, ROB2_QUESTIONS, check_answers
from metareview.web.auth import check_csrf, require_member
from metareview.web.routes._common import redirect, render, store_of

router = APIRouter(include_in_schema=False)
ASSESSORS = ("owner", "reviewer")
MEMBERS = ("owner", "reviewer", "viewer")


def _tool(tool: str) -> tuple[str, Any]:
    name = TOOL_NAMES.check(tool)
    return name, TOOLS[name]


def _levels(spec: Any) -> list[str]:
    return [level.label for level in spec.levels]


def _study_exists(request: Request, project: str, study: str) -> None:
    if study not in set(store_of(request).studies(project)["study"]):
        raise HTTPException(404, f"study {study!r} is not in project {project!r}.")


def _figure_uri(figure: Any) -> str:
    from metareview.report.live import figure_svg

    svg = figure_svg(figure).encode("utf-8")
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


@router.get("/p/{project}/rob")
def rob_overview(request: Request, project: str, tool: str = "RoB2") -> Response:
    caller = require_member(request, project, MEMBERS)
    name, spec = _tool(tool)
    store = store_of(request)
    progress = store.rob_progress(project, name).to_dict(orient="records")
    for row in progress:
        row["mine"] = caller.reviewer in row["assessors"]
        row["assessors"] = len(row["assessors"])
    table, pending = store.rob_agreed_table(project, name)
    figures = {}
    if not table.empty:
        import matplotlib

        matplotlib.use("Agg")
        from metareview.plots import rob, rob_summary
        from metareview.report.live import DRAWING

        with DRAWING:  # pyplot is not thread-safe; requests run in a thread pool
            figures["traffic"] = _figure_uri(rob(table, name, title=f"{spec.name}: by study"))
            figures["summary"] = _figure_uri(
                rob_summary(table, name, title=f"{spec.name}: share of studies")
            )
    return render(
        request,
        "rob.html",
        caller.session,
        project=project,
        caller=caller,
        tool=name,
        spec=spec,
        tools=[(key, t.name) for key, t in TOOLS.items()],
        progress=progress,
        figures=figures,
        pending=pending,
    )


def _form_context(
    request: Request, caller: Any, project: str, study: str, name: str, spec: Any
) -> dict[str, Any]:
    store = store_of(request)
    mine = store.rob_assessment(project, study, name, caller.reviewer)
    visible = store.visible_rob_judgements(project, name, caller.reviewer)
    others = visible[(visible["study"] == study) & (visible["reviewer"] != caller.reviewer)]
    return {
        "project": project,
        "caller": caller,
        "study": study,
        "tool": name,
        "spec": spec,
        "levels": _levels(spec),
        "questions": ROB2_QUESTIONS if name == "RoB2" else (),
        "answers_allowed": ANSWERS,
        "mine": mine,
        "others": others.to_dict(orient="records"),
        "domains": [*spec.domains, *(() if spec.is_star_scale else ((spec.overall, "Overall"),))],
        "message": None,
        "needs_reason": set(),
    }


@router.get("/p/{project}/rob/assess")
def rob_form(request: Request, project: str, study: str, tool: str = "RoB2") -> Response:
    caller = require_member(request, project, ASSESSORS)
    name, spec = _tool(tool)
    _study_exists(request, project, study)
    context = _form_context(request, caller, project, study, name, spec)
    return render(request, "rob_assess.html", caller.session, **context)


@router.post("/p/{project}/rob/assess")
async def rob_save(request: Request, project: str) -> Response:
    caller = require_member(request, project, ASSESSORS)
    form = await request.form()
    check_csrf(request, caller.session, str(form.get("csrf_token", "")))
    study = str(form.get("study", ""))
    name, spec = _tool(str(form.get("tool", "RoB2")))
    _study_exists(request, project, study)
    answers = {k[2:]: str(v) for k, v in form.items() if k.startswith("q_") and str(v)}
    judgements = {k[2:]: str(v) for k, v in form.items() if k.startswith("j_") and str(v)}
    support = {k[2:]: str(v) for k, v in form.items() if k.startswith("s_") and str(v).strip()}
    try:
        store_of(request).assess_rob(
            project,
            study,
            name,
            reviewer=caller.reviewer,
            judgements=judgements,
            answers=answers or None,
            support=support,
        )
    except InputError as error:
        context = _form_context(request, caller, project, study, name, spec)
        # keep what was typed, with the suggestions it makes, so that the reviewer can add
        # the reason where it is needed (marked on the domain) and save again
        try:
            typed = check_answers(study, answers) if name == "RoB2" else {}
        except InputError:
            typed = {}
        suggested = suggested_judgements(name, spec, typed, judgements)
        context["mine"] = {
            "answers": answers,
            "judgements": judgements,
            "support": support,
            "suggested": suggested,
        }
        context["needs_reason"] = {
            d
            for d, level in judgements.items()
            if suggested.get(d) not in (None, level) and d not in support
        }
        context["message"] = str(error)
        return render(request, "rob_assess.html", caller.session, status=422, **context)
    return redirect(f"/p/{project}/rob/assess", study=study, tool=name, saved=1)


@router.get("/p/{project}/rob/conflicts")
def rob_conflicts(request: Request, project: str, tool: str = "RoB2") -> Response:
    caller = require_member(request, project, MEMBERS)
    name, spec = _tool(tool)
    store = store_of(request)
    progress = store.rob_progress(project, name)
    complete = set(progress.loc[progress["complete"], "study"])
    conflicts = store.rob_conflicts(project, name)
    conflicts = conflicts[conflicts["study"].isin(complete)]
    return render(
        request,
        "rob_conflicts.html",
        caller.session,
        project=project,
        caller=caller,
        tool=name,
        spec=spec,
        levels=_levels(spec) if not spec.is_star_scale else [],
        conflicts=conflicts.to_dict(orient="records"),
    )


@router.post("/p/{project}/rob/consensus")
def rob_consensus(
    request: Request,
    project: str,
    study: Annotated[str, Form()],
    domain: Annotated[str, Form()],
    judgement: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
    tool: Annotated[str, Form()] = "RoB2",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    caller = require_member(request, project, ASSESSORS)
    check_csrf(request, caller.session, csrf_token)
    name, _ = _tool(tool)
    _study_exists(request, project, study)
    store_of(request).record_rob_consensus(
        project, study, name, domain, judgement, by=caller.reviewer, reason=reason
    )
    return redirect(f"/p/{project}/rob/conflicts", tool=name)
