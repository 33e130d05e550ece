"""Review-store commands and the interactive screener of the ``metareview`` command line.

``metareview store ...`` manages a review store (project, imports, duplicates, reviewers,
conflicts, agreement, PRISMA counts); ``metareview screen`` is the blinded screener, one record
at a time with highlighted keywords and one-key decisions. Like the rest of the CLI this is a
thin shell: every rule (blinding, what counts as a conflict, who may resolve or unblind) lives
in :class:`metareview.review.Store`, and every store error is printed as one red line with exit
code 1.

Every command takes ``--store`` (a SQLite file path or any SQLAlchemy URL; ``review.sqlite`` in
the current folder by default) and ``--project`` (may be left out when the store holds exactly
one project).
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import pandas as pd
import typer
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from metareview._cli_common import console
from metareview._cli_common import fail as _fail
from metareview.exceptions import InputError, MetareviewError
from metareview.review.queue import keyword_pattern  # the store's rule, shared with the web

if TYPE_CHECKING:  # pragma: no cover
    from metareview.review import Store

__all__ = [
    "DEFAULT_STORE",
    "EXCLUDE_STYLE",
    "INCLUDE_STYLE",
    "KEYS",
    "KeyReader",
    "highlight",
    "keyword_pattern",
    "record_panel",
    "register_review_commands",
    "screen_command",
    "store_app",
]

#: Store used when ``--store`` is not given: a SQLite file in the current folder.
DEFAULT_STORE = "review.sqlite"
#: Rich styles of the include and exclude keywords.
INCLUDE_STYLE = "bold green"
EXCLUDE_STYLE = "bold red"
#: The screener's keys and what each does.
KEYS = {"i": "include", "e": "exclude", "m": "maybe", "s": "skip", "u": "undo", "q": "quit"}
_DECISION_KEYS = {"i": "include", "e": "exclude", "m": "maybe"}
_KEY_HELP = "  ".join(f"[bold]{k}[/] {v}" for k, v in KEYS.items())
_MAX_AUTHORS = 8

store_app = typer.Typer(help="The review store: project, imports, duplicates, reviewers, "
                             "conflicts, agreement and PRISMA counts.", no_args_is_help=True)
reviewer_app = typer.Typer(help="Reviewers of the project.", no_args_is_help=True)
store_app.add_typer(reviewer_app, name="reviewer")

StoreOption = Annotated[str, typer.Option(
    "--store", help="SQLite file or SQLAlchemy URL of the review store.")]
ProjectOption = Annotated[str | None, typer.Option(
    "--project", help="Project name (optional when the store holds one project).")]
StageOption = Annotated[str, typer.Option(help="Screening stage: title_abstract or full_text.")]


# -- plumbing ---------------------------------------------------------------------------------
@contextmanager
def _open_store(location: str, *, create: bool = False) -> Iterator[Store]:
    """Open the store at ``location`` for one command; errors end the command (exit code 1).

    A missing SQLite file is an error unless ``create`` (``store init``), so that a typo in
    ``--store`` never silently creates an empty store.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from metareview.review import Store

    try:
        if not create and "://" not in location and not Path(location).expanduser().exists():
            raise InputError(f"--store: no review store at {location!r}; create one with "
                             "`metareview store init --project NAME` or pass --store.")
        store = Store.open(location)
        try:
            yield store
        finally:
            store.close()
    except (MetareviewError, SQLAlchemyError, OSError) as error:
        _fail(error)


def _project(store: Store, project: str | None) -> str:
    """``project``, or the store's only project when it is None."""
    if project is not None:
        return project
    names = store.projects()
    if len(names) != 1:
        raise InputError(f"--project is needed: the store holds {len(names)} projects "
                         f"{names}; pass --project NAME.")
    return names[0]


