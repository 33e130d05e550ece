"""``metareview store ...``: the review store's commands (project, imports, duplicates,
reviewers, votes, conflicts, agreement, PRISMA counts).

A thin shell: every rule (blinding, what counts as a conflict or an open duplicate pair, who
may resolve or unblind) is a :class:`metareview.review.Store` method, which the web app calls
too; an error is printed as one red line and the command exits with code 2.

Every command takes ``--store`` (a SQLite file path or any SQLAlchemy URL; ``review.sqlite``
in the current folder by default) and ``--project`` (may be left out when the store holds
exactly one project). Who acts, for the audit log, is always ``--by NAME``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from metareview.cli._common import (
    command,
    console,
    errors_end_the_command,
    fail,
    new_app,
    starting,
)

if TYPE_CHECKING:  # pragma: no cover
    from rich.table import Table

    from metareview.review import Store

__all__ = ["DEFAULT_STORE", "open_store", "project_name", "register", "store_app"]

#: Store used when ``--store`` is not given: a SQLite file in the current folder.
DEFAULT_STORE = "review.sqlite"

store_app = new_app(
    "The review store: project, imports, duplicates, reviewers, votes, "
    "conflicts, agreement and PRISMA counts."
)
reviewer_app = new_app("Reviewers of the project.")
store_app.add_typer(reviewer_app, name="reviewer")

StoreOption = Annotated[
    str,
    typer.Option(
        "--store", help="SQLite file or SQLAlchemy URL of the review store.", metavar="URL"
    ),
]
ProjectOption = Annotated[
    str | None,
    typer.Option(
        "--project",
        help="Project name (optional when the store holds one project).",
        metavar="NAME",
    ),
]
StageOption = Annotated[
    str, typer.Option(help="Screening stage: title_abstract or full_text.", metavar="STAGE")
]
ByOption = Annotated[str, typer.Option(help="Who does it, for the audit log.", metavar="NAME")]
ReasonOption = Annotated[str, typer.Option(help="Why, for the audit log.", metavar="TEXT")]
RecordIds = Annotated[
    list[str],
    typer.Argument(
        help="Record ids (as `store dedup` lists them).", metavar="ID", show_default=False
    ),
]


# -- plumbing ---------------------------------------------------------------------------------
@contextmanager
def open_store(location: str, *, create: bool = False) -> Iterator[Store]:
    """Open the store at ``location`` for one command; errors end the command (exit code 2).

    A missing SQLite file is an error unless ``create`` (``store init``), so that a typo in
    ``--store`` never silently creates an empty store.
    """
    with starting():
        from sqlalchemy.exc import SQLAlchemyError

        from metareview.exceptions import InputError, MetareviewError
        from metareview.review import Store

    try:
        if not create and "://" not in location and not Path(location).expanduser().exists():
            raise InputError(
                f"--store: no review store at {location!r}; create one with "
                "`metareview store init --project NAME` or pass --store."
            )
        with starting():
            store = Store.open(location)
        try:
            yield store
        finally:
            store.close()
    except (MetareviewError, SQLAlchemyError, OSError) as error:
        fail(error)


def project_name(store: Store, project: str | None) -> str:
    """``project``, or the store's only project when it is None."""
    from metareview.exceptions import InputError

    if project is not None:
        return project
    names = store.projects()
    if len(names) != 1:
        raise InputError(
            f"--project is needed: the store holds {len(names)} projects "
            f"{names}; pass --project NAME."
        )
    return names[0]


def _fmt(value: Any, digits: int = 3) -> str:
    """A number for a table: rounded, or "n/a" when missing or undefined."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _table(title: str | None, columns: Sequence[str], *, no_wrap: Sequence[str] = ()) -> Table:
    from rich.table import Table

    table = Table(title=title)
    for name in columns:
        if name in no_wrap:
            table.add_column(name, no_wrap=True)
        else:
            table.add_column(name, overflow="fold")
    return table


def _say(text: str) -> None:
    """One plain line (never read as markup, never wrapped)."""
    from rich.text import Text

    console.print(Text(text), soft_wrap=True)


# -- project and imports ----------------------------------------------------------------------
def init_command(
    project: Annotated[
        str, typer.Option("--project", help="Name of the new project.", metavar="NAME")
    ],
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Create the store (if needed) and a project in it."""
    with open_store(store, create=True) as st:
        st.create_project(project)
    _say(f"created project {project!r} in {store}")


