"""The review layer: a store of imported search results, with audited de-duplication.

>>> from metareview.review import Store
>>> store = Store.open("sqlite://")   # or a file path, or any SQLAlchemy URL
>>> store.create_project("demo").name
'demo'
"""

from metareview.review.dedup import DuplicateCandidates, DuplicatePair, RelatedPair, find_duplicates
from metareview.review.importers import ParseResult, Problem, detect_format, parse_bytes, parse_file
from metareview.review.simulation import (
    ScreeningSimulation,
    read_labelled_records,
    simulate_screening,
)
from metareview.review.stopping import (
    StoppingDecision,
    consecutive_irrelevant,
    hypergeometric_stop,
    knee_stop,
)
from metareview.review.store import ImportReport, Store, StoreError

__all__ = [
    "DuplicateCandidates",
    "DuplicatePair",
    "ImportReport",
    "ParseResult",
    "Problem",
    "RelatedPair",
    "ScreeningSimulation",
    "StoppingDecision",
    "Store",
    "StoreError",
    "consecutive_irrelevant",
    "detect_format",
    "find_duplicates",
    "hypergeometric_stop",
    "knee_stop",
    "parse_bytes",
    "parse_file",
    "read_labelled_records",
    "simulate_screening",
]