def _fmt(value: Any, digits: int = 3) -> str:
    """A number for a table: rounded, or "n/a" when missing or undefined."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _table(title: str | None, columns: Sequence[str]) -> Table:
    table = Table(title=title)
    for name in columns:
        table.add_column(name, overflow="fold")
    return table


def _split_keywords(values: Sequence[str] | None) -> list[str]:
    """Comma-separated keyword options, flattened; empty items dropped."""
    return [k.strip() for v in values or () for k in v.split(",") if k.strip()]


# -- store commands ---------------------------------------------------------------------------
@store_app.command("init")
def init_command(
    project: Annotated[str, typer.Option("--project", help="Name of the new project.")],
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Create the store (if needed) and a project in it."""
    with _open_store(store, create=True) as st:
        st.create_project(project)
    console.print(Text(f"created project {project!r} in {store}"), soft_wrap=True)


@store_app.command("import")
def import_command(
    files: Annotated[list[Path], typer.Argument(help="Export files (RIS, NBIB, PubMed XML, "
                                                     "CSV, ...); the format is detected.")],
    database: Annotated[str | None, typer.Option(
        help="Database the files come from (default: read from the file).")] = None,
    kind: Annotated[str, typer.Option(help="database or register (PRISMA's two sources).")
                    ] = "database",
    store: StoreOption = DEFAULT_STORE,
    project: ProjectOption = None,
) -> None:
    """Import search exports; re-importing the same file adds nothing."""
    problems = _table("Import problems", ["file", "line", "problem"])
    with _open_store(store) as st:
        name = _project(st, project)
        for path in files:
            report = st.import_file(name, path, database, kind=kind)
            console.print(Text(str(report)), soft_wrap=True)
            for p in report.problems:
                problems.add_row(Text(p.file), str(p.line), Text(p.message))
    if problems.row_count:
        console.print(problems)


@store_app.command("dedup")
def dedup_command(
    auto: Annotated[bool, typer.Option(
        "--auto", help="Merge the tier-1 pairs (same DOI or PMID and agreeing titles).")] = False,
    by: Annotated[str, typer.Option(help="Who merges, for the audit log.")] = "metareview",
    store: StoreOption = DEFAULT_STORE,
    project: ProjectOption = None,
) -> None:
    """List candidate duplicate pairs; --auto merges tier 1 and lists what is left."""
    with _open_store(store) as st:
        name = _project(st, project)
        if auto:
            groups = st.auto_merge(name, actor=by)
            console.print(f"merged {len(groups)} tier-1 groups"
                          + (f" (groups {', '.join(map(str, groups))})" if groups else ""),
                          soft_wrap=True)
        records = st.records(name).set_index("id")
        pairs = st.find_duplicates(name).pairs
    group = {rid: (None if pd.isna(g) else int(g))
             for rid, g in records["duplicate_group"].items()}
    # pairs already merged into one group are settled; the others still need a reviewer
    open_pairs = [p for p in pairs if group[p.id_a] is None or group[p.id_a] != group[p.id_b]]
    if not open_pairs:
        console.print("no candidate duplicate pairs left")
        return
    table = _table(f"{len(open_pairs)} candidate duplicate pairs",
                   ["tier", "score", "record a", "record b", "title a", "evidence"])
    for p in open_pairs:
        table.add_row(str(p.tier), f"{p.score:.2f}", p.id_a, p.id_b,
                      Text(str(records.at[p.id_a, "title"] or "")), Text("; ".join(p.reasons)))
    console.print(table)


@reviewer_app.command("add")
def reviewer_add_command(
    name: Annotated[str, typer.Argument(help="The reviewer's name, as they will sign votes.")],
    owner: Annotated[bool, typer.Option(
        "--owner", help="An owner may unblind a stage.")] = False,
    store: StoreOption = DEFAULT_STORE,
    project: ProjectOption = None,
) -> None:
    """Add a reviewer (or, with --owner, a project owner)."""
    role = "owner" if owner else "reviewer"
    with _open_store(store) as st:
        proj = _project(st, project)
        st.add_reviewer(proj, name, role)
    console.print(Text(f"added {role} {name!r} to {proj!r}"), soft_wrap=True)