def import_command(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Export files (RIS, NBIB, PubMed XML, CSV, ...); the format is detected.",
            metavar="FILE",
            show_default=False,
        ),
    ],
    database: Annotated[
        str | None,
        typer.Option(
            help="Database the files come from (default: read from the file).", metavar="NAME"
        ),
    ] = None,
    kind: Annotated[
        str, typer.Option(help="database or register (PRISMA's two sources).", metavar="KIND")
    ] = "database",
    store: StoreOption = DEFAULT_STORE,
    project: ProjectOption = None,
) -> None:
    """Import search exports; re-importing the same file adds nothing."""
    from rich.text import Text

    problems = _table("Import problems", ["file", "line", "problem"])
    with open_store(store) as st:
        name = project_name(st, project)
        for path in files:
            report = st.import_file(name, path, database, kind=kind)
            _say(str(report))
            for p in report.problems:
                problems.add_row(Text(p.file), str(p.line), Text(p.message))
    if problems.row_count:
        console.print(problems)


# -- duplicates -------------------------------------------------------------------------------
def dedup_command(
    auto: Annotated[
        bool,
        typer.Option(
            "--auto",
            help="Merge the tier-1 pairs (same DOI/PMID, or title, year, author and journal).",
        ),
    ] = False,
    by: ByOption = "metareview",
    store: StoreOption = DEFAULT_STORE,
    project: ProjectOption = None,
) -> None:
    """List the candidate duplicate pairs waiting for a person (tier 2); --auto first
    merges the tier-1 pairs (same DOI/PMID, or title, year, author and journal).

    Settle a pair with `store merge ID ID` or `store dismiss ID ID`.
    """
    import pandas as pd
    from rich.text import Text

    with open_store(store) as st:
        name = project_name(st, project)
        if auto:
            groups = st.auto_merge(name, actor=by)
            _say(
                f"merged {len(groups)} tier-1 groups"
                + (f" (groups {', '.join(map(str, groups))})" if groups else "")
            )
        pairs = st.duplicate_queue(name)  # the store's rule, as the web app's queue
        records = st.records(name)
        tier1 = [] if auto else st.find_duplicates(name).tier1
    titles = dict(zip(records["id"], records["title"], strict=True))
    group = dict(zip(records["id"], records["duplicate_group"], strict=True))
    sure = [p for p in tier1 if group[p.id_a] is pd.NA or group[p.id_a] != group[p.id_b]]
    if sure:
        _say(
            f"{len(sure)} tier-1 pairs (same DOI/PMID, or title, year, author and journal): "
            "merge them with `metareview store dedup --auto`"
        )
    if not pairs:
        _say("no candidate duplicate pairs left")
        return
    # ids are shown whole (no_wrap): they are what `store merge` and `store dismiss` take
    table = _table(
        f"{len(pairs)} candidate duplicate pairs",
        ["score", "records", "titles", "evidence"],
        no_wrap=["records"],
    )
    table.show_lines = True
    for p in pairs:
        a, b = p["id_a"], p["id_b"]
        table.add_row(
            f"{p['score']:.2f}",
            f"a {a}\nb {b}",
            Text(f"a: {titles.get(a) or '(no title)'}\nb: {titles.get(b) or '(no title)'}"),
            Text("; ".join(p["reasons"])),
        )
    console.print(table)
    _say("merge a pair:   metareview store merge ID ID --reason TEXT")
    _say("or dismiss it:  metareview store dismiss ID ID --reason TEXT")


