"""The review layer: a store of imported search results, with audited de-duplication.

>>> from metareview.review import Store
>>> store = Store.open("sqlite://")   # or a file path, or any SQLAlchemy URL
>>> store.create_project("demo").name
'demo'
"""

from metareview.review.dedup import DuplicateCandidates, DuplicatePair, find_duplicates
from metareview.review.importers import ParseResult, Problem, detect_format, parse_bytes, parse_file
from metareview.review.store import ImportReport, Store, StoreError

__all__ = [
    "DuplicateCandidates",
    "DuplicatePair",
    "ImportReport",
    "ParseResult",
    "Problem",
    "Store",
    "StoreError",
    "detect_format",
    "find_duplicates",
    "parse_bytes",
    "parse_file",
]