@reviewer_app.command("list")
def reviewer_list_command(
    store: StoreOption = DEFAULT_STORE,
    project: ProjectOption = None,
) -> None:
    """List the reviewers of the project."""
    with _open_store(store) as st:
        frame = st.reviewers(_project(st, project))
    table = _table(None, ["name", "role", "active"])
    for row in frame.itertuples():
        table.add_row(Text(row.name), row.role, "yes" if row.active else "no")
    console.print(table)


@store_app.command("conflicts")
def conflicts_command(
    stage: StageOption = "title_abstract",
    store: StoreOption = DEFAULT_STORE,
    project: ProjectOption = None,
) -> None:
    """Complete records whose votes disagree, with every vote (they are no longer blind)."""
    with _open_store(store) as st:
        frame = st.conflicts(_project(st, project), stage)
    if frame.empty:
        console.print(f"no open conflicts at {stage}")
        return
    table = _table(f"{len(frame)} open conflicts at {stage}", ["record", "title", "votes"])
    for row in frame.itertuples():
        votes = "; ".join(f"{who}: {vote}" + (f" ({row.reasons[who]})" if row.reasons.get(who)
                                              else "")
                          for who, vote in row.votes.items())
        table.add_row(row.record_id, Text(str(row.title or "")), Text(votes))
    console.print(table)


@store_app.command("resolve")
def resolve_command(
    record_id: Annotated[str, typer.Argument(help="The record in conflict.")],
    decision: Annotated[str, typer.Argument(help="include or exclude.")],
    by: Annotated[str, typer.Option(help="The third reviewer (or who led the consensus).")],
    reason: Annotated[str, typer.Option(help="Why (at full text: the exclusion reason).")],
    consensus: Annotated[bool, typer.Option(
        "--consensus", help="Settled by consensus rather than by a third reviewer.")] = False,
    stage: StageOption = "title_abstract",
    store: StoreOption = DEFAULT_STORE,
    project: ProjectOption = None,
) -> None:
    """Settle a screening conflict (audited)."""
    method = "consensus" if consensus else "third_reviewer"
    with _open_store(store) as st:
        st.resolve(_project(st, project), record_id, decision, by=by, reason=reason,
                   stage=stage, method=method)
    console.print(Text(f"resolved {record_id} at {stage}: {decision} "
                       f"({method.replace('_', ' ')}, {by})"), soft_wrap=True)


@store_app.command("unblind")
def unblind_command(
    owner: Annotated[str, typer.Option(help="A project owner.")],
    reason: Annotated[str, typer.Option(help="Why, for the audit log.")],
    stage: StageOption = "title_abstract",
    store: StoreOption = DEFAULT_STORE,
    project: ProjectOption = None,
) -> None:
    """Show every vote of a stage to every reviewer (owners only; logged)."""
    with _open_store(store) as st:
        st.unblind(_project(st, project), stage, owner=owner, reason=reason)
    console.print(Text(f"{stage} unblinded by {owner}"), soft_wrap=True)


@store_app.command("agreement")
def agreement_command(
    stage: StageOption = "title_abstract",
    store: StoreOption = DEFAULT_STORE,
    project: ProjectOption = None,
) -> None:
    """Agreement over the complete records: pairwise kappa, PABAK, Krippendorff's alpha."""
    with _open_store(store) as st:
        result = st.screening_agreement(_project(st, project), stage)
    table = _table(f"Agreement at {stage} ({result.n_records} complete records)",
                   ["reviewers", "n", "kappa", "95% CI", "agreement", "PABAK"])
    for row in result.pairs.itertuples():
        ci = ("n/a" if math.isnan(row.ci_lb)
              else f"{_fmt(row.ci_lb)} to {_fmt(row.ci_ub)}")
        table.add_row(Text(f"{row.reviewer_a} / {row.reviewer_b}"), str(row.n), _fmt(row.kappa),
                      ci, f"{row.percent_agreement:.1%}", _fmt(row.pabak))
    console.print(table)
    agree = ("n/a" if math.isnan(result.percent_agreement)
             else f"{result.percent_agreement:.1%}")
    console.print(f"Krippendorff's alpha (nominal) = {_fmt(result.krippendorff_alpha)}; "
                  f"all votes agree on {agree} of records", soft_wrap=True)


