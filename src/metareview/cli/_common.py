"""What every ``metareview`` command shares: the console, how an error ends a command (spelt
in the command line's own words), reading and writing tables, warnings and progress bars.

Nothing heavy is imported here at module level: ``metareview --help`` must start fast, so
pandas, rich's renderables and the library are imported inside the functions that use them.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import gc
import inspect
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperArgument, TyperCommand, TyperOption

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from rich.console import Console

    from metareview.exceptions import Argument, Method

__all__ = [
    "Command",
    "DecimalOption",
    "SepOption",
    "console",
    "fail",
    "new_app",
    "progress_bar",
    "read_table",
    "shown_warnings",
    "spell_for_cli",
    "write_table",
]

#: The context of the command running (set by :func:`errors_end_the_command`).
_CONTEXT: contextvars.ContextVar[typer.Context | None] = contextvars.ContextVar(
    "metareview_cli_context", default=None
)

#: Exit code of every command that stops on an error (typer uses 2 for usage errors too).
EXIT_ERROR = 2

#: How the command line spells the library's methods named in advice.
COMMANDS = {
    "add_reviewer": "`metareview store reviewer add NAME`",
    "create_project": "`metareview store init --project NAME`",
    "merge": "`metareview store merge ID ID --reason TEXT`",
    "unmerge": "`metareview store unmerge GROUP --reason TEXT`",
    "unblind": "`metareview store unblind --by OWNER --reason TEXT`",
    "resolve": "`metareview store resolve ID DECISION`",
}

SepOption = Annotated[
    str,
    typer.Option(
        "--sep",
        metavar="CHAR",
        help="Field separator of the CSV (';' for European CSVs; '\\t' for tab).",
    ),
]
DecimalOption = Annotated[
    str,
    typer.Option(
        "--decimal", metavar="CHAR", help="Decimal mark of the CSV (',' for European CSVs)."
    ),
]


@functools.cache
def rich_console() -> Console:
    """The rich Console of the command line, created at first use (importing rich.console
    costs start-up time); it writes to whatever ``sys.stdout`` is when it prints."""
    from rich.console import Console

    return Console()


class _LazyConsole:
    """Stands for :func:`rich_console` until it is first used."""

    def __getattr__(self, name: str) -> Any:
        return getattr(rich_console(), name)


console: Any = _LazyConsole()


class Command(TyperCommand):
    """A typer command whose help shows values by name (``--yi COLUMN``, ``CSV``), never by
    Python type (``<str>``, ``<bool>``) nor with braces around required arguments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if isinstance(param, TyperArgument):
                if param.metavar is None:
                    param.metavar = (param.name or "").upper()
                shown = param.metavar if param.required else f"[{param.metavar}]"
                shown += "..." if param.nargs != 1 else ""
                param.get_usage_pieces = lambda ctx, shown=shown: [shown]  # type: ignore[method-assign]
                param.display_type_rich = lambda ctx: None  # type: ignore[method-assign]
            elif isinstance(param, TyperOption) and param.metavar is None and not param.is_flag:
                param.metavar = (param.name or "").upper()


def new_app(help: str, **kwargs: Any) -> typer.Typer:
    """A typer app with the house settings: plain help text (square brackets are text, as in
    ``metareview[dask]``), no completion commands, help when called bare."""
    return typer.Typer(
        help=help, no_args_is_help=True, add_completion=False, rich_markup_mode=None, **kwargs
    )


