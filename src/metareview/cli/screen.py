"""``metareview screen``: the blinded screener, one record at a time with highlighted
keywords and one-key decisions.

Each key press reads the reviewer's queue once (:meth:`Store.screening_queue
<metareview.review.Store.screening_queue>`: the stage's records, the reviewer's own votes and
what is left for them) and writes at most one vote, passing the vote the reviewer saw as
``expected_previous``: when the same reviewer voted on the record meanwhile in another
terminal, the store refuses and the screener says so and shows the record again.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from metareview.cli._common import command, console, errors_end_the_command, fail
from metareview.cli.store import (
    DEFAULT_STORE,
    ProjectOption,
    StageOption,
    StoreOption,
    open_store,
    project_name,
)

if TYPE_CHECKING:  # pragma: no cover
    from rich.panel import Panel
    from rich.text import Text

    from metareview.review import Store
    from metareview.review.ranked_queue import RankedQueue
    from metareview.review.screening import ScreeningQueue

__all__ = [
    "EXCLUDE_STYLE",
    "INCLUDE_STYLE",
    "KEYS",
    "KeyReader",
    "highlight",
    "record_panel",
    "register",
    "screen_command",
    "stop_screening_command",
    "stopping_lines",
]

#: Rich styles of the include and exclude keywords.
INCLUDE_STYLE = "bold green"
EXCLUDE_STYLE = "bold red"
#: The screener's keys and what each does.
KEYS = {"i": "include", "e": "exclude", "m": "maybe", "s": "skip", "u": "undo", "q": "quit"}
_DECISION_KEYS = {"i": "include", "e": "exclude", "m": "maybe"}
_KEY_HELP = "  ".join(f"[bold]{k}[/] {v}" for k, v in KEYS.items())
_MAX_AUTHORS = 8


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


def highlight(
    text: str, include: Sequence[str] = (), exclude: Sequence[str] = (), style: str = ""
) -> Text:
    """``text`` as rich Text with include keywords in green and exclude keywords in red.

    Parameters
    ----------
    text : str
        Title or abstract; shown as is (square brackets are not read as markup).
    include, exclude : sequence of str
        Keywords (see :func:`metareview.review.queue.keyword_pattern`); where both match,
        red wins.
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
    from rich.text import Text

    from metareview.review.queue import keyword_pattern  # the store's rule, shared with web

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