_PRISMA_LABELS = {
    "records_databases": "Records identified from databases",
    "records_registers": "Records identified from registers",
    "duplicates_removed": "Duplicate records removed",
    "records_screened": "Records screened",
    "records_excluded": "Records excluded",
    "reports_sought": "Reports sought for retrieval",
    "reports_not_retrieved": "Reports not retrieved",
    "reports_assessed": "Reports assessed for eligibility",
    "reports_excluded": "Reports excluded, with reasons",
    "reports_included": "Reports of included studies",
    "studies_included": "Studies included in review",
}


@store_app.command("prisma")
def prisma_command(
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="Draw the flow diagram: .png, .svg or .pdf (no suffix: all "
                               "three).")] = None,
    csv: Annotated[Path | None, typer.Option(
        "--csv", help="Write the counts in the PRISMA2020 R package's CSV layout.")] = None,
    store: StoreOption = DEFAULT_STORE,
    project: ProjectOption = None,
) -> None:
    """PRISMA 2020 flow counts, derived from the store; optionally the diagram and CSV."""
    written: list[Path] = []
    with _open_store(store) as st:
        name = _project(st, project)
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
        console.print(Text(f"wrote {path}"), soft_wrap=True)


def _draw_prisma(counts: Mapping[str, Any], output: Path) -> list[Path]:
    """Draw the flow diagram of ``counts`` to ``output`` (its suffix picks the format)."""
    import matplotlib.pyplot as plt

    from metareview.plots import prisma, save_figure

    suffix = output.suffix.lower().lstrip(".")
    if suffix and suffix not in ("png", "svg", "pdf"):
        raise InputError(f"-o must end in .png, .svg or .pdf (or have no suffix for all "
                         f"three); got {str(output)!r}.")
    fig = prisma(counts)
    try:
        formats = (suffix,) if suffix else ("png", "svg", "pdf")
        return save_figure(fig, output.with_suffix("") if suffix else output, formats=formats)
    finally:
        plt.close(fig)


# -- the screener -----------------------------------------------------------------------------
class KeyReader:
    """Reads the screener's keys: single keypresses from a terminal, lines from a pipe.

    On a terminal (``stream.isatty()``, POSIX) the reader, used as a context manager, puts the
    terminal in cbreak mode -- raw input (no Enter, no echo) while output and Ctrl-C keep
    working -- for the whole session, and restores its settings in ``finally``. Keeping the
    mode between keys means keys typed ahead are not lost. Otherwise (tests,
    ``printf 'i\\ne\\n' | metareview screen ...``) :meth:`key` reads a line and takes its first
    character.

    Parameters
    ----------
    stream : TextIO
        Where keys come from, usually ``sys.stdin``.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._saved: list[Any] | None = None

    @property
    def is_terminal(self) -> bool:
        """True when keys are read one keypress at a time."""
        try:
            import termios  # noqa: F401  (POSIX only; elsewhere read lines)
        except ImportError:  # pragma: no cover - Windows
            return False
        return bool(self.stream.isatty())

    def __enter__(self) -> KeyReader:
        if self.is_terminal and self._saved is None:
            import termios
            import tty

            fd = self.stream.fileno()
            self._saved = termios.tcgetattr(fd)
            tty.setcbreak(fd, termios.TCSANOW)  # TCSANOW: keep keys typed ahead
        return self

    def __exit__(self, *exc: object) -> None:
        if self._saved is not None:
            import termios

            try:
                termios.tcsetattr(self.stream.fileno(), termios.TCSADRAIN, self._saved)
            finally:
                self._saved = None

    def key(self) -> str | None:
        """The next key, lower-cased ("" for a blank line or a non-letter key such as an
        arrow); None at end of input or Ctrl-D."""
        if not self.is_terminal:
            line = self.stream.readline()
            return None if line == "" else line.strip()[:1].lower()
        if self._saved is None:  # used outside ``with``: cbreak mode for this key only
            with self:
                return self.key()
        import select

        fd = self.stream.fileno()
        data = os.read(fd, 1)
        if data[:1] == b"\x1b" or data[:1] >= b"\x80":  # escape sequence or UTF-8: drain it
            while select.select([fd], [], [], 0.01)[0]:
                data += os.read(fd, 1)
            return ""
        if data in (b"", b"\x04"):
            return None
        return data.decode("ascii", errors="ignore").lower()

    def line(self) -> str | None:
        """One line of text, typed with the terminal's usual editing; None at end of input."""
        if self._saved is None:
            line = self.stream.readline()
            return None if line == "" else line.strip()
        import termios
        import tty

        fd = self.stream.fileno()
        termios.tcsetattr(fd, termios.TCSADRAIN, self._saved)
        try:
            line = self.stream.readline()
        finally:
            tty.setcbreak(fd, termios.TCSANOW)
        return None if line == "" else line.strip()


