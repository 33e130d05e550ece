"""BibTeX (``.bib``) reader: splits the file into entries itself and reads each with its own
scanner, falling back to bibtexparser 1.x for an entry the scanner does not take.

The syntax followed is BibTeX's own (Patashnik, *BibTeXing*, 1988, CTAN ``btxdoc.pdf``, sections
2.1 and 4; Markey, *Tame the BeaST*, 2009, CTAN ``ttb_en.pdf``, sections 11 and 12 on names).
An entry is ``@type{key, field = value, ...}`` (or with parentheses); a value is ``{braced}``,
``"quoted"``, a number or an ``@string`` macro, joined with ``#``. Text outside entries is a
comment. Field names are read as BibTeX and biblatex write them (``journal`` or
``journaltitle``, ``number`` or ``issue``, ``year`` or ``date``).

bibtexparser alone turns an entry it cannot read into a comment, silently, and gives no line
numbers; so the file is split into entries here (counting braces), each entry is parsed on its
own, and an entry that yields nothing is reported with its line. An entry is read by
:func:`_scan_entry`, a scanner of the same grammar as bibtexparser 1.x's (``@type{key,
name = value, ...}``, values ``{braced}``, ``"quoted"``, digits or macros joined by ``#``,
the lines of a value after the first left-stripped), about 50 times faster than its pyparsing
grammar; whatever the scanner does not take (``@string``, a malformed entry, a repeated
field) goes to bibtexparser, which reads it or says why not, as before. LaTeX accents become
Unicode with bibtexparser's :func:`~bibtexparser.latexenc.latex_to_unicode`; values and names
without LaTeX markup skip that step.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass
from typing import Any

import pyparsing
from bibtexparser.bibdatabase import BibDataString, BibDataStringExpression
from bibtexparser.bibtexexpression import BibtexExpression
from bibtexparser.bparser import BibTexParser
from bibtexparser.customization import splitname
from bibtexparser.latexenc import latex_to_unicode

from metareview.review._normalise import clean, normalise_doi
from metareview.review.importers._base import ParsedRecord, ParseResult, Problem, build_record

#: An entry starts with ``@type{`` or ``@type(`` at the start of a line (after blanks).
BIBTEX_START = re.compile(r"^[ \t]*@[ \t]*[A-Za-z][\w-]*[ \t\r\n]*[{(]", re.MULTILINE)
_HEAD = re.compile(r"@[ \t]*([A-Za-z][\w-]*)\s*([{(])")
_DELIMS = re.compile(r'[{}()"]')
_RUN_ON = re.compile(r",\s*[A-Za-z][\w-]*\s*=\s*[{\"\w]")
_AND = re.compile(r"[{}]|(?<!\S)and(?!\S)")
_FONT_COMMAND = re.compile(
    r"\\(?:textit|textbf|textsc|textsl|textrm|textsf|texttt|textup|textnormal|emph|mathrm"
    r"|mathit|mathbf|mbox|url|href)\s*(?=\{)"
)
#: LaTeX accent commands and the Unicode combining mark each puts on the next letter.
_ACCENTS = {
    "`": "\u0300",
    "'": "\u0301",
    "^": "\u0302",
    "~": "\u0303",
    "=": "\u0304",
    "u": "\u0306",
    ".": "\u0307",
    '"': "\u0308",
    "r": "\u030a",
    "H": "\u030b",
    "v": "\u030c",
    "d": "\u0323",
    "c": "\u0327",
    "k": "\u0328",
    "b": "\u0331",
}
_ACCENT = re.compile(
    r"\\(?:([`'^~=.\"])|([uvHcdkbr])(?=[\s{]))\s*"
    r"(?:\{\s*(\\[ij]|[A-Za-z])\s*\}|(\\[ij](?![A-Za-z])|[A-Za-z]))"
)
_FONT_SWITCH = re.compile(r"\\(?:em|it|bf|sc|sl|rm|sf|tt|itshape|bfseries|upshape)\b\s*")
_INITIALS = re.compile(r"^(?:[A-Z]{1,3}|(?:[A-Z]\.-?){1,3})$")
_PAGE_DASH = re.compile(r"\s*(?:-{1,3}|\u2013|\u2014)\s*")
_SKIPPED_TYPES = {"comment", "preamble"}
_KEYS = {"ENTRYTYPE", "ID"}


@dataclass(frozen=True, slots=True)
class _Chunk:
    """One ``@...`` block of the file: its type, first line and text (braces balanced)."""

    kind: str
    line: int
    text: str
    note: str | None = None


def latex_text(value: str) -> str:
    r"""Plain Unicode text of a BibTeX value: accents, font commands, braces and ``~`` resolved.

    Accent commands (``\'e``, ``{\"u}``, ``\v{s}``, ``{\'\i}``; the LaTeX2e accents listed at
    https://latexref.xyz/Accents.html) are turned into the letter plus its Unicode combining
    mark and composed (NFC) here. bibtexparser 1.x's ``latex_to_unicode`` then converts named
    symbols (``\ss``, ``\o``, ``\aa``, ``\&``, ``\%``); it is not given the accents because it
    garbles the second accent of a kind in one value (``Mar{\'i}n-Mart{\'i}nez`` comes back as
    ``Marín-Mart\ńez``; python-bibtexparser issues #272 and #274, fixed only in v2) and can
    raise ``TypeError`` (issue #472). Math (``$...$``) is kept as written, without the dollars,
    since ``latex_to_unicode`` reads ``\omega`` as ``ø`` + "mega" (issue #498).

    Parameters
    ----------
    value : str
        A field value as written in the ``.bib`` file.

    Returns
    -------
    str
        The text with LaTeX accents and symbols as Unicode, font commands (``\emph{...}``,
        ``{\it ...}``) and protective braces removed, ``--``/``---`` as en/em dashes, ``~`` as a
        space and runs of white space as one space.

    Examples
    --------
    >>> latex_text(r"Effect of \emph{in vivo} ketamine on M{\"u}ller cells -- a {RCT}")
    'Effect of in vivo ketamine on Müller cells – a RCT'
    >>> latex_text(r"Mar{\'\i}n-Mart{\'\i}nez, {\O}stergaard, G{\"o}del, {$I^2$} = 50\%")
    'Marín-Martínez, Østergaard, Gödel, I^2 = 50%'
    """
    parts = re.split(r"(?<!\\)\$", value)
    out = []
    for index, part in enumerate(parts):
        if index % 2 and index < len(parts) - 1:  # inside $...$
            out.append(part.replace("{", "").replace("}", ""))
            continue
        text = _FONT_SWITCH.sub("", _FONT_COMMAND.sub("", part))
        text = _ACCENT.sub(_compose, text)
        try:
            text = latex_to_unicode(text)
        except Exception:  # TypeError on some symbols (python-bibtexparser issue #472)
            text = text.replace("{", "").replace("}", "")
        text = text.replace("---", "\u2014").replace("--", "\u2013").replace("~", " ")
        out.append(text.replace("\\$", "$"))
    return unicodedata.normalize("NFC", " ".join("".join(out).split()))


_LATEX_FREE = re.compile(r"[\\{}$~]|--")


def _plain_text(value: str) -> str:
    """:func:`latex_text` of a value, quickly when it holds no LaTeX markup."""
    if _LATEX_FREE.search(value):
        return latex_text(value)
    text = " ".join(value.split())
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def _compose(match: re.Match[str]) -> str:
    accent = match.group(1) or match.group(2)
    base = match.group(3) or match.group(4)
    return unicodedata.normalize("NFC", base[-1] + _ACCENTS[accent])


def split_names(value: str) -> list[str]:
    """Names of a BibTeX ``author`` field as ``"von Last, First"`` (``"Last, First, Jr"``).

    Names are separated by ``and`` outside braces, so ``{Barnes and Noble}`` stays one
    (corporate) name; each is split by bibtexparser's ``splitname`` into First, von, Last and
    Jr as BibTeX does (*Tame the BeaST*, section 11). ``others`` (BibTeX's "et al.") is left out.
    A name written ``Last Initials`` without a comma (``Smith JA``, as PubMed writes them) is
    read as ``Smith, JA`` rather than BibTeX's first name "Smith".

    Parameters
    ----------
    value : str
        The field as written, e.g. ``"M{\\"u}ller, Hans and {World Health Organization}"``.

    Returns
    -------
    list of str
        One name per author, in Unicode.

    Examples
    --------
    >>> split_names(r"M{\\"u}ller, Hans and Ludwig van Beethoven and {Barnes and Noble} and others")
    ['Müller, Hans', 'van Beethoven, Ludwig', 'Barnes and Noble']
    """
    # no braces to respect: one split (the _AND pattern matches no brace then)
    parts = _AND.split(value) if "{" not in value and "}" not in value else _and_split(value)
    names = []
    for part in parts:
        part = " ".join(part.split())
        if not part or part.lower() == "others":
            continue
        names.append(_format_name(part))
    return [name for name in names if name]


def _and_split(value: str) -> list[str]:
    """``value`` split at each ``and`` outside braces."""
    parts: list[str] = []
    depth, start = 0, 0
    for match in _AND.finditer(value):
        token = match.group()
        if token == "{":
            depth += 1
        elif token == "}":
            depth = max(depth - 1, 0)
        elif depth == 0:
            parts.append(value[start : match.start()])
            start = match.end()
    parts.append(value[start:])
    return parts


def _format_name(name: str) -> str:
    if name.count(",") == 1 and not _LATEX_FREE.search(name):
        # "von Last, First": what splitname gives, without its cost
        last, first = (" ".join(part.split()) for part in name.split(","))
        if last:
            return _plain_text(f"{last}, {first}" if first else last)
    words = name.split()
    if "," not in name and len(words) >= 2 and _INITIALS.match(words[-1]):
        name = f"{' '.join(words[:-1])}, {words[-1]}"
    try:
        parts = splitname(name, strict_mode=False)
    except Exception:  # splitname raises StopIteration on a trailing backslash, and others
        return latex_text(name)
    if not parts:
        return ""
    last = " ".join(parts.get("von", []) + parts.get("last", []))
    first = " ".join(parts.get("first", []))
    junior = " ".join(parts.get("jr", []))
    text = ", ".join(p for p in (last, first, junior) if p)
    return latex_text(text)


def _chunks(text: str, file: str, problems: list[Problem]) -> list[_Chunk]:
    """Split ``text`` into ``@`` blocks, reporting unbalanced braces and stray text."""
    starts = [text.index("@", m.start()) for m in BIBTEX_START.finditer(text)]
    chunks: list[_Chunk] = []
    position = 0

    newlines = [m.start() for m in re.finditer("\n", text)]

    def line_of(offset: int) -> int:
        return bisect_left(newlines, offset) + 1

    def stray(begin: int, end: int) -> None:
        between = "\n".join(
            ln for ln in text[begin:end].splitlines() if not ln.lstrip().startswith("%")
        )
        if re.search(r"[={}]|^\s*@", between, re.MULTILINE):  # looks like data, not a comment
            first = next(i for i, c in enumerate(text[begin:end]) if not c.isspace())
            snippet = " ".join(between.split())[:60]
            problems.append(
                Problem(file, line_of(begin + first), f"text outside entries ignored: {snippet!r}")
            )

    for index, at in enumerate(starts):
        limit = starts[index + 1] if index + 1 < len(starts) else len(text)
        stray(position, at)
        head = _HEAD.match(text, at)
        if head is None:  # cannot happen: BIBTEX_START matched at this position
            continue
        line = line_of(at)
        kind, opener = head.group(1).lower(), head.group(2)
        depth, end, quoted = 1, None, False
        for delim in _DELIMS.finditer(text, head.end(), limit):
            char = delim.group()
            if char == '"':
                quoted = not quoted if depth == 1 else quoted
            elif quoted and char in "()":  # a quoted value may hold parentheses
                continue
            elif char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
                if opener == "{" and depth == 0:
                    end = delim.end()
                    break
                depth = max(depth, 1)
            elif char == ")" and opener == "(" and depth == 1:
                end = delim.end()
                break
        if end is not None:
            chunks.append(_Chunk(kind, line, text[at:end]))
            position = end
            continue
        position = limit
        if kind in _SKIPPED_TYPES:
            continue
        closer = "}" if opener == "{" else ")"
        if depth == 1:  # every field is closed, only the entry's own closer is missing
            body = text[at:limit].rstrip()
            note = f"entry has no closing {closer!r}; read up to line {line_of(at + len(body))}"
            chunks.append(_Chunk(kind, line, body + closer, note))
        else:
            problems.append(
                Problem(
                    file,
                    line,
                    f"@{kind} entry has {depth - 1} unclosed '{{' in its fields; skipped "
                    "(check the braces up to the next entry)",
                )
            )
    stray(position, len(text))
    return chunks


class _NotScannedError(Exception):
    """The scanner does not take this entry (bibtexparser will read it or say why not)."""


_SPACE = re.compile(r"\s*")
_KEY = re.compile(r"([^,\s{}()]*)\s*,")
_FIELD_NAME = re.compile(r"[A-Za-z0-9_\-().+]+")
_MACRO = re.compile(r"[A-Za-z_\-:][A-Za-z0-9_\-:]*")
_DIGITS = re.compile(r"\d+")
_TYPE = re.compile(r"@[ \t]*([A-Za-z]+)\s*([{(])")


def _strip_continuations(value: str) -> str:
    """The lines of a value after the first left-stripped (bibtexparser 1.x does the same)."""
    lines = value.splitlines()
    return "\n".join(lines[:1] + [line.lstrip() for line in lines[1:]])


def _balanced(text: str, start: int, stop_at_quote: bool) -> int:
    """Index after the ``}`` closing the brace at ``start`` (or, with ``stop_at_quote``, of
    the ``"`` ending a quoted value that starts after ``start``); raise _NotScannedError."""
    depth = 0 if stop_at_quote else 1
    position = start + 1
    for match in _DELIMS.finditer(text, position):
        char = match.group()
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth < 0:
                break
            if depth == 0 and not stop_at_quote:
                return match.end()
        elif char == '"' and stop_at_quote and depth == 0:
            return match.end()
    raise _NotScannedError


def _scan_value(
    text: str, position: int, strings: dict[str, Any], undefined: list[str]
) -> tuple[str, int]:
    """One field value at ``position``: pieces joined by ``#``, macros expanded."""
    digits = _DIGITS.match(text, position)
    if digits is not None:
        end = _SPACE.match(text, digits.end()).end()
        if text[end : end + 1] in (",", "}", ")"):
            return _strip_continuations(digits.group()), digits.end()
    pieces: list[str] = []
    while True:
        char = text[position : position + 1]
        if char == "{":
            end = _balanced(text, position, stop_at_quote=False)
            pieces.append(_strip_continuations(text[position + 1 : end - 1]))
        elif char == '"':
            end = _balanced(text, position, stop_at_quote=True)
            pieces.append(_strip_continuations(text[position + 1 : end - 1]))
        else:
            macro = _MACRO.match(text, position)
            if macro is None:
                raise _NotScannedError
            end = macro.end()
            name = macro.group().lower()
            if name in strings:
                pieces.append(_expand(strings[name], strings, undefined))
            else:
                undefined.append(name)
                pieces.append(name)
        position = _SPACE.match(text, end).end()
        if text[position : position + 1] != "#":
            return "".join(pieces), end
        position = _SPACE.match(text, position + 1).end()


def _scan_entry(text: str, strings: dict[str, Any], undefined: list[str]) -> dict[str, str]:
    """The fields of one entry (``ENTRYTYPE`` and ``ID`` first, then in file order), read with
    bibtexparser 1.x's grammar and value cleaning; raise _NotScannedError for anything else."""
    head = _TYPE.match(text)
    if head is None:
        raise _NotScannedError
    closer = "}" if head.group(2) == "{" else ")"
    key = _KEY.match(text, _SPACE.match(text, head.end()).end())
    if key is None or not key.group(1):
        raise _NotScannedError
    raw = {"ENTRYTYPE": head.group(1).lower(), "ID": key.group(1)}
    position = _SPACE.match(text, key.end()).end()
    while position < len(text) - 1 or text[position:] != closer:
        name = _FIELD_NAME.match(text, position)
        if name is None:
            raise _NotScannedError
        field = name.group().lower()
        position = _SPACE.match(text, name.end()).end()
        if text[position : position + 1] != "=" or field in raw:
            raise _NotScannedError
        position = _SPACE.match(text, position + 1).end()
        value, position = _scan_value(text, position, strings, undefined)
        raw[field] = "" if not value or value == "{}" else value
        position = _SPACE.match(text, position).end()
        if text[position : position + 1] == ",":
            position = _SPACE.match(text, position + 1).end()
        elif text[position:] != closer:
            raise _NotScannedError
    if len(raw) == 2:  # bibtexparser needs at least one field
        raise _NotScannedError
    return raw


def _expand(value: object, strings: dict[str, Any], undefined: list[str], depth: int = 0) -> str:
    """The text of a parsed value, with ``@string`` macros replaced (undefined ones kept)."""
    if isinstance(value, str):
        return value
    if isinstance(value, BibDataStringExpression):
        return "".join(_expand(part, strings, undefined, depth) for part in value.expr)
    if isinstance(value, BibDataString):
        if value.name in strings and depth < 20:
            return _expand(strings[value.name], strings, undefined, depth + 1)
        undefined.append(value.name)
        return value.name
    return str(value)


def _reason(expression: BibtexExpression, chunk: _Chunk) -> str:
    """Why ``chunk`` is not a BibTeX entry, from pyparsing's message."""
    try:
        expression.entry.parse_string(chunk.text, parse_all=True)
    except pyparsing.ParseBaseException as exc:
        return f"{exc.msg} at line {chunk.line + exc.lineno - 1}, column {exc.col}"
    except Exception as exc:
        return str(exc) or type(exc).__name__
    return "not in BibTeX syntax"


def _field(entry: dict[str, str], *names: str) -> str | None:
    for name in names:
        value = clean(entry.get(name))
        if value is not None:
            return value
    return None


def parse_bibtex(text: str, file: str, *, fast: bool = True) -> ParseResult:
    r"""Parse BibTeX ``text`` (already decoded) from ``file``; one record per entry.

    ``@string`` macros are applied (the month abbreviations are predefined), ``@comment`` and
    ``@preamble`` are skipped, and every other ``@type`` is a record. Fields read: ``title``,
    ``author`` (see :func:`split_names`), ``year`` (else ``date``), ``journal`` (else
    ``journaltitle``, else ``booktitle``), ``volume``, ``number`` (else ``issue``), ``pages``
    (``--`` read as ``-``), ``abstract``, ``doi`` (else a ``doi.org`` ``url``) and ``pmid``
    (else ``eprint`` when ``eprinttype = {pubmed}``). ``raw`` keeps every field as written
    (``keywords``, ``url`` ...) with ``ENTRYTYPE`` and ``ID``.

    Parameters
    ----------
    text : str
        The file's text.
    file : str
        The file name, used in problems.
    fast : bool
        Read entries with the module's scanner first (False: with bibtexparser alone, as
        before; the two give the same records, which the tests check).

    Returns
    -------
    ParseResult
        Format ``"bibtex"``. An entry that cannot be read is reported (with its line and
        pyparsing's reason) and left out; the other entries are kept.

    References
    ----------
    Patashnik O. *BibTeXing*. 1988. https://ctan.org/pkg/bibtex (``btxdoc.pdf``).
    Markey N. *Tame the BeaST: the B to X of BibTeX*. 2009. https://ctan.org/pkg/tamethebeast.

    Examples
    --------
    >>> bib = '''@article{smith2004,
    ...   author = {Smith, John and M{\\"u}ller, Anna},
    ...   title = {Aspirin for {CRPS}},
    ...   journal = {Pain}, year = {2004a}, pages = {100--109}}
    ... @article{broken, title = {No comma} year = 2005}
    ... '''
    >>> result = parse_bibtex(bib, "refs.bib")
    >>> record = result.records[0]
    >>> record.authors, record.title, record.year, record.pages
    (['Smith, John', 'Müller, Anna'], 'Aspirin for CRPS', 2004, '100-109')
    >>> len(result.records), result.problems[0].line
    (1, 5)
    >>> result.problems[0].message
    "@article entry could not be read (Expected '}' at line 5, column 37); skipped"
    """
    problems: list[Problem] = []
    records: list[ParsedRecord] = []
    parser = BibTexParser(ignore_nonstandard_types=False, interpolate_strings=False)
    parser.expect_multiple_parse = True
    database = parser.bib_database
    expression: BibtexExpression | None = None
    keys: dict[str, int] = {}
    for chunk in _chunks(text, file, problems):
        if chunk.kind in _SKIPPED_TYPES:
            continue
        if chunk.kind != "string" and fast:
            undefined: list[str] = []
            # pyparsing (under bibtexparser) expands tabs to 8-column stops before it parses,
            # so a tab in a value arrives as spaces; the scanner reads the same text
            entry = chunk.text.expandtabs() if "\t" in chunk.text else chunk.text
            try:
                raw = _scan_entry(entry, database.strings, undefined)
            except _NotScannedError:
                pass
            else:
                _keep(raw, chunk, undefined, keys, records, file, problems)
                continue
        before = len(database.entries)
        try:
            parser.parse(chunk.text)
        except Exception as exc:  # pyparsing and bibtexparser raise assorted errors
            problems.append(Problem(file, chunk.line, f"@{chunk.kind} could not be read ({exc})"))
            continue
        if chunk.kind == "string":
            if len(database.entries) != before or database.comments:
                database.comments.clear()
                problems.append(Problem(file, chunk.line, "@string could not be read; ignored"))
            continue
        if len(database.entries) == before:
            database.comments.clear()
            expression = expression or BibtexExpression()
            problems.append(
                Problem(
                    file,
                    chunk.line,
                    f"@{chunk.kind} entry could not be read ({_reason(expression, chunk)}); "
                    "skipped",
                )
            )
            continue
        undefined = []
        entry = database.entries[-1]
        fields = [(k, v) for k, v in entry.items() if k not in _KEYS][::-1]  # file order
        raw = {"ENTRYTYPE": entry["ENTRYTYPE"], "ID": entry["ID"]}
        raw.update((key, _expand(value, database.strings, undefined)) for key, value in fields)
        _keep(raw, chunk, undefined, keys, records, file, problems)
    problems.sort(key=lambda p: p.line or 0)
    return ParseResult("bibtex", tuple(records), tuple(problems))


def _keep(
    raw: dict[str, str],
    chunk: _Chunk,
    undefined: list[str],
    keys: dict[str, int],
    records: list[ParsedRecord],
    file: str,
    problems: list[Problem],
) -> None:
    """Add the record of one read entry, with the problems it has."""
    if chunk.note:
        run_on = next((k for k, v in raw.items() if k not in _KEYS and _RUN_ON.search(v)), None)
        if run_on is not None:
            problems.append(
                Problem(
                    file,
                    chunk.line,
                    f"{chunk.note}, and field {run_on!r} runs into the next field (an "
                    "unclosed '{'?); skipped",
                )
            )
            return
        problems.append(Problem(file, chunk.line, f"{chunk.note}; kept"))
    for name in dict.fromkeys(undefined):
        problems.append(
            Problem(file, chunk.line, f"@string {name!r} is not defined; kept as written")
        )
    key = raw.get("ID", "")
    if key in keys:
        problems.append(
            Problem(file, chunk.line, f"key {key!r} already used at line {keys[key]}; both kept")
        )
    keys.setdefault(key, chunk.line)
    records.append(_record(raw, file, chunk.line, problems))


def _dashes(value: str | None) -> str | None:
    """``"100--109"`` (or an en dash, after :func:`latex_text`) as ``"100-109"``."""
    return _PAGE_DASH.sub("-", value) if value else None


def _record(raw: dict[str, str], file: str, line: int, problems: list[Problem]) -> ParsedRecord:
    def plain(*names: str) -> str | None:
        value = _field(raw, *names)
        return _plain_text(value) if value is not None else None

    doi = _field(raw, "doi")
    if doi is None:
        url = _field(raw, "url") or ""
        doi = url if "doi.org/" in url.lower() and normalise_doi(url) else None
    pmid = _field(raw, "pmid")
    if pmid is None and (_field(raw, "eprinttype") or "").lower() == "pubmed":
        pmid = _field(raw, "eprint")
    return build_record(
        file=file,
        line=line,
        raw=raw,
        problems=problems,
        title=plain("title"),
        abstract=plain("abstract"),
        authors=split_names(raw.get("author", "")),
        year=plain("year", "date"),
        journal=plain("journal", "journaltitle", "booktitle"),
        volume=_dashes(plain("volume")),
        issue=_dashes(plain("number", "issue")),
        pages=_dashes(plain("pages")),
        doi=doi,
        pmid=pmid,
    )