def merge_command(
    records: RecordIds,
    reason: ReasonOption,
    by: ByOption = "metareview",
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Merge records into one study (the first is the primary); audited, undone by unmerge."""
    with open_store(store) as st:
        group = st.merge(records, reason=reason, actor=by)
    _say(f"merged {len(dict.fromkeys(records))} records into group {group} (primary {records[0]})")


def dismiss_command(
    records: RecordIds,
    reason: ReasonOption,
    by: ByOption = "metareview",
    store: StoreOption = DEFAULT_STORE,
    project: ProjectOption = None,
) -> None:
    """Dismiss a candidate pair: the two records are not duplicates (stored and audited)."""
    from metareview.exceptions import InputError

    with open_store(store) as st:
        if len(records) != 2:
            raise InputError(f"ID: give the two records of the pair; got {len(records)}.")
        st.not_duplicates(
            project_name(st, project), records[0], records[1], actor=by, reason=reason
        )
    _say(f"dismissed the pair {records[0]} {records[1]}: not duplicates")


def unmerge_command(
    group: Annotated[
        int,
        typer.Argument(
            help="The duplicate group (see `store dedup --auto`).",
            metavar="GROUP",
            show_default=False,
        ),
    ],
    reason: ReasonOption,
    by: ByOption = "metareview",
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Dissolve a duplicate group; its records are screened separately again (audited)."""
    with open_store(store) as st:
        st.unmerge(group, reason=reason, actor=by)
    _say(f"unmerged group {group}")


# -- records set aside at import -------------------------------------------------------------
def set_aside_command(
    status: Annotated[
        str | None,
        typer.Option(
            help="Only records held, released or discarded (default: all).", metavar="STATUS"
        ),
    ] = None,
    store: StoreOption = DEFAULT_STORE,
    project: ProjectOption = None,
) -> None:
    """Records set aside at import (no title, abstract or authors): outside the screening
    queue until an owner releases or discards them."""
    from rich.text import Text

    with open_store(store) as st:
        rows = st.set_aside_rows(project_name(st, project), status)
    if not rows:
        _say("no records set aside" + (f" ({status})" if status else ""))
        return
    table = _table(
        f"{len(rows)} records set aside", ["record", "line", "why", "status"], no_wrap=["record"]
    )
    for row in rows:
        table.add_row(row.record_id, str(row.source_line), Text(str(row.reason)), row.status)
    console.print(table)
    _say("release into the queue:  metareview store release ID... --by OWNER --reason TEXT")
    _say("or remove before screening:  metareview store discard ID... --by OWNER --reason TEXT")


def release_command(
    records: RecordIds,
    by: Annotated[str, typer.Option(help="A project owner.", metavar="NAME")],
    reason: ReasonOption,
    store: StoreOption = DEFAULT_STORE,
    project: ProjectOption = None,
) -> None:
    """Put records set aside into the screening queue (owners only; audited)."""
    with open_store(store) as st:
        st.release_set_aside(project_name(st, project), records, owner=by, reason=reason)
    _say(f"released {len(records)} records into the screening queue")


def discard_command(
    records: RecordIds,
    by: Annotated[str, typer.Option(help="A project owner.", metavar="NAME")],
    reason: ReasonOption,
    store: StoreOption = DEFAULT_STORE,
    project: ProjectOption = None,
) -> None:
    """Remove records set aside before screening (owners only; audited; PRISMA counts them
    as removed for other reasons, under --reason)."""
    with open_store(store) as st:
        st.discard_set_aside(project_name(st, project), records, owner=by, reason=reason)
    _say(f"discarded {len(records)} records before screening")


# -- reviewers --------------------------------------------------------------------------------
def reviewer_add_command(
    name: Annotated[
        str,
        typer.Argument(
            help="The reviewer's name, as they will sign votes.", metavar="NAME", show_default=False
        ),
    ],
    role: Annotated[
        str,
        typer.Option(
            help="reviewer, or owner (an owner may also unblind a stage).", metavar="ROLE"
        ),
    ] = "reviewer",
    store: StoreOption = DEFAULT_STORE,
    project: ProjectOption = None,
) -> None:
    """Add a reviewer (or, with --role owner, a project owner)."""
    with open_store(store) as st:
        proj = project_name(st, project)
        st.add_reviewer(proj, name, role)
    _say(f"added {role} {name!r} to {proj!r}")


def reviewer_list_command(
    store: StoreOption = DEFAULT_STORE,
    project: ProjectOption = None,
) -> None:
    """List the reviewers of the project."""
    from rich.text import Text

    with open_store(store) as st:
        rows = st.reviewer_rows(project_name(st, project))
    table = _table(None, ["name", "role", "active"])
    for row in rows:
        table.add_row(Text(row.name), row.role, "yes" if row.active else "no")
    console.print(table)


# -- votes, conflicts, agreement --------------------------------------------------------------
def votes_command(
    reviewer: Annotated[
        str,
        typer.Option(
            help="Who is looking: the votes are shown as the store's blinding lets this reviewer "
            "see them.",
            metavar="NAME",
        ),
    ],
    stage: StageOption = "title_abstract",
    store: StoreOption = DEFAULT_STORE,
    project: ProjectOption = None,
) -> None:
    """The votes of a stage, one row per record: every vote once an owner has unblinded the
    stage; before that, your own and those on records whose votes are complete."""
    from rich.text import Text

    with open_store(store) as st:
        name = project_name(st, project)
        votes = st.decision_rows(name, reviewer, stage)
        unblinded = st.unblinded(name, stage)
    _say(
        f"{stage} is unblinded: every vote is shown."
        if unblinded
        else f"{stage} is blinded: your votes, and the votes on complete records."
    )
    if not votes:
        _say(f"no votes at {stage} to show")
        return
    by_record: dict[str, list[str]] = {}  # in the order of each record's first vote
    for vote in votes:
        by_record.setdefault(vote.record_id, []).append(
            f"{vote.reviewer}: {vote.decision}"
            + (f" ({vote.reason})" if isinstance(vote.reason, str) else "")
        )
    table = _table(
        f"{len(by_record)} records with votes at {stage}", ["record", "votes"], no_wrap=["record"]
    )
    for rid, cast in by_record.items():
        table.add_row(rid, Text("; ".join(cast)))
    console.print(table)


def conflicts_command(
    stage: StageOption = "title_abstract",
    store: StoreOption = DEFAULT_STORE,
    project: ProjectOption = None,
) -> None:
    """Complete records whose votes disagree, with every vote (they are no longer blind)."""
    from rich.text import Text

    with open_store(store) as st:
        rows = st.conflict_rows(project_name(st, project), stage)
    if not rows:
        _say(f"no open conflicts at {stage}")
        return
    table = _table(
        f"{len(rows)} open conflicts at {stage}", ["record", "title", "votes"], no_wrap=["record"]
    )
    for row in rows:
        votes = "; ".join(
            f"{who}: {vote}" + (f" ({row.reasons[who]})" if row.reasons.get(who) else "")
            for who, vote in row.votes.items()
        )
        table.add_row(row.record_id, Text(str(row.title or "")), Text(votes))
    console.print(table)


def resolve_command(
    record_id: Annotated[
        str, typer.Argument(help="The record in conflict.", metavar="ID", show_default=False)
    ],
    decision: Annotated[
        str, typer.Argument(help="include or exclude.", metavar="DECISION", show_default=False)
    ],
    by: Annotated[
        str, typer.Option(help="The third reviewer (or who led the consensus).", metavar="NAME")
    ],
    reason: Annotated[
        str, typer.Option(help="Why (at full text: the exclusion reason).", metavar="TEXT")
    ],
    consensus: Annotated[
        bool,
        typer.Option("--consensus", help="Settled by consensus rather than by a third reviewer."),
    ] = False,
    stage: StageOption = "title_abstract",
    store: StoreOption = DEFAULT_STORE,
    project: ProjectOption = None,
) -> None:
    """Settle a screening conflict (audited)."""
    method = "consensus" if consensus else "third_reviewer"
    with open_store(store) as st:
        st.resolve(
            project_name(st, project),
            record_id,
            decision,
            by=by,
            reason=reason,
            stage=stage,
            method=method,
        )
    _say(f"resolved {record_id} at {stage}: {decision} ({method.replace('_', ' ')}, {by})")


def unblind_command(
    by: Annotated[str, typer.Option(help="A project owner.", metavar="NAME")],
    reason: ReasonOption,
    stage: StageOption = "title_abstract",
    store: StoreOption = DEFAULT_STORE,
    project: ProjectOption = None,
) -> None:
    """Show every vote of a stage to every reviewer (owners only; logged); see `store votes`."""
    with open_store(store) as st:
        st.unblind(project_name(st, project), stage, owner=by, reason=reason)
    _say(f"{stage} unblinded by {by}")


def agreement_command(
    stage: StageOption = "title_abstract",
    store: StoreOption = DEFAULT_STORE,
    project: ProjectOption = None,
) -> None:
    """Agreement over the complete records: pairwise kappa, PABAK, Krippendorff's alpha."""
    from rich.text import Text

    with open_store(store) as st:
        result = st.screening_agreement(project_name(st, project), stage)
    table = _table(
        f"Agreement at {stage} ({result.n_records} complete records)",
        ["reviewers", "n", "kappa", "95% CI", "agreement", "PABAK"],
    )
    from metareview.stats.agreement import KAPPA_CI_NOTE, kappa_ci_shown

    any_cut = False
    for row in result.pairs.itertuples():
        lb, ub, cut = kappa_ci_shown(row.ci_lb, row.ci_ub)
        any_cut |= cut
        ci = "n/a" if math.isnan(row.ci_lb) else f"{_fmt(lb)} to {_fmt(ub)}{'*' if cut else ''}"
        table.add_row(
            Text(f"{row.reviewer_a} / {row.reviewer_b}"),
            str(row.n),
            _fmt(row.kappa),
            ci,
            f"{row.percent_agreement:.1%}",
            _fmt(row.pabak),
        )
    console.print(table)
    if any_cut:
        _say(f"* {KAPPA_CI_NOTE}")
    agree = "n/a" if math.isnan(result.percent_agreement) else f"{result.percent_agreement:.1%}"
    _say(
        f"Krippendorff's alpha (nominal) = {_fmt(result.krippendorff_alpha)}; "
        f"all votes agree on {agree} of records"
    )


_PRISMA_LABELS = {
    "records_databases": "Records identified from databases",
    "records_registers": "Records identified from registers",
    "duplicates_removed": "Duplicate records removed",
    "records_removed_automation": "Records marked as ineligible by automation tools",
    "records_removed_other": "Records removed for other reasons",
    "records_screened": "Records screened",
    "records_excluded": "Records excluded",
    "reports_sought": "Reports sought for retrieval",
    "reports_not_retrieved": "Reports not retrieved",
    "reports_assessed": "Reports assessed for eligibility",
    "reports_excluded": "Reports excluded, with reasons",
    "reports_included": "Reports of included studies",
    "studies_included": "Studies included in review",
}


def prisma_command(
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="Draw the flow diagram: .png, .svg or .pdf (no suffix: all three).",
            metavar="FILE",
        ),
    ] = None,
    csv: Annotated[
        Path | None,
        typer.Option(
            "--csv",
            help="Write the counts in the PRISMA2020 R package's CSV layout.",
            metavar="FILE",
        ),
    ] = None,
    store: StoreOption = DEFAULT_STORE,
    project: ProjectOption = None,
) -> None:
    """PRISMA 2020 flow counts, derived from the store; optionally the diagram and CSV."""
    from rich.text import Text

    written: list[Path] = []
    with open_store(store) as st:
        name = project_name(st, project)
        counts = st.prisma_counts(name)
        if csv is not None:
            written.append(st.prisma_csv(name, csv))
        if output is not None:
            written += _draw_prisma(counts, output)
    table = _table(f"PRISMA 2020 flow: {name}", ["box", "n"])
    for key, label in _PRISMA_LABELS.items():
        if key not in counts:
            continue
        value = counts[key]
        if isinstance(value, Mapping):
            table.add_row(label, str(sum(value.values())))
            for sub, n in value.items():
                table.add_row(Text(f"    {sub}"), str(n))
        else:
            table.add_row(label, str(value))
    console.print(table)
    for path in written:
        _say(f"wrote {path}")