def highlight(text: str, include: Sequence[str] = (), exclude: Sequence[str] = (),
              style: str = "") -> Text:
    """``text`` as rich Text with include keywords in green and exclude keywords in red.

    Parameters
    ----------
    text : str
        Title or abstract; shown as is (square brackets are not read as markup).
    include, exclude : sequence of str
        Keywords (see :func:`keyword_pattern`); where both match, red wins.
    style : str
        Base style of the whole text, e.g. ``"bold"`` for a title.

    Returns
    -------
    rich.text.Text

    Examples
    --------
    >>> highlight("Ketamine in rats", ["ketamine"], ["rat*"]).spans
    [Span(0, 8, 'bold green'), Span(12, 16, 'bold red')]
    """
    out = Text(text, style=style)
    for keywords, colour in ((include, INCLUDE_STYLE), (exclude, EXCLUDE_STYLE)):
        for keyword in keywords:
            for match in keyword_pattern(keyword).finditer(text):
                out.stylize(colour, match.start(), match.end())
    return out


def _authors(authors: Sequence[str] | None) -> str:
    names = list(authors or [])
    if len(names) > _MAX_AUTHORS:
        return "; ".join(names[:6]) + f"; ... ({len(names)} authors)"
    return "; ".join(names) or "(no authors)"


def record_panel(record: Mapping[str, Any], *, include: Sequence[str] = (),
                 exclude: Sequence[str] = (), progress: str = "",
                 own_vote: str | None = None) -> Panel:
    """The screener's view of one record.

    Parameters
    ----------
    record : mapping
        A row of :meth:`Store.records <metareview.review.Store.records>`: ``id``, ``title``,
        ``authors``, ``year``, ``journal``, ``abstract``.
    include, exclude : sequence of str
        Keywords to highlight in green and red.
    progress : str
        Shown under the panel, e.g. ``"record 3 of 120 (your votes 2 / 120)"``.
    own_vote : str, optional
        The reviewer's own vote, shown when they revisit a record (undo). Never another
        reviewer's.

    Returns
    -------
    rich.panel.Panel
    """
    def text(key: str) -> str:
        value = record.get(key)
        return "" if value is None or bool(pd.isna(value)) else str(value)

    where = " · ".join(x for x in (text("year"), text("journal")) if x)
    parts: list[Any] = [highlight(text("title") or "(no title)", include, exclude, "bold"),
                        Text(_authors(record.get("authors")), style="italic"),
                        Text(where, style="dim"), Text("")]
    abstract = text("abstract")
    parts.append(highlight(abstract, include, exclude) if abstract
                 else Text("(no abstract)", style="dim"))
    if own_vote:
        parts += [Text(""), Text(f"your vote: {own_vote}", style="bold yellow")]
    return Panel(Group(*parts), title=Text(text("id")), title_align="left",
                 subtitle=Text(progress), subtitle_align="right")