def record_panel(
    record: Mapping[str, Any],
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    progress: str = "",
    own_vote: str | None = None,
) -> Panel:
    """The screener's view of one record.

    Parameters
    ----------
    record : mapping
        :meth:`Store.record_view <metareview.review.Store.record_view>`, or a row of
        :meth:`Store.records <metareview.review.Store.records>`: ``id``, ``title``,
        ``authors``, ``year``, ``journal``, ``abstract`` (None, NaN or pandas' NA where
        missing).
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
    from rich.console import Group
    from rich.panel import Panel
    from rich.text import Text

    pd = sys.modules.get("pandas")  # a value is pandas' NA only if pandas is loaded

    def text(key: str) -> str:
        value = record.get(key)
        missing = value is None or (pd is not None and value is pd.NA) or value != value
        return "" if missing else str(value)

    where = " · ".join(x for x in (text("year"), text("journal")) if x)
    parts: list[Any] = [
        highlight(text("title") or "(no title)", include, exclude, "bold"),
        Text(_authors(record.get("authors")), style="italic"),
        Text(where, style="dim"),
        Text(""),
    ]
    abstract = text("abstract")
    parts.append(
        highlight(abstract, include, exclude) if abstract else Text("(no abstract)", style="dim")
    )
    if own_vote:
        parts += [Text(""), Text(f"your vote: {own_vote}", style="bold yellow")]
    return Panel(
        Group(*parts),
        title=Text(text("id")),
        title_align="left",
        subtitle=Text(progress),
        subtitle_align="right",
    )


class _Screener:
    """One screening session of one reviewer (state: the session's skips and history)."""

    def __init__(
        self,
        store: Store,
        project: str,
        reviewer: str,
        stage: str,
        include: Sequence[str],
        exclude: Sequence[str],
        reader: KeyReader,
        ranked: bool = False,
    ) -> None:
        self.store, self.project, self.reviewer, self.stage = store, project, reviewer, stage
        self.include, self.exclude, self.reader = include, exclude, reader
        self.ranked = ranked
        self.ranking: RankedQueue | None = None  # the last ranking read (ranked mode)
        self.notes_shown: tuple[str, ...] = ()
        self.skipped: set[str] = set()
        self.history: list[str] = []  # records voted on in this session, last one last
        self.n_votes = 0  # new votes in this session
        self.n_revised = 0  # votes changed in this session (undo, or a record seen again)

    def queue(self) -> ScreeningQueue:
        return self.store.screening_queue(self.project, self.reviewer, self.stage)

    def next_record(self, queue: ScreeningQueue) -> str | None:
        """The next record: the queue's order, or the reviewer's own ranking (``--ranked``)."""
        if not self.ranked:
            return queue.next(skip=self.skipped)
        self.ranking = self.store.ranked_queue(self.project, self.reviewer, stage=self.stage)
        if self.ranking.notes != self.notes_shown:
            for note in self.ranking.notes:
                _line(f"note: {note}", "dim")
            self.notes_shown = self.ranking.notes
        return next((r for r in self.ranking.queue["record_id"] if r not in self.skipped), None)

    def run(self) -> None:
        """Show records and take decisions until none are left or the reviewer quits."""
        revisit: str | None = None
        while True:
            queue = self.queue()  # the one read of the stage per key press
            rid = revisit or self.next_record(queue)
            revisit = None
            if rid is None:
                break
            seen = queue.own.get(rid)
            self.show(rid, queue, seen)
            try:
                key = self.read_key()
            except KeyboardInterrupt:  # Ctrl-C at the prompt: quit like q
                key = None
            if key is None or key == "q":
                break
            if key == "s":
                self.skipped.add(rid)
                _line("skipped", "dim")
            elif key == "u":
                revisit = self.undo(rid)
            else:
                revisit = self.vote(rid, _DECISION_KEYS[key], seen)
        self.goodbye(self.queue())

    def show(self, rid: str, queue: ScreeningQueue, own: tuple[str, str | None] | None) -> None:
        n = len(queue.units)
        progress = f"record {queue.position(rid)} of {n} (your votes {len(queue.own)} / {n})"
        if self.ranked:
            progress = f"your votes {len(queue.own)} / {n} · {len(queue.to_vote)} left"
        if self.skipped:
            progress += f" · {len(self.skipped)} skipped"
        vote = None if own is None else own[0] + (f" ({own[1]})" if own[1] else "")
        console.print(
            record_panel(
                self.store.record_view(self.project, rid),
                include=self.include,
                exclude=self.exclude,
                progress=progress,
                own_vote=vote,
            )
        )
        if self.ranked and self.ranking is not None:
            self.show_ranking(rid, self.ranking)

    def show_ranking(self, rid: str, ranking: RankedQueue) -> None:
        """The record's relevance score and what the stopping rules say, under the panel."""
        scores = ranking.queue.set_index("record_id")["score"]
        score = scores.get(rid)
        if score is not None and score == score:  # not NaN: a model was trained
            _line(
                f"relevance score {score:.2f} ({ranking.classifier}, trained on "
                f"{ranking.n_training} decisions you may see, {ranking.n_included} of them "
                "inclusions)",
                "dim",
            )
        for line, style in stopping_lines(ranking):
            _line(line, style)

    def read_key(self) -> str | None:
        """A key of ``KEYS``; other keys print the key list and ask again."""
        while True:
            console.print(_KEY_HELP + " > ", end="")
            key = self.reader.key()
            if key is None or key in KEYS:
                console.print(KEYS.get(key or "q", "quit"), highlight=False)
                return key
            _line(f"{key!r} is not a key", "yellow")

    def undo(self, current: str) -> str:
        """The record to show again: the last one voted on in this session."""
        if not self.history:
            _line("nothing to undo in this session", "yellow")
            return current
        previous = self.history.pop()
        _line(f"undo: vote again on {previous}", "yellow")
        return previous

    def vote(self, rid: str, decision: str, seen: tuple[str, str | None] | None) -> str | None:
        """Record the vote, over the vote ``seen`` (None: none); returns a record to show
        again."""
        from metareview.exceptions import InputError, StaleVoteError

        reason = None
        if self.stage == "full_text" and decision == "exclude":
            reason = self.ask_reason()
            if reason is None:
                return rid
        try:
            self.store.decide(
                self.project,
                rid,
                self.reviewer,
                decision,
                self.stage,
                reason,
                expected_previous=None if seen is None else seen[0],
            )
        except StaleVoteError as error:  # the same reviewer voted meanwhile elsewhere
            _line(f"not recorded: {error}", "bold yellow")
            return rid
        except InputError as error:  # e.g. resolved meanwhile: report, pass over, go on
            from rich.text import Text

            console.print(Text.assemble(("error:", "bold red"), " ", str(error)), soft_wrap=True)
            self.skipped.add(rid)
            return None
        self.history = [h for h in self.history if h != rid] + [rid]
        self.skipped.discard(rid)
        if seen is not None:
            self.n_revised += 1
        else:
            self.n_votes += 1
        return None

    def ask_reason(self) -> str | None:
        """A full-text exclusion reason: a number from the menu or new text; None cancels."""
        reasons = self.store.exclusion_reasons(self.project, self.reviewer)
        _line("Reason for excluding:", "bold")
        for number, reason in enumerate(reasons, start=1):
            _line(f"  {number}  {reason}")
        while True:
            from rich.text import Text

            console.print(Text("  number, or a new reason (empty line: cancel) > "), end="")
            answer = self.reader.line()
            if not answer:
                _line("cancelled", "dim")
                return None
            if not answer.isdigit():
                break
            if 1 <= int(answer) <= len(reasons):
                answer = reasons[int(answer) - 1]
                break
            _line(f"no reason numbered {answer}", "yellow")
        _line(f"reason: {answer}")
        return answer

    def goodbye(self, queue: ScreeningQueue) -> None:
        if self.ranked:
            ranking = self.store.ranked_queue(self.project, self.reviewer, stage=self.stage)
            for line, style in stopping_lines(ranking):
                _line(line, style)
        revised = f" ({self.n_revised} revised)" if self.n_revised else ""
        skipped = f" ({len(self.skipped)} skipped)" if self.skipped else ""
        _line(
            f"{self.reviewer}: {self.n_votes} new votes{revised} this session; "
            f"{len(queue.to_vote)} records left for you at {self.stage}{skipped}."
        )


def stopping_lines(ranking: RankedQueue) -> list[tuple[str, str]]:
    """What the stopping rules say about the reviewer's screening so far, as (text, style)
    lines: the statistical rule's promise and the records stopping would leave, then a
    warning when a heuristic would stop although the statistical rule does not."""
    rule = ranking.stopping.get("hypergeometric")
    if rule is None:
        return []
    left = f"{rule.n_unscreened:,} record{'s' if rule.n_unscreened != 1 else ''}"
    lines = [
        (
            f"stopping estimate (Callaghan & Müller-Hansen 2020): {rule.promise}; stopping now "
            f"would leave {left} unscreened.",
            "bold green" if rule.stop else "cyan",
        )
    ]
    for name in ("consecutive_irrelevant", "knee"):
        heuristic = ranking.stopping.get(name)
        if heuristic is not None and heuristic.stop and not rule.stop:
            lines.append(
                (
                    f"warning: a heuristic would stop here -- {heuristic.promise}; keep "
                    "screening until the stopping estimate above is met.",
                    "yellow",
                )
            )
    return lines


def _line(text: str, style: str = "") -> None:
    """One line of plain text (never read as markup, never wrapped)."""
    from rich.text import Text

    console.print(Text(text, style=style), soft_wrap=True)


def _split_keywords(values: Sequence[str] | None) -> list[str]:
    """Comma-separated keyword options, flattened; empty items dropped."""
    return [k.strip() for v in values or () for k in v.split(",") if k.strip()]


def screen_command(
    reviewer: Annotated[str, typer.Option(help="Your reviewer name.", metavar="NAME")],
    stage: StageOption = "title_abstract",
    keywords: Annotated[
        list[str] | None,
        typer.Option(
            "--keywords",
            help="Include keywords shown in green, comma-separated (ketamine,CRPS); "
            "whole words, or a prefix with a trailing *.",
            metavar="WORDS",
        ),
    ] = None,
    exclude_keywords: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude-keywords", help="Exclude keywords shown in red (rat*,mice).", metavar="WORDS"
        ),
    ] = None,
    ranked: Annotated[
        bool,
        typer.Option(
            "--ranked",
            help="Most likely relevant first, by a model trained on your own votes and on "
            "complete records only; shows each record's relevance score and the stopping "
            "estimate (with 95% confidence, at least 95% of relevant records found).",
        ),
    ] = False,
    store: StoreOption = DEFAULT_STORE,
    project: ProjectOption = None,
) -> None:
    """Screen records one at a time, blinded to the other reviewers' votes.

    Keys: i include, e exclude, m maybe, s skip, u undo (vote again), q quit.

    At full text an exclusion asks for its reason. With --ranked the records come most
    likely relevant first and the screen shows what the stopping rules say.
    """
    from metareview.exceptions import InputError
    from metareview.review.queue import keyword_pattern

    try:
        include, exclude = _split_keywords(keywords), _split_keywords(exclude_keywords)
        for keyword in (*include, *exclude):
            keyword_pattern(keyword)
    except InputError as error:
        fail(error)
    with open_store(store) as st:
        name = project_name(st, project)
        st.screening_queue(name, reviewer, stage)  # checks the stage and the reviewer
        with KeyReader(sys.stdin) as reader:
            _Screener(st, name, reviewer, stage, include, exclude, reader, ranked).run()