def command(app: typer.Typer, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``app.command(name)`` with :class:`Command`'s help."""
    return app.command(name, cls=Command)


# -- start-up ---------------------------------------------------------------------------------
#: True once :func:`metareview.cli.main` has paused the collector for the start-up; a command
#: run in-process otherwise (typer's CliRunner, the tests) leaves the collector alone
_START_UP = False


def pause_collector() -> None:
    """Pause the cyclic garbage collector until the command runs (:func:`metareview.cli.main`;
    :func:`errors_end_the_command` resumes it).

    Start-up makes hundreds of thousands of long-lived objects (modules, classes, typer's
    and pydantic's set-up, the ORM's mappings) and almost no garbage; collecting meanwhile
    walks them again and again (~0.03-0.05 s of a command's start, issue 21.19). The little
    garbage start-up does make is frozen with the rest when the collector resumes, and so
    kept until the process ends.
    """
    global _START_UP
    _START_UP = True
    gc.disable()


def resume_collector() -> None:
    """Freeze what the start-up made (:func:`gc.freeze`: later collections leave it out) and
    let the collector run again; nothing unless :func:`pause_collector` paused it."""
    if _START_UP:
        gc.freeze()
        gc.enable()


@contextlib.contextmanager
def starting() -> Iterator[None]:
    """Import and set up what a command needs (the store: SQLAlchemy, its mappings) with the
    collector paused as at start-up, then freeze what that made (see :func:`pause_collector`);
    nothing changes unless :func:`metareview.cli.main` runs the command."""
    if not _START_UP:
        yield
        return
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


# -- errors -----------------------------------------------------------------------------------
def _option_spelling(ctx: typer.Context | None, name: str) -> Any:
    """The current command's option for the library argument ``name`` (same name, or
    ``--name`` among its spellings)."""
    if ctx is None:
        return None
    flag = "--" + name.replace("_", "-")
    for param in ctx.command.params:
        if isinstance(param, TyperOption) and (param.name == name or flag in param.opts):
            return param
    return None


def spell_for_cli(part: Argument | Method, ctx: typer.Context | None = None) -> str:
    """How the command line spells a piece of advice from the library.

    An argument becomes the current command's option (``missing='omit'`` -> ``--missing
    omit``; ``exact=False`` -> ``--no-exact``; ``subsets=<number>`` -> ``--subsets NUMBER``);
    an argument whose value is itself a flag of the command becomes that flag
    (``method='consensus'`` -> ``--consensus``); a method becomes its command
    (``add_reviewer`` -> ``metareview store reviewer add NAME``). What the command line
    cannot spell stays in the library's words.
    """
    from metareview.exceptions import Argument

    ctx = ctx if ctx is not None else _CONTEXT.get()
    if not isinstance(part, Argument):
        return COMMANDS.get(part.name, str(part))
    if (
        isinstance(part.value, str)
        and (as_flag := _option_spelling(ctx, part.value))
        and as_flag.is_flag
    ):
        return as_flag.opts[0]
    option = _option_spelling(ctx, part.name)
    if option is None:
        return str(part)
    if part.placeholder is not None:
        return f"{option.opts[-1]} {option.metavar or part.placeholder.upper()}"
    if isinstance(part.value, bool) and option.is_flag:
        return (option.opts if part.value else option.secondary_opts or option.opts)[-1]
    if part.value is None:
        return option.opts[-1]
    return f"{option.opts[-1]} {part.value}"


def fail(error: BaseException | str) -> NoReturn:
    """Print ``error``'s first line as one red line and exit with code 2 (as typer does for
    usage errors).

    An :class:`~metareview.exceptions.InputError`'s advice is spelt in the command line's
    words (:func:`spell_for_cli`); the line is never read as rich markup, so a message with
    ``[...]`` keeps its text.
    """
    from rich.text import Text

    from metareview.exceptions import InputError

    text = error.render(spell_for_cli) if isinstance(error, InputError) else str(error)
    message = text.splitlines()[0] if text else type(error).__name__
    console.print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True)
    raise typer.Exit(code=EXIT_ERROR)