class _Screener:
    """One screening session of one reviewer (state: the session's votes and skips)."""

    def __init__(self, store: Store, project: str, reviewer: str, stage: str,
                 include: Sequence[str], exclude: Sequence[str], reader: KeyReader) -> None:
        self.store, self.project, self.reviewer, self.stage = store, project, reviewer, stage
        self.include, self.exclude, self.reader = include, exclude, reader
        self.skipped: set[str] = set()
        self.history: list[str] = []  # records voted on in this session, last one last
        self.n_votes = 0  # new votes in this session
        self.n_revised = 0  # votes changed in this session (undo, or a record seen again)
        self.records = store.records(project).set_index("id", drop=False)

    def own_votes(self) -> dict[str, tuple[str, str | None]]:
        """This reviewer's votes at the stage (from the blinded API): record -> (vote, reason)."""
        seen = self.store.decisions(self.project, self.reviewer, self.stage)
        mine = seen[seen["reviewer"] == self.reviewer]
        return {r.record_id: (r.decision, r.reason if isinstance(r.reason, str) else None)
                for r in mine.itertuples()}

    def reasons_seen(self) -> list[str]:
        """Full-text exclusion reasons this reviewer may see, first seen first."""
        seen = self.store.decisions(self.project, self.reviewer, "full_text")
        reasons = [str(r).strip() for r in seen["reason"] if isinstance(r, str) and r.strip()]
        return list(dict.fromkeys(reasons))

    def next_record(self, units: Sequence[str], pending: set[str],
                    mine: Mapping[str, Any]) -> str | None:
        """``Store.next_record``, passing over the records skipped in this session."""
        found = self.store.next_record(self.project, self.reviewer, self.stage)
        if found is None or found not in self.skipped:
            return found
        # next_record has no "skip these" argument: take the next open unit in its order
        return next((u for u in units if u in pending and u not in mine
                     and u not in self.skipped), None)

    def run(self) -> None:
        """Show records and take decisions until none are left or the reviewer quits."""
        revisit: str | None = None
        while True:
            status = self.store.screening_status(self.project, self.stage)
            units = status["record_id"].tolist()
            pending = set(status.loc[status["status"] == "pending", "record_id"])
            mine = self.own_votes()
            rid = revisit or self.next_record(units, pending, mine)
            revisit = None
            if rid is None:
                break
            self.show(rid, units, mine)
            try:
                key = self.read_key()
            except KeyboardInterrupt:  # Ctrl-C at the prompt: quit like q
                key = None
            if key is None or key == "q":
                break
            if key == "s":
                self.skipped.add(rid)
                console.print(Text("skipped", style="dim"), soft_wrap=True)
            elif key == "u":
                revisit = self.undo(rid)
            else:
                revisit = self.vote(rid, _DECISION_KEYS[key])
        self.goodbye()

    def show(self, rid: str, units: Sequence[str], mine: Mapping[str, Any]) -> None:
        if rid not in self.records.index:  # imported during the session
            self.records = self.store.records(self.project).set_index("id", drop=False)
        n = len(units)
        position = units.index(rid) + 1 if rid in units else n
        progress = f"record {position} of {n} (your votes {len(mine)} / {n})"
        if self.skipped:
            progress += f" · {len(self.skipped)} skipped"
        own = mine.get(rid)
        vote = None if own is None else own[0] + (f" ({own[1]})" if own[1] else "")
        console.print(record_panel(self.records.loc[rid].to_dict(), include=self.include,
                                   exclude=self.exclude, progress=progress, own_vote=vote))

    def read_key(self) -> str | None:
        """A key of ``KEYS``; other keys print the key list and ask again."""
        while True:
            console.print(_KEY_HELP + " > ", end="")
            key = self.reader.key()
            if key is None or key in KEYS:
                console.print(KEYS.get(key or "q", "quit"), highlight=False)
                return key
            console.print(Text(f"{key!r} is not a key", style="yellow"), soft_wrap=True)

    def undo(self, current: str) -> str:
        """The record to show again: the last one voted on in this session."""
        if not self.history:
            console.print(Text("nothing to undo in this session", style="yellow"), soft_wrap=True)
            return current
        previous = self.history.pop()
        console.print(Text(f"undo: vote again on {previous}", style="yellow"), soft_wrap=True)
        return previous

    def vote(self, rid: str, decision: str) -> str | None:
        """Record the vote (a revision when already voted); returns a record to show again."""
        reason = None
        if self.stage == "full_text" and decision == "exclude":
            reason = self.ask_reason()
            if reason is None:
                return rid
        revising = rid in self.own_votes()
        try:
            self.store.decide(self.project, rid, self.reviewer, decision, self.stage, reason)
        except InputError as error:  # e.g. resolved meanwhile: report, pass over, go on
            console.print(Text.assemble(("error:", "bold red"), " ", str(error)), soft_wrap=True)
            self.skipped.add(rid)
            return None
        self.history = [h for h in self.history if h != rid] + [rid]
        self.skipped.discard(rid)
        if revising:
            self.n_revised += 1
        else:
            self.n_votes += 1
        return None

    def ask_reason(self) -> str | None:
        """A full-text exclusion reason: a number from the menu or new text; None cancels."""
        reasons = self.reasons_seen()
        console.print(Text("Reason for excluding:", style="bold"), soft_wrap=True)
        for number, reason in enumerate(reasons, start=1):
            console.print(Text(f"  {number}  {reason}"), soft_wrap=True)
        while True:
            console.print(Text("  number, or a new reason (empty line: cancel) > "), end="")
            answer = self.reader.line()
            if not answer:
                console.print(Text("cancelled", style="dim"), soft_wrap=True)
                return None
            if not answer.isdigit():
                break
            if 1 <= int(answer) <= len(reasons):
                answer = reasons[int(answer) - 1]
                break
            console.print(Text(f"no reason numbered {answer}", style="yellow"), soft_wrap=True)
        console.print(Text(f"reason: {answer}"), soft_wrap=True)
        return answer

    def goodbye(self) -> None:
        status = self.store.screening_status(self.project, self.stage)
        mine = self.own_votes()
        left = [r for r in status.loc[status["status"] == "pending", "record_id"]
                if r not in mine]
        revised = f" ({self.n_revised} revised)" if self.n_revised else ""
        skipped = f" ({len(self.skipped)} skipped)" if self.skipped else ""
        console.print(Text(f"{self.reviewer}: {self.n_votes} new votes{revised} this session; "
                           f"{len(left)} records left for you at {self.stage}{skipped}."),
                      soft_wrap=True)


