"""Screening keywords highlighted in HTML, with every piece of the record escaped."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from metareview.review.queue import keyword_pattern

__all__ = ["highlight"]


def highlight(text: str | None, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> Markup:
    """``text`` as HTML with include keywords in ``<mark class="kw-in">`` and exclude
    keywords in ``<mark class="kw-ex">`` (where both match, exclude wins), as the terminal
    screener colours them (:func:`metareview.review.queue.keyword_pattern`: whole words, a
    trailing ``*`` for any ending).

    Examples
    --------
    >>> str(highlight("Ketamine <b>in</b> rats", ["ketamine"], ["rat*"]))
    '<mark class="kw-in">Ketamine</mark> &lt;b&gt;in&lt;/b&gt; <mark class="kw-ex">rats</mark>'
    """
    text = text or ""
    marks = [""] * len(text)
    for keywords, css in ((include, "kw-in"), (exclude, "kw-ex")):
        for keyword in keywords:
            for match in keyword_pattern(keyword).finditer(text):
                for i in range(match.start(), match.end()):
                    marks[i] = css
    out: list[str] = []
    start = 0
    for i in range(1, len(text) + 1):
        if i == len(text) or marks[i] != marks[start]:
            piece = str(escape(text[start:i]))
            out.append(f'<mark class="{marks[start]}">{piece}</mark>' if marks[start] else piece)
            start = i
    return Markup("".join(out))