def stop_screening_command(
    by: Annotated[str, typer.Option("--by", help="Owner who decides to stop.", metavar="OWNER")],
    rule: Annotated[
        str | None,
        typer.Option(
            "--rule",
            help="Stop by this rule: hypergeometric (a stated recall), consecutive_irrelevant "
            "or knee (heuristics). Without it, only show what each rule says.",
            metavar="RULE",
        ),
    ] = None,
    store: StoreOption = DEFAULT_STORE,
    project: ProjectOption = None,
) -> None:
    """Show what each stopping rule says about the team's title/abstract screening, and with
    --rule stop by it: the records nobody has voted on are excluded as "records marked as
    ineligible by automation tools" (PRISMA 2020), audited. Owners only."""
    with open_store(store) as st:
        name = project_name(st, project)
        for rule_name, decision in st.project_stopping(name, by=by).items():
            verdict = "stop" if decision.stop else "keep screening"
            _line(
                f"{rule_name}: {verdict} -- {decision.promise}; {decision.n_screened:,} "
                f"screened, {decision.n_unscreened:,} nobody has voted on."
            )
        if rule is None:
            return
        decision = st.stop_screening(name, rule=rule, by=by)
        _line(
            f"stopped by the {rule} rule: {decision.n_unscreened:,} records left unscreened "
            "are counted as records marked as ineligible by automation tools.",
            "bold",
        )


def register(app: typer.Typer) -> None:
    """Add ``screen`` and ``stop-screening`` to ``app``."""
    command(app, "screen")(errors_end_the_command(screen_command))
    command(app, "stop-screening")(errors_end_the_command(stop_screening_command))