def screen_command(
    reviewer: Annotated[str, typer.Option(help="Your reviewer name.")],
    stage: StageOption = "title_abstract",
    keywords: Annotated[list[str] | None, typer.Option(
        "--keywords", help="Include keywords shown in green, comma-separated (ketamine,CRPS); "
                           "whole words, or a prefix with a trailing *.")] = None,
    exclude_keywords: Annotated[list[str] | None, typer.Option(
        "--exclude-keywords", help="Exclude keywords shown in red (rat*,mice).")] = None,
    store: StoreOption = DEFAULT_STORE,
    project: ProjectOption = None,
) -> None:
    """Screen records one at a time, blinded to the other reviewers' votes.

    Keys: i include, e exclude, m maybe, s skip, u undo (vote again), q quit.

    At full text an exclusion asks for its reason.
    """
    try:
        include, exclude = _split_keywords(keywords), _split_keywords(exclude_keywords)
        for keyword in (*include, *exclude):
            keyword_pattern(keyword)
    except InputError as error:
        _fail(error)
        return
    with _open_store(store) as st:
        name = _project(st, project)
        people = st.reviewers(name)
        row = people[people["name"] == reviewer]
        if not row.empty and not bool(row["active"].iloc[0]):
            raise InputError(f"--reviewer: {reviewer!r} was removed from {name!r} and cannot "
                             "vote.")
        st.next_record(name, reviewer, stage)  # checks the stage and that the reviewer exists
        with KeyReader(sys.stdin) as reader:
            _Screener(st, name, reviewer, stage, include, exclude, reader).run()


def register_review_commands(app: typer.Typer) -> None:
    """Add ``store ...`` and ``screen`` to the ``metareview`` app."""
    app.add_typer(store_app, name="store")
    app.command("screen")(screen_command)