def _draw_prisma(counts: Mapping[str, Any], output: Path) -> list[Path]:
    """Draw the flow diagram of ``counts`` to ``output`` (its suffix picks the format)."""
    from metareview.cli.stats import _use_agg, save_plot

    _use_agg()
    from metareview.plots import prisma

    return save_plot(prisma(counts), output)


COMMANDS = {
    "init": init_command,
    "import": import_command,
    "dedup": dedup_command,
    "merge": merge_command,
    "dismiss": dismiss_command,
    "unmerge": unmerge_command,
    "set-aside": set_aside_command,
    "release": release_command,
    "discard": discard_command,
    "votes": votes_command,
    "conflicts": conflicts_command,
    "resolve": resolve_command,
    "unblind": unblind_command,
    "agreement": agreement_command,
    "prisma": prisma_command,
}


def register(app: typer.Typer) -> None:
    """Add ``store ...`` to ``app``."""
    for name, function in COMMANDS.items():
        command(store_app, name)(errors_end_the_command(function))
    command(reviewer_app, "add")(errors_end_the_command(reviewer_add_command))
    command(reviewer_app, "list")(errors_end_the_command(reviewer_list_command))
    from metareview.cli import extraction

    extraction.register(store_app)
    app.add_typer(store_app, name="store")
