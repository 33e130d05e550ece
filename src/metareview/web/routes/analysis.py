"""The analysis page: one outcome of the project pooled from the agreed extraction data, with
the effect measure, model, test, subgroup or moderator the caller chooses; forest and funnel
plots (SVG), heterogeneity, Egger's and Begg's tests, leave-one-out and the robustness table
across methods, all computed by the report's own code (:mod:`metareview.report.live`).

The protocol (outcomes, the extraction form) is the one kept with the project's extraction
form (an owner sets the form from the whole ``protocol.toml``), or the project's review
folder given to :func:`~metareview.web.create_app` as ``protocols={project: folder}``
(``metareview serve --protocol PROJECT=FOLDER``), which wins. Only studies whose dual
extraction is complete enter (:meth:`~metareview.review.Store.agreed_studies_table`), so the
page never shows a value another reviewer may still be extracting.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from metareview.exceptions import InputError
from metareview.web.auth import require_member
from metareview.web.routes._common import render, store_of

router = APIRouter(include_in_schema=False)
MEMBERS = ("owner", "reviewer", "viewer")
_LOCK = threading.Lock()
_CACHE_SIZE = 8  # versions of the agreed data (each with its figures)


def protocol_source(request: Request, project: str) -> tuple[Path | None, str]:
    """The protocol of ``project`` as (review folder or None, ``protocol.toml`` text): the
    folder the app was started with (``serve --protocol PROJECT=FOLDER``), else the protocol
    kept with the project's extraction form (:meth:`Store.project_protocol`); 404 when there
    is neither."""
    folders = getattr(request.app.state, "protocols", None) or {}
    if project in folders:
        folder = Path(folders[project])
        return folder, (folder / "protocol.toml").read_text(encoding="utf-8")
    text = store_of(request).project_protocol(project)
    if text is None:
        raise HTTPException(
            404,
            f"project {project!r} has no protocol: an owner sets the extraction form from the "
            "whole protocol.toml (the extraction page, or metareview store extraction-form "
            "PROTOCOL), or start the app with its review folder "
            "(metareview serve --protocol PROJECT=FOLDER).",
        )
    return None, text


def agreed_table(request: Request, project: str) -> tuple[Any, list[str]]:
    """The agreed studies table of ``project`` (complete studies only) and the studies
    still being extracted; the form is the project's own, else its review folder's."""
    from metareview.review.extraction_form import load_form

    store = store_of(request)
    try:  # the project's own form (extraction in the browser), else the protocol's
        form = store.extraction_form(project)
    except InputError:  # no stored form, hence no stored protocol: a review folder or 404
        folder, _text = protocol_source(request, project)
        form = load_form(folder / "protocol.toml")  # type: ignore[operator]
    return store.agreed_studies_table(project, form)


def agreed_protocol(request: Request, project: str) -> tuple[Any, dict, list[str]]:
    """The protocol read with the agreed table and its figure cache (both kept while the
    table's content is the same), and the studies still being extracted."""
    from metareview.report.live import load_agreed

    folder, text = protocol_source(request, project)
    table, pending = agreed_table(request, project)
    if table.empty:
        raise HTTPException(409, "no study has a complete dual extraction yet; nothing to pool.")
    key = hashlib.sha256(
        (str(folder) + text).encode() + table.to_csv(index=False).encode()
    ).hexdigest()
    with _LOCK:
        cache = getattr(request.app.state, "analysis_cache", None)
        if cache is None:
            cache = request.app.state.analysis_cache = OrderedDict()
        if key not in cache:
            protocol = load_agreed(folder, table) if folder else load_agreed(None, table, text=text)
            cache[key] = (protocol, {})  # the protocol, its figures
            while len(cache) > _CACHE_SIZE:
                cache.popitem(last=False)
        cache.move_to_end(key)
        protocol, figures = cache[key]
    return protocol, figures, pending


def _data_uri(svg: str | None) -> str | None:
    if svg is None:
        return None
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


@router.get("/p/{project}/analysis")
def analysis_page(
    request: Request,
    project: str,
    outcome: str | None = None,
    measure: str | None = None,
    method: str | None = None,
    test: str | None = None,
    subgroup: str | None = None,
    moderator: str | None = None,
) -> Response:
    caller = require_member(request, project, MEMBERS)
    import matplotlib

    matplotlib.use("Agg")
    from metareview.report.live import DRAWING, analyse_agreed, outcome_choices

    protocol, figures, pending = agreed_protocol(request, project)
    asked = {
        "outcome": outcome or protocol.outcomes[0].name,
        "measure": measure or None,
        "method": method or None,
        "test": test or None,
        "subgroup": subgroup or None,
        "moderator": moderator or None,
    }
    try:
        choices = outcome_choices(protocol, asked["outcome"])
        with DRAWING:  # pyplot is not thread-safe; requests run in a thread pool
            live = analyse_agreed(protocol, **asked, figure_cache=figures)
    except InputError as error:
        # the choices stay on the page, with the message beside them
        known = [o.name for o in protocol.outcomes]
        first = asked["outcome"] if asked["outcome"] in known else known[0]
        return render(
            request,
            "analysis.html",
            caller.session,
            status=422,
            project=project,
            caller=caller,
            choices=outcome_choices(protocol, first),
            chosen=asked,
            live=None,
            error=str(error),
            pending=pending,
        )
    a = live.analysis
    robustness = a.robustness.reset_index().to_dict(orient="records")
    return render(
        request,
        "analysis.html",
        caller.session,
        project=project,
        caller=caller,
        choices=choices,
        chosen=live.choices,
        live=live,
        error=None,
        a=a,
        main=a.main.to_dict(),
        robustness=robustness,
        main_label=next((r["method"] for r in robustness if r["main"]), chosen_label(live)),
        leave1out=live.leave1out.reset_index().to_dict(orient="records"),
        subgroups=_subgroups(a),
        regression=None if a.regression is None else a.regression.to_dict(),
        regression_rows=[]
        if a.regression is None
        else [
            {"coefficient": str(name), **row}
            for name, row in a.regression.table().to_dict(orient="index").items()
        ],
        forest=_data_uri(live.forest_svg),
        funnel=_data_uri(live.funnel_svg),
        pending=pending,
        percent=a.outcome.data == "proportion",
    )


def chosen_label(live: Any) -> str:
    """The chosen model in words, when the robustness table has no row for it."""
    c = live.choices
    return f"{c['method']}, {c['measure']}" + (", Hartung-Knapp" if c["test"] == "knha" else "")


def _subgroups(a: Any) -> list[dict[str, Any]] | None:
    if a.subgroups is None:
        return None
    rows = []
    for label, fit in a.subgroups.subgroups.items():
        pred = a.predict(fit)
        rows.append({"label": label, "k": fit.k, **pred, "I2": fit.I2})
    return rows
