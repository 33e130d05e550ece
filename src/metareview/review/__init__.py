"""The review layer: a store of imported search results, with audited de-duplication.

>>> from metareview.review import Store
>>> store = Store.open("sqlite://")   # or a file path, or any SQLAlchemy URL
>>> store.create_project("demo").name
'demo'
"""

import typing

import metareview._lazy as _lazy

if typing.TYPE_CHECKING:  # the names for type checkers; at run time they come from __getattr__
    from metareview.review.dedup import (
        DuplicateCandidates,
        DuplicatePair,
        RelatedPair,
        find_duplicates,
    )
    from metareview.review.importers import (
        ParseResult,
        Problem,
        detect_format,
        parse_bytes,
        parse_file,
    )
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
        min_certifying_sample,
    )
    from metareview.review.store import ImportReport, Store, StoreError

#: where each public name lives. A module is imported when one of its names is first used, so
#: ``from metareview.review import Store`` does not load pandas, numpy, rapidfuzz or the
#: readers of every export format (issue 21.19, start-up time of the store commands).
_ORIGIN = {
    "DuplicateCandidates": "dedup",
    "DuplicatePair": "dedup",
    "ImportReport": "store",
    "ParseResult": "importers",
    "Problem": "importers",
    "RelatedPair": "dedup",
    "ScreeningSimulation": "simulation",
    "StoppingDecision": "stopping",
    "Store": "store",
    "StoreError": "store",
    "consecutive_irrelevant": "stopping",
    "detect_format": "importers",
    "find_duplicates": "dedup",
    "hypergeometric_stop": "stopping",
    "knee_stop": "stopping",
    "min_certifying_sample": "stopping",
    "parse_bytes": "importers",
    "parse_file": "importers",
    "read_labelled_records": "simulation",
    "simulate_screening": "simulation",
}


def __getattr__(name: str) -> typing.Any:
    """Public names are imported on first use (PEP 562)."""
    return _lazy.lazy_attribute(__name__, _ORIGIN, name)


def __dir__() -> list[str]:
    return _lazy.lazy_dir(__name__)


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
    "min_certifying_sample",
    "parse_bytes",
    "parse_file",
    "read_labelled_records",
    "simulate_screening",
]