def errors_end_the_command(function: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a command so that the library's errors (and unreadable or unwritable files)
    end it with one red line and exit code 2, never a traceback; the advice in the line is
    spelt with the command's own options (the command's context is kept for :func:`fail`)."""
    signature = inspect.signature(function, eval_str=True)
    with_context = signature.replace(
        parameters=[
            *signature.parameters.values(),
            inspect.Parameter("_context", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context),
        ]
    )

    @functools.wraps(function)
    def wrapper(*args: Any, _context: typer.Context, **kwargs: Any) -> Any:
        from metareview.exceptions import MetareviewError

        token = _CONTEXT.set(_context)
        resume_collector()  # paused by main() while typer set the command up
        try:
            return function(*args, **kwargs)
        except (MetareviewError, OSError) as error:
            fail(error)
        finally:
            _CONTEXT.reset(token)

    wrapper.__signature__ = with_context  # type: ignore[attr-defined]
    return wrapper


# -- tables -----------------------------------------------------------------------------------
_READERS = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet"}


def _table_kind(path: Path, sep: str) -> tuple[str, str]:
    """How ``path`` is read: ``("csv" | "tsv" | "parquet", separator)`` from its suffix and
    ``--sep`` (``\\t`` or ``tab`` for a tab; a .tsv or .tab file is tab-separated unless
    ``--sep`` says otherwise)."""
    sep = "\t" if sep in ("\\t", "tab") else sep
    suffix = path.suffix.lower()
    kind = "tsv" if suffix in (".tsv", ".tab") and sep == "," else _READERS.get(suffix, "csv")
    return kind, "\t" if kind == "tsv" else sep


def read_table(
    path: Path,
    *,
    sep: str = ",",
    decimal: str = ".",
    numeric: Sequence[str] = (),
    flag: str = "CSV",
) -> pd.DataFrame:
    """Read a CSV (or TSV, Parquet by suffix) given on the command line.

    Raises
    ------
    InputError
        Missing, empty or unreadable file, or a cell of a ``numeric`` column that is neither a
        number nor empty -- named by file, row (the line of the file, the header being line
        1) and column, with the cell as written. Empty cells are left to the command
        (``--missing``).
    """
    import pandas as pd

    from metareview.exceptions import InputError

    kind, sep = _table_kind(path, sep)
    if not path.exists():
        raise InputError(f"{flag}: no file {str(path)!r}.")
    if path.is_dir():
        raise InputError(f"{flag}: {str(path)!r} is a folder; give a file.")
    try:
        if kind == "parquet":
            data = pd.read_parquet(path)
        else:
            data = pd.read_csv(path, sep=sep, decimal=decimal)
    except pd.errors.EmptyDataError:
        raise InputError(
            f"{flag}: {str(path)!r} is empty; it needs a header line and one row per study."
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(
            f"{flag}: {str(path)!r} could not be read as a table ({first}); "
            "check --sep and --decimal."
        ) from None
    for column in numeric:
        if column in data.columns:
            _check_numeric_cells(data[column], path, column, decimal)
    return data


#: cells pandas reads as missing (``pandas._libs.parsers.STR_NA_VALUES``, pandas' documented
#: default ``na_values``); a test checks that this set still holds all of pandas'
NA_CELLS = frozenset(
    {
        "",
        "#N/A",
        "#N/A N/A",
        "#NA",
        "-1.#IND",
        "-1.#QNAN",
        "-NaN",
        "-nan",
        "1.#IND",
        "1.#QNAN",
        "<NA>",
        "N/A",
        "NA",
        "NULL",
        "NaN",
        "None",
        "n/a",
        "nan",
        "null",
    }
)
#: the largest file :func:`read_simple_csv` reads itself (pandas is faster on larger ones)
SIMPLE_CSV_BYTES = 1 << 20


def read_simple_csv(
    path: Path,
    *,
    numeric: Sequence[str],
    text: Sequence[str] = (),
    sep: str = ",",
    decimal: str = ".",
) -> dict[str, list[Any]] | None:
    """The ``numeric`` columns (as floats) and those of the ``text`` columns that it has (as
    strings) of a small, clean CSV, read without pandas (whose import costs more than a whole
    ``metareview rma``, issue 21.19); None whenever the file is anything else, and the caller
    then reads it with :func:`read_table`, whose errors and rules are the command's.

    Clean means: a UTF-8 text file of at most :data:`SIMPLE_CSV_BYTES`, a header of distinct,
    non-empty names holding every numeric column asked for, at least one row, every row (blank lines
    aside) as many fields as the header; every cell of a numeric column a plain decimal number
    (``decimal`` as its mark, an optional exponent: nothing that pandas might read otherwise,
    no empty cells); every cell of a text column neither empty nor one of pandas' missing
    values, and at least one that is no number, so that pandas too reads the column as text,
    cell for cell. On such a file the result equals what :func:`read_table` reads.
    """
    import csv
    import re

    kind, sep = _table_kind(path, sep)
    if (
        kind == "parquet"
        or len(sep) != 1
        or sep in (decimal, '"')
        or (sep.isspace() and sep != "\t")
    ):
        return None
    try:
        if not 0 < path.stat().st_size <= SIMPLE_CSV_BYTES:
            return None
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = [row for row in csv.reader(handle, delimiter=sep, strict=True) if row]
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    if len(rows) < 2:
        return None
    header, body = rows[0], rows[1:]
    if (
        "" in header
        or len(set(header)) != len(header)
        or any(name not in header for name in numeric)
        or any(len(row) != len(header) for row in body)
    ):
        return None
    mark = re.escape(decimal)
    number = re.compile(rf"[+-]?(?:\d+(?:{mark}\d*)?|{mark}\d+)(?:[eE][+-]?\d+)?")
    out: dict[str, list[Any]] = {}
    for name in numeric:
        cells = [row[header.index(name)] for row in body]
        if not all(number.fullmatch(cell) for cell in cells):
            return None
        out[name] = [float(cell.replace(decimal, ".")) for cell in cells]
    for name in (name for name in text if name in header):
        cells = [row[header.index(name)] for row in body]
        if any(cell in NA_CELLS for cell in cells) or not any(
            _is_text(cell, decimal) for cell in cells
        ):
            return None
        out[name] = cells
    return out


def _is_text(cell: str, decimal: str) -> bool:
    """Whether no reader would take ``cell`` for a number or a truth value."""
    if cell.strip().lower() in ("true", "false"):
        return False
    try:
        float(cell.replace(decimal, "."))
    except ValueError:
        return True
    return False


def row_label(path: Path, position: int) -> str:
    """How a user finds the table's row at 0-based ``position``: the line of a text file
    (the header is line 1), or the row number of a Parquet file."""
    if path.suffix.lower() == ".parquet":
        return f"row {position + 1}"
    return f"row {position + 2}"


def _check_numeric_cells(values: pd.Series, path: Path, column: str, decimal: str) -> None:
    """InputError naming the first cell of ``values`` that is neither a number nor empty."""
    import pandas as pd

    from metareview.exceptions import InputError

    if values.dtype.kind in "biuf":
        return
    parsed = pd.to_numeric(
        values.astype(str).str.strip().str.replace(decimal, ".", regex=False)
        if decimal != "."
        else values,
        errors="coerce",
    )
    bad = parsed.isna() & values.notna() & values.astype(str).str.strip().ne("")
    if bad.any():
        position = int(bad.to_numpy().argmax())
        rows = bad.sum()
        more = f" (and {rows - 1} more)" if rows > 1 else ""
        raise InputError(
            f"{path}, {row_label(path, position)}, column {column!r}: "
            f"{values.iloc[position]!r}"
            f" is not a number{more}. Correct the cell, or leave it empty for a "
            "missing value (see --missing)."
        )


def output_format(path: Path) -> str:
    """The writer that ``path``'s suffix asks for (``-o`` of any table-writing command)."""
    from metareview.exceptions import InputError

    kind = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".xlsx": "xlsx"}.get(
        path.suffix.lower()
    )
    if kind is None:
        raise InputError(f"-o must end in .csv, .tsv, .parquet or .xlsx; got {str(path)!r}.")
    if kind == "xlsx":
        try:
            import openpyxl  # noqa: F401
        except ImportError:
            raise InputError(
                "-o: writing .xlsx needs openpyxl (pip install openpyxl); or "
                "write .csv, .tsv or .parquet."
            ) from None
    return kind


def prepare_output(path: Path) -> Path:
    """Check ``path``'s suffix and make its folder, before any work is done."""
    from metareview.exceptions import InputError

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(
            f"-o: cannot create the folder {str(path.parent)!r} ({error.strerror})."
        ) from None
    if path.is_dir():
        raise InputError(f"-o: {str(path)!r} is a folder; give a file name.")
    return path


def write_table(frame: pd.DataFrame, path: Path, *, index: bool = False) -> None:
    """Write ``frame`` to ``path`` in the format its suffix names (csv, tsv, parquet, xlsx)."""
    from metareview.exceptions import InputError

    kind = output_format(path)
    prepare_output(path)
    try:
        if kind == "csv":
            frame.to_csv(path, index=index)
        elif kind == "tsv":
            frame.to_csv(path, index=index, sep="\t")
        elif kind == "parquet":
            frame.to_parquet(path, index=index)
        else:
            frame.to_excel(path, index=index)
    except OSError as error:
        raise InputError(f"-o: cannot write {str(path)!r} ({error.strerror}).") from None


# -- warnings and progress --------------------------------------------------------------------
@contextlib.contextmanager
def shown_warnings(label: str = "warning") -> Iterator[None]:
    """Print the library's warnings raised inside the block, one yellow line each, after it."""
    import warnings

    from metareview.exceptions import MetareviewWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MetareviewWarning)
        try:
            yield
        finally:
            for w in caught:
                if issubclass(w.category, MetareviewWarning):
                    _warning_line(label, str(w.message))


def _warning_line(label: str, message: str) -> None:
    """One yellow-labelled line (rich is imported only when there is a warning to show)."""
    from rich.text import Text

    console.print(Text.assemble((f"{label}:", "yellow"), " ", message), soft_wrap=True)


@contextlib.contextmanager
def progress_bar(what: str) -> Iterator[Callable[[int, int], None]]:
    """A transient progress bar; yields the ``progress(done, total)`` callback the library's
    long computations take."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    if not rich_console().is_terminal:  # piped or captured: no bar, no stray blank line
        yield lambda done, total: None
        return
    columns = [TextColumn(what), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=rich_console(), transient=True) as bar:
        task = bar.add_task(what, total=1)
        yield lambda done, total: bar.update(task, completed=done, total=total)
