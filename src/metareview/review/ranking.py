"""Relevance ranking of records for prioritised title/abstract screening (active learning).

The text of each record (title, abstract and keywords) becomes one TF-IDF vector, fitted
**once** for the whole set of records: retraining after a screening decision refits only the
classifier on the labelled rows and re-scores every row with one sparse product, so the
vocabulary never changes during a review and no decision re-reads the text. Past
:data:`MAX_TRAINING_EXCLUDED` labelled exclusions the classifier learns from every inclusion
and a fixed random sample of that many exclusions (:func:`training_rows`), so a retrain
stops growing with the number of decisions.

Three classifiers are offered, each trained with sample weights that favour the inclusions,
because they are rare (a few per cent of the records):

``svm`` (the default)
    linear support vector machine (``LinearSVC``, squared hinge loss, C = 0.11), included
    records weighing 9.8 times the excluded ones in total;
``logistic``
    L2-regularised logistic regression (liblinear, dual, C = 1), both classes weighing the
    same in total (``class_weight="balanced"``);
``nb``
    multinomial naive Bayes (alpha = 3.822, the ASReview 1 default), both classes weighing
    the same in total.

The defaults of :func:`screening_features` (word 1- and 2-grams, sublinear term frequency,
terms in more than 95 % of the records dropped, stop words kept) and the SVM with its weights
reproduce ASReview's default model ``elas_u4`` (ASReview LAB 2 and 3; its settings were tuned
by its authors on the SYNERGY data sets, asreview/asreview ``asreview/models/models.py``), with
the same "max" query. They are the defaults because they measured best here (5 seeds per set,
bench/README.md): against the former default (logistic regression on single words, raw
counts) they raised the mean WSS@95 on four of the five shared benchmark sets (Kitchenham
+6.5 points, Nudging +8.1, PTSD +0.8, Virus +1.4) and lowered it on ACE (-3.1), 75.2 against
72.5 over the five; no configuration tried between the two did better on most sets. With the
same priors, seed and batch they give the same screening order as ASReview's own
``asreview simulate`` (bench_asreview.py) when trained on the labelled records only
(``training="elas_u4"``).

By default the SVM is also trained, at each retrain, on unscreened records presumed
irrelevant for that retrain only (``training="presumed_irrelevant"``,
:func:`presumed_irrelevant`): a fit with 100 of them drawn at random (the "BMI" of Cormack &
Grossman 2014), then two fits each with 100 drawn from the 10 % of unscreened records the fit
before scored lowest (the "reliable negatives" of Li & Liu 2003); the last fit's scores rank.
Chosen among 22 variants on seeds 0-9 of the five shared sets and checked on seeds 10-19,
which played no part in the choice, it raised WSS@95 over elas_u4 (and so over ASReview's
own simulate) on every set: PTSD +0.3, Kitchenham +4.5, Nudging +1.5, Virus +2.5, ACE +2.6
points (paired means over seeds 10-19; bench/README.md). It costs three fits per retrain
(about three times elas_u4's time; with the training-set cap under 100 ms CPU for
10,000 records at any number of decisions) and, on ACE, one relevant record of 41 found after the
first 10 % of the records rather than within them. While fewer than 1,000 records are
unscreened (the 10 % pool would hold fewer than the 100 drawn) it trains as elas_u4: on
ASReview's 100-record demo set (10 % relevant) presuming records irrelevant lowered WSS@95
by 3.8 points (16 of 20 seeds worse), and the method was shown to help on collections of
1,700-5,000 records only.

The score of a record is its log-odds of relevance (naive Bayes, logistic regression) or its
signed distance to the separating hyperplane (SVM): higher means more likely relevant.
:func:`next_records` picks the highest-scoring unscreened records ("max" query), optionally
with a share of random picks and of uncertainty picks (scores nearest the boundary).

This module holds no statistics and no rule about who may see what: the store decides which
decisions a reviewer's model may learn from (see DESIGN.md, blinding).

References
----------
van de Schoot R, de Bruin J, Schram R, et al. An open source machine learning framework for
efficient and transparent systematic reviews. Nat Mach Intell 2021;3:125-133.
doi:10.1038/s42256-020-00287-7
Cormack GV, Grossman MR. Evaluation of machine-learning protocols for technology-assisted
review in electronic discovery. SIGIR 2014:153-162. doi:10.1145/2600428.2609601
Li X, Liu B. Learning to classify texts using positive and unlabeled data. IJCAI
2003:587-592.
Ferdinands G, Schram R, de Bruin J, et al. Performance of active learning models for
screening prioritization in systematic reviews: a simulation study into the Average Time to
Discover relevant records. Syst Rev 2023;12:100. doi:10.1186/s13643-023-02257-7
ASReview LAB developers. ASReview LAB 2.0 models: ELAS u4 (TF-IDF 1-2-grams + linear SVM,
balanced sample weights). https://github.com/asreview/asreview (asreview/models/models.py);
tuning: https://github.com/asreview/asreview-optuna/releases/tag/ASReview2_0b4-nb-tfidf-full-1
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # scipy.sparse is imported with scikit-learn, when records are ranked
    import numpy as np
    import pandas as pd
    from scipy import sparse

from metareview._validation import Interval, Options
from metareview.exceptions import Argument, InputError

__all__ = [
    "CLASSIFIERS",
    "CLASSIFIER_DEFAULTS",
    "DEFAULT_CLASSIFIER",
    "DEFAULT_TRAINING",
    "DEFAULT_TRAINING_SAMPLE",
    "MAX_TRAINING_EXCLUDED",
    "PRESUMED_IRRELEVANT",
    "TRAINING",
    "TRAINING_SAMPLES",
    "PresumedIrrelevant",
    "ScreeningFeatures",
    "fold_single_record_terms",
    "next_records",
    "presumed_irrelevant",
    "relevance_scores",
    "screening_features",
    "training_rows",
]

CLASSIFIERS = Options(
    "classifier",
    ("nb", "logistic", "svm"),
    aliases={"naive_bayes": "nb", "lr": "logistic", "logreg": "logistic", "linear_svm": "svm"},
)

#: Additive smoothing of the naive Bayes model (ASReview's default, tuned by its authors).
NB_ALPHA = 3.822

#: The classifier used when none is named (ASReview's ``elas_u4``; see the module docstring).
DEFAULT_CLASSIFIER = "svm"

#: Per classifier: the inverse regularisation strength ``C`` and the ``balance_ratio`` used
#: when none is given. The SVM's are ASReview ``elas_u4``'s; the others the former defaults
#: (both classes weighing the same), kept for comparison.
CLASSIFIER_DEFAULTS: dict[str, dict[str, float | None]] = {
    "svm": {"C": 0.11, "balance_ratio": 9.8},
    "logistic": {"C": 1.0, "balance_ratio": 1.0},
    "nb": {"C": None, "balance_ratio": 1.0},
}

#: Labelled irrelevant records a retrain learns from at most (None: all of them); every
#: labelled relevant record is always used. See :func:`training_rows`.
MAX_TRAINING_EXCLUDED: int | None = 2000

#: Which labelled irrelevant records a capped retrain keeps (:func:`training_rows`), and the
#: default: a fixed random sample, which measured better than the most recent where the
#: default cap bit.
TRAINING_SAMPLES = Options("training_sample", ("random", "recent"))
DEFAULT_TRAINING_SAMPLE = "random"

_MAX_EXCLUDED = Interval("max_excluded", 1, None, integer=True)


TRAINING = Options(
    "training",
    ("presumed_irrelevant", "labelled"),
    aliases={"elas_u4": "labelled", "bmi": "presumed_irrelevant"},
)


@dataclass(frozen=True, slots=True)
class PresumedIrrelevant:
    """Settings of the ``presumed_irrelevant`` training (see :func:`presumed_irrelevant`).

    Attributes
    ----------
    n : int
        Unscreened records presumed irrelevant at each fit.
    pool : float
        Share of the unscreened records they are drawn from: the lowest-scored by the
        previous fit (the whole of them, at random, for the first fit). While this share
        holds fewer than ``n`` records (fewer than ``n / pool`` unscreened), none are
        presumed irrelevant and the model trains on the labelled records only.
    fits : int
        Fits per retrain: the first with a random draw, each later one with a draw from the
        lowest-scored ``pool`` of the fit before; the last one gives the scores.
    """

    n: int = 100
    pool: float = 0.1
    fits: int = 3


#: The settings of ``training="presumed_irrelevant"`` (chosen on the shared benchmark sets,
#: bench/README.md, "Beating elas_u4").
PRESUMED_IRRELEVANT = PresumedIrrelevant()

#: Per classifier, the training used when none is named: the SVM (the default) adds records
#: presumed irrelevant; logistic regression and naive Bayes, not measured with them, train
#: on the labelled records only.
DEFAULT_TRAINING: dict[str, str] = {
    "svm": "presumed_irrelevant",
    "logistic": "labelled",
    "nb": "labelled",
}


@dataclass(frozen=True, slots=True)
class ScreeningFeatures:
    """TF-IDF features of a set of records, fitted once.

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix
        One row per record, one column per term (TF-IDF weights, rows L2-normalised).
    terms : tuple of str
        The vocabulary, in column order.
    no_abstract : numpy.ndarray of bool
        Records ranked on their title (and keywords) alone.
    no_text : numpy.ndarray of bool
        Records with no usable text at all; they score like an empty document.
    training_matrix : scipy.sparse.csr_matrix or None
        What the SVM and logistic regression are trained on and score: ``matrix`` with the
        terms found in one record only folded into one column per record (see
        :func:`fold_single_record_terms`): the same inner products between records, hence
        the same model and the same scores, with about a third of the columns. None: use
        ``matrix``.
    """

    matrix: sparse.csr_matrix
    terms: tuple[str, ...]
    no_abstract: np.ndarray
    no_text: np.ndarray
    training_matrix: sparse.csr_matrix | None = None

    @property
    def n_records(self) -> int:
        """Number of records (rows)."""
        return int(self.matrix.shape[0])

    def notes(self) -> list[str]:
        """Plain-language notes about records ranked on less text than the others."""
        notes = []
        if self.no_abstract.any():
            notes.append(
                f"{int(self.no_abstract.sum())} of {self.n_records} records have no "
                "abstract; they are ranked on their title (and keywords) only."
            )
        if self.no_text.any():
            notes.append(
                f"{int(self.no_text.sum())} records have no title, abstract or "
                "keywords; their relevance cannot be estimated from text."
            )
        return notes


def fold_single_record_terms(matrix: sparse.spmatrix) -> sparse.csr_matrix:
    """Fold the columns of terms found in one record only into one column per record.

    Each record's weights on terms that no other record has are replaced by one entry, the
    square root of their sum of squares, in a column of its own. The inner product of any
    two records is unchanged (a term in one record adds only to that record's squared
    norm), and so is every record's norm.

    Parameters
    ----------
    matrix : scipy.sparse matrix
        Records by terms (e.g. ``ScreeningFeatures.matrix``).

    Returns
    -------
    scipy.sparse.csr_matrix
        Records by (terms in two or more records + records with a term of their own).

    Notes
    -----
    Why this changes nothing: the linear SVM and logistic regression are fitted by
    liblinear in their dual form, which sees the features only through the inner products
    of the labelled records (and its coordinate descent only through the nonzeros of each
    row, in order): with the same inner products it solves the same problem, in the same
    order of updates, and the primal weights ``w = sum_i alpha_i y_i x_i`` give every
    record the same score ``w . x``, up to the rounding of a reordered sum (observed
    < 1e-14). A single-record term of an unscreened record gets weight 0 and one of a
    screened record moves only that record's own score, so no order changes. With word
    1-2-grams most terms are in one record (482,744 of 681,810 for the 10,000 records of
    the benchmark): the fold keeps 2.76 of 3.24 million nonzeros in 209,048 columns, and a
    retrain streams less memory (Hsieh et al. 2008 for the dual coordinate descent).
    Naive Bayes counts terms, not inner products: it is trained on the unfolded matrix.

    References
    ----------
    Hsieh CJ, Chang KW, Lin CJ, Keerthi SS, Sundararajan S. A dual coordinate descent
    method for large-scale linear SVM. ICML 2008:408-415. doi:10.1145/1390156.1390208

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.sparse import csr_matrix
    >>> X = csr_matrix(np.array([[3.0, 1.0, 0.0, 4.0], [0.0, 2.0, 0.0, 0.0],
    ...                          [0.0, 1.0, 5.0, 0.0]]))
    >>> F = fold_single_record_terms(X)
    >>> F.toarray()
    array([[1., 5., 0.],
           [2., 0., 0.],
           [1., 0., 5.]])
    >>> bool(np.allclose((F @ F.T).toarray(), (X @ X.T).toarray()))
    True
    """
    import numpy as np
    from scipy.sparse import csr_matrix, hstack

    matrix = csr_matrix(matrix)
    n_records, n_terms = matrix.shape
    in_records = np.bincount(matrix.indices, minlength=n_terms)
    own = in_records[matrix.indices] == 1
    if not own.any():
        return matrix
    row = np.repeat(np.arange(n_records), np.diff(matrix.indptr))
    norm = np.sqrt(np.bincount(row[own], weights=matrix.data[own] ** 2, minlength=n_records))
    holders = np.flatnonzero(norm > 0)
    private = csr_matrix(
        (norm[holders], (holders, np.arange(holders.size))), shape=(n_records, holders.size)
    )
    folded = hstack([matrix[:, np.flatnonzero(in_records >= 2)], private], format="csr")
    folded.sort_indices()
    return folded


def _text_column(records: pd.DataFrame, column: str | None) -> pd.Series:
    import pandas as pd

    if column is None:
        return pd.Series("", index=records.index, dtype=object)
    if column not in records.columns:
        raise InputError(
            f"records: no column {column!r}; the columns are "
            f"{', '.join(map(repr, records.columns))}. Name the text columns with ",
            Argument("title", placeholder="column"),
            ", ",
            Argument("abstract", placeholder="column"),
            " and ",
            Argument("keywords", placeholder="column"),
            ".",
        )
    return records[column].fillna("").astype(str).str.strip()


def screening_features(
    records: pd.DataFrame,
    *,
    title: str | None = "title",
    abstract: str | None = "abstract",
    keywords: str | None = None,
    ngram_max: int = 2,
    min_df: int = 1,
    max_df: float = 0.95,
    sublinear_tf: bool = True,
    stop_words: str | None = None,
) -> ScreeningFeatures:
    """TF-IDF features of title + abstract (+ keywords), fitted once on all records.

    Parameters
    ----------
    records : pandas.DataFrame
        One row per record.
    title, abstract, keywords : str or None
        Column names of the text fields (None leaves a field out). Missing values count as
        empty text.
    ngram_max : int
        Longest word n-gram used as a term (2 = single words and pairs of adjacent words,
        as ASReview's ``elas_u4``; 1 = single words only).
    min_df : int
        Terms in fewer records than this are dropped.
    max_df : float
        Terms in more than this share of the records are dropped (0.95, as ``elas_u4``; 1.0
        keeps every term).
    sublinear_tf : bool
        Use ``1 + log(tf)`` instead of the raw term count (as ``elas_u4``).
    stop_words : "english" or None
        Remove scikit-learn's English stop-word list (ASReview 1's default) or, by default,
        keep every word (as ``elas_u4``): keeping them raised WSS@95 on four of the five
        shared benchmark sets with single-word features (Kitchenham +7 to +9 points, Nudging
        +4 to +16; see bench/README.md).

    Returns
    -------
    ScreeningFeatures

    Raises
    ------
    InputError
        No records, a named column missing, or no record with any text.

    Notes
    -----
    The defaults are the feature settings of ASReview's default model ``elas_u4`` (module
    docstring). With the elas_u4 SVM they raised WSS@95 over single words with raw counts
    on Kitchenham (+4.6 points) and lowered it on ACE (-2.6; bench/README.md). The 2-grams
    multiply the number of terms (about 680,000 for 10,000 records against 41,000 single
    words), which makes each retrain slower; most of them are in one record only, and
    ``training_matrix`` folds those into one column per record, which changes no score
    (:func:`fold_single_record_terms`). The vectoriser is fitted on the unlabelled text of
    every record, which uses no decision and so leaks none.

    Examples
    --------
    >>> import pandas as pd
    >>> recs = pd.DataFrame({"title": ["Ketamine for pain", "Bird song", "Pain relief"],
    ...                      "abstract": ["A trial.", None, "Ketamine trial."]})
    >>> feats = screening_features(recs)
    >>> feats.matrix.shape[0], int(feats.no_abstract.sum())
    (3, 1)
    """
    import numpy as np
    import pandas as pd

    if not isinstance(records, pd.DataFrame):
        raise InputError(f"records must be a pandas DataFrame; got {type(records).__name__}.")
    if len(records) == 0:
        raise InputError("records: the data set is empty (0 rows); nothing to rank.")
    parts = [_text_column(records, column) for column in (title, abstract, keywords)]
    text = (parts[0] + " " + parts[1] + " " + parts[2]).str.strip()
    no_abstract = (parts[1] == "").to_numpy()
    no_text = (text == "").to_numpy()
    if no_text.all():
        raise InputError(
            "records: no record has a title, abstract or keywords; there is no text to rank on."
        )
    if stop_words not in ("english", None):
        raise InputError(f"stop_words must be 'english' or None; got {stop_words!r}.")
    from scipy.sparse import csr_matrix
    from sklearn.feature_extraction.text import TfidfVectorizer  # ~1 s: only when ranking

    def vectorise(share: float) -> tuple[sparse.spmatrix, TfidfVectorizer]:
        vectoriser = TfidfVectorizer(
            stop_words=stop_words,
            ngram_range=(1, ngram_max),
            min_df=min_df,
            max_df=share,
            sublinear_tf=sublinear_tf,
            dtype=np.float64,
        )
        return vectoriser.fit_transform(text.tolist()), vectoriser

    try:
        matrix, vectoriser = vectorise(max_df)
    except ValueError as exc:  # e.g. every word is a stop word
        if max_df >= 1.0:
            raise InputError(f"records: no usable words in the text ({exc}).") from None
        # a handful of records can have every word in more than max_df of them (or one
        # record: no term can be in fewer than all): keep every term rather than none
        try:
            matrix, vectoriser = vectorise(1.0)
        except ValueError as exc:
            raise InputError(f"records: no usable words in the text ({exc}).") from None
    matrix = csr_matrix(matrix)
    return ScreeningFeatures(
        matrix=matrix,
        terms=tuple(vectoriser.get_feature_names_out()),
        no_abstract=no_abstract,
        no_text=no_text,
        training_matrix=fold_single_record_terms(matrix),
    )


def _check_labelled(
    n_records: int, labelled: Sequence[int] | np.ndarray, labels: Sequence[int] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    idx = np.asarray(labelled, dtype=np.intp).ravel()
    y = np.asarray(labels).ravel()
    if idx.shape != y.shape:
        raise InputError(
            f"labelled and labels must have the same length; got {idx.size} and {y.size}."
        )
    bad = ~np.isin(y, (0, 1))
    if bad.any():
        raise InputError(
            f"labels must be 0 (exclude) or 1 (include); got "
            f"{y[bad][0].item()!r} at position {int(np.flatnonzero(bad)[0]) + 1}."
        )
    if idx.size and (idx.min() < 0 or idx.max() >= n_records):
        raise InputError(f"labelled holds record positions outside 0..{n_records - 1}.")
    return idx, y.astype(np.int8)


def _model_settings(
    name: str, balance: bool, balance_ratio: float | None, C: float | None
) -> tuple[float | None, float]:
    """The balance ratio (None = unweighted) and C of one classifier, defaults filled in."""
    defaults = CLASSIFIER_DEFAULTS[name]
    checked = []
    for label, value, default in (
        ("balance_ratio", balance_ratio, defaults["balance_ratio"]),
        ("C", C, defaults["C"] or 1.0),
    ):
        value = default if value is None else value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(Argument(label), f" must be a positive number; got {value!r}.")
        if not (math.isfinite(value) and value > 0):
            raise InputError(Argument(label), f" must be a positive number; got {value!r}.")
        checked.append(float(value))
    return (checked[0] if balance else None), checked[1]


def _sample_weights(y: np.ndarray, ratio: float) -> np.ndarray:
    """ASReview's "balanced" sample weights: the included records (y = 1) together weigh
    ``ratio`` times the excluded ones, and the weights sum to the number of records (ratio
    1: each class has total weight n / 2). Both classes must be present."""
    import numpy as np

    n_include = int(y.sum())
    weights = np.where(y == 1, 1.0, n_include / (ratio * (y.size - n_include)))
    return weights * (y.size / weights.sum())


def _record_keys(positions: np.ndarray) -> np.ndarray:
    """A fixed pseudo-random 64-bit key per row position (the SplitMix64 finaliser, Steele
    et al. 2014): the same record gets the same key in every call, whatever the order or
    number of the labelled records."""
    import numpy as np

    z = positions.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def training_rows(
    labelled: Sequence[int] | np.ndarray,
    labels: Sequence[int] | np.ndarray,
    max_excluded: int | None = MAX_TRAINING_EXCLUDED,
    *,
    sample: str = DEFAULT_TRAINING_SAMPLE,
) -> np.ndarray:
    """Which labelled records a retrain learns from: every relevant one, and at most
    ``max_excluded`` irrelevant ones.

    Parameters
    ----------
    labelled : sequence of int
        Row positions of the records screened so far, in the order they were screened.
    labels : sequence of {0, 1}
        Their decisions (1 = include), in the same order.
    max_excluded : int or None
        Most irrelevant records kept (None: all).
    sample : {"random", "recent"}
        ``"random"`` (the default): the irrelevant records with the smallest fixed
        pseudo-random key of their row position (:func:`_record_keys`): a reproducible
        random sample that does not depend on the order of ``labelled`` and changes little
        from one retrain to the next (a bottom-k sample: a record once left out never comes
        back). ``"recent"``: the last ``max_excluded`` in the order of ``labelled``.

    Returns
    -------
    numpy.ndarray of int
        Positions into ``labelled`` (not row positions), ascending, so the kept records stay
        in their given order; all of them when the cap does not bite.

    Notes
    -----
    Undersampling the majority class bounds the cost of a retrain: liblinear's dual
    coordinate descent costs time in proportion to the labelled rows times its passes
    (which grow with them too), so after a few thousand decisions the fit is the whole cost
    of a re-rank (bench/README.md). ASReview 1's balance strategies train on subsets of
    the same kind: ``undersample`` keeps every inclusion and a random share of the
    exclusions; ``double`` (its default) keeps the training set at the number of labelled
    records, filled with copies of the inclusions and a random sample of the exclusions
    (asreview/asreview, ``asreview/models/balance/``; van de Schoot et al. 2021); random
    undersampling of the majority class is the classical answer to class imbalance
    (Japkowicz & Stephen 2002; He & Garcia 2009).
    :func:`relevance_scores` weights the kept records with :func:`_sample_weights` as it
    would all of them, so the class balance the classifier sees is the one ``balance_ratio``
    sets. Re-weighting the kept exclusions to stand for all of them instead (each weighing
    ``n_excluded / max_excluded`` times more, the weights summing to all the labelled
    records) keeps the same balance but loosens the regularisation in proportion; it
    measured no better (lower WSS@95 on all five shared sets at a cap of 100, about the
    same at 250 to 1,000; bench/README.md).

    Why a random sample by default: with the "max" query the records screened last are
    those the model ranked highest, so the recent exclusions are the hard ones near the
    current decision boundary (Tong & Koller 2001), and on the five shared single-topic
    sets, with caps small enough to bite early (100 and 250), keeping them gave the higher
    WSS@95 on three or four of the five. But they are also the exclusions near the topic
    being mined at the moment: on the 10,000 records of the five sets together (five
    topics, where the default cap of 2,000 bites from 22% screened on) keeping the recent
    ones forgot the exclusions that had shaped the rest of the boundary, and WSS@95 fell
    5.5 points at a cap of 1,000 (random: 1.5) and rose only 0.5 at 2,000 (random: 2.0,
    every seed at least 69.6 against 66.8-70.9 uncapped). A random sample keeps a picture
    of every part of the labelled set and does not depend on the order the caller lists
    the records in; from a cap of 500 up it left WSS@95 and RRF@10 unchanged in every run
    on the five shared sets (bench/README.md, ``bench_training_cap.py``).

    References
    ----------
    Japkowicz N, Stephen S. The class imbalance problem: a systematic study. Intell Data
    Anal 2002;6:429-449. doi:10.3233/IDA-2002-6504
    He H, Garcia EA. Learning from imbalanced data. IEEE Trans Knowl Data Eng
    2009;21:1263-1284. doi:10.1109/TKDE.2008.239
    Steele GL, Lea D, Flood CH. Fast splittable pseudorandom number generators. OOPSLA
    2014:453-472. doi:10.1145/2660193.2660195
    Tong S, Koller D. Support vector machine active learning with applications to text
    classification. J Mach Learn Res 2001;2:45-66.

    Examples
    --------
    >>> training_rows([7, 3, 9, 4, 5], [0, 1, 0, 0, 0], 2, sample="recent")
    array([1, 3, 4])
    >>> training_rows([7, 3, 9, 4, 5], [0, 1, 0, 0, 0], None)
    array([0, 1, 2, 3, 4])
    """
    import numpy as np

    sample = TRAINING_SAMPLES.check(sample)
    idx = np.asarray(labelled, dtype=np.intp).ravel()
    y = np.asarray(labels).ravel()
    cap = None if max_excluded is None else _MAX_EXCLUDED.check(max_excluded)
    excluded = np.flatnonzero(y == 0)
    if cap is None or excluded.size <= cap:
        return np.arange(idx.size)
    if sample == "recent":
        kept = excluded[-cap:]
    else:
        kept = excluded[np.argsort(_record_keys(idx[excluded]), kind="stable")[:cap]]
    return np.sort(np.concatenate([np.flatnonzero(y != 0), kept]))


def _training_set(
    idx: np.ndarray,
    y: np.ndarray,
    ratio: float | None,
    max_excluded: int | None,
    sample: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The rows, labels and sample weights a retrain fits: :func:`training_rows` of the
    labelled records, weighted by :func:`_sample_weights` (None: unweighted) as if they were
    all the labelled records, so the classes keep the balance ``ratio`` sets (as ASReview's
    undersampling balancer, whose kept records stand for no others)."""
    rows = training_rows(idx, y, max_excluded, sample=sample)
    if rows.size < idx.size:  # capped; otherwise exactly as without a cap
        idx, y = idx[rows], y[rows]
    return idx, y, (None if ratio is None else _sample_weights(y, ratio))


def presumed_irrelevant(
    n_records: int,
    labelled: Sequence[int] | np.ndarray,
    scores: np.ndarray | None,
    rng: np.random.Generator,
    *,
    n: int = PRESUMED_IRRELEVANT.n,
    pool: float = PRESUMED_IRRELEVANT.pool,
) -> np.ndarray:
    """Unscreened records to train on as if they had been excluded.

    Draws ``n`` of the ``u`` records not in ``labelled``, without replacement: at random from
    all of them when ``scores`` is None, else at random from the ``floor(pool * u)`` of them
    with the lowest ``scores``. None while that pool holds fewer than ``n`` records (fewer
    than ``n / pool`` = 1,000 unscreened records by default): a small collection then trains
    on its labelled records only.

    Parameters
    ----------
    n_records : int
        Number of records (positions 0 .. n_records - 1).
    labelled : sequence of int
        Positions of the records screened (they are never drawn).
    scores : numpy.ndarray or None
        Scores of every record by an earlier fit (higher = more likely relevant).
    rng : numpy.random.Generator
        Source of the draw.
    n, pool : int, float
        See :class:`PresumedIrrelevant`.

    Returns
    -------
    numpy.ndarray of int
        Sorted positions of the records presumed irrelevant.

    Notes
    -----
    Relevant records are rare among unscreened ones, so a random draw of them, labelled
    irrelevant for one fit only, is mostly right: the "BMI" of continuous active learning
    (Cormack & Grossman 2014, 100 records drawn afresh at each retrain). Among the records an
    earlier fit scored lowest they are rarer still: taking the "reliable negatives" from
    the unlabelled records a first classifier rejects is the first step of learning from
    positive and unlabelled examples (Li & Liu 2003). The draw uses only which records are
    labelled (and the scores, which come from the labels), never anything else about the
    unscreened records.

    References
    ----------
    Cormack GV, Grossman MR. Evaluation of machine-learning protocols for technology-assisted
    review in electronic discovery. SIGIR 2014:153-162. doi:10.1145/2600428.2609601
    Li X, Liu B. Learning to classify texts using positive and unlabeled data. IJCAI
    2003:587-592.

    Examples
    --------
    >>> import numpy as np
    >>> scores = np.arange(40.0)  # record 10 is the lowest-scored unscreened one
    >>> drawn = presumed_irrelevant(40, range(10), scores, np.random.default_rng(0),
    ...                             n=2, pool=0.1)  # 2 of the 3 lowest of the 30 unscreened
    >>> drawn.size, bool(set(drawn.tolist()) <= {10, 11, 12})
    (2, True)
    >>> presumed_irrelevant(40, range(10), scores, np.random.default_rng(0), n=4).size
    0
    """
    import numpy as np

    left = np.setdiff1d(np.arange(n_records), np.asarray(labelled, dtype=np.intp))
    size = int(pool * left.size)
    if size < n:
        return np.empty(0, dtype=np.intp)
    if scores is not None:
        left = left[np.argsort(scores[left], kind="stable")[:size]]
    return np.sort(rng.choice(left, n, replace=False).astype(np.intp))


def relevance_scores(
    features: ScreeningFeatures | sparse.spmatrix,
    labelled: Sequence[int] | np.ndarray,
    labels: Sequence[int] | np.ndarray,
    *,
    classifier: str = DEFAULT_CLASSIFIER,
    balance: bool = True,
    balance_ratio: float | None = None,
    C: float | None = None,
    training: str | None = None,
    max_excluded: int | None = MAX_TRAINING_EXCLUDED,
    training_sample: str = DEFAULT_TRAINING_SAMPLE,
) -> np.ndarray | None:
    """Train a classifier on the labelled records and score every record.

    Parameters
    ----------
    features : ScreeningFeatures or sparse matrix
        The features of all records (from :func:`screening_features`).
    labelled : sequence of int
        Row positions of the records screened so far (oldest decision first when
        ``training_sample`` is ``"recent"``).
    labels : sequence of {0, 1}
        Their decisions (1 = include), in the same order.
    classifier : {"svm", "logistic", "nb"}
        See the module docstring. The SVM (ASReview's ``elas_u4``) is the default: with
        the default features it had the highest mean WSS@95 over the five shared benchmark
        sets (bench/README.md).
    balance : bool
        Weight the classes (recommended: inclusions are rare); False trains unweighted.
    balance_ratio : float, optional
        With ``balance``: sample weights that give the included records, taken together,
        this many times the weight of the excluded ones (ASReview's "balanced" sample
        weights and their ``ratio``), scaled to sum to the number of labelled records; 1
        weights both classes equally (scikit-learn's ``class_weight="balanced"``). Default:
        the classifier's entry in :data:`CLASSIFIER_DEFAULTS` (9.8 for the SVM).
    C : float, optional
        Inverse regularisation strength of logistic regression and the SVM (naive Bayes has
        none). Default: the classifier's entry in :data:`CLASSIFIER_DEFAULTS` (0.11 for the
        SVM, 1 for logistic regression).
    training : {"presumed_irrelevant", "labelled"}, optional
        ``"labelled"`` (alias ``"elas_u4"``) trains on the labelled records only, as
        ASReview; ``"presumed_irrelevant"`` also trains on unscreened records presumed
        irrelevant for this retrain only (:func:`presumed_irrelevant`, settings
        :data:`PRESUMED_IRRELEVANT`): three fits, the first with 100 records drawn at random,
        each later one with 100 drawn from the 10 % of unscreened records the fit before
        scored lowest; none while fewer than 1,000 records are unscreened. The draw is
        seeded by the set of labelled positions, so the same decisions give the same
        scores. Default: :data:`DEFAULT_TRAINING` (presumed irrelevant for the SVM): on the
        five shared benchmark sets it raised WSS@95 over elas_u4 on every set (10 seeds,
        bench/README.md).
    max_excluded : int or None
        Train on every labelled relevant record and at most this many labelled irrelevant
        ones (:func:`training_rows`; None: all labelled records), so that a retrain costs
        no more after thousands of decisions than after ``max_excluded``. The kept records
        are weighted by the same rule as an uncapped training set (``balance``,
        ``balance_ratio`` applied to them), so the classes keep their balance.
        Default :data:`MAX_TRAINING_EXCLUDED` (2,000), chosen by measurement
        (bench/README.md, ``bench_training_cap.py``): it keeps a retrain + re-rank of
        10,000 records under 100 ms CPU at any number of labelled records (the default
        three-fit training: 88 ms at 9,000 labelled, 661 ms uncapped; elas_u4: 30 ms, 208
        ms uncapped); it never bit in the simulated runs on the five shared sets (25 with
        elas_u4, 50 with the default training), where caps down to 500 left elas_u4's
        WSS@95 and RRF@10 unchanged, and on their 10,000 records together it raised
        elas_u4's WSS@95 by 2.0 points. Up to the cap the model is exactly the uncapped
        one; the records presumed irrelevant are added after the cap, all of them.
    training_sample : {"random", "recent"}
        Which irrelevant records a capped retrain keeps (:func:`training_rows`): a fixed
        random sample by default, or the most recently screened (``labelled`` then lists
        the records in the order they were screened).

    Returns
    -------
    numpy.ndarray or None
        One score per record (higher = more likely relevant), or None while the labels hold
        only one class (no inclusion yet, or no exclusion yet): then no model can be trained
        and the caller should present records in random order and say so.

    Examples
    --------
    >>> import pandas as pd
    >>> import pandas as pd
    >>> recs = pd.DataFrame({"title": ["ketamine pain trial", "bird song", "ketamine pain",
    ...                                "bird migration"]})
    >>> feats = screening_features(recs, abstract=None)
    >>> scores = relevance_scores(feats, [0, 1], [1, 0])
    >>> bool(scores[2] > scores[3])
    True

    .. versionchanged:: 0.1.0
       The SVM's default ``training`` is ``"presumed_irrelevant"``; the scores differ from
       the earlier labelled-only fit, which ``training="elas_u4"`` keeps.
    """

    matrix = features.matrix if isinstance(features, ScreeningFeatures) else features
    name = CLASSIFIERS.check(classifier)
    folded = getattr(features, "training_matrix", None)
    if name != "nb" and folded is not None:  # the same inner products in fewer columns
        matrix = folded
    idx, y = _check_labelled(matrix.shape[0], labelled, labels)
    ratio, cost = _model_settings(name, balance, balance_ratio, C)
    scheme = TRAINING.check(DEFAULT_TRAINING[name] if training is None else training)
    if max_excluded is not None:  # checked before any model is needed
        _MAX_EXCLUDED.check(max_excluded)
    TRAINING_SAMPLES.check(training_sample)
    n_include = int(y.sum())
    if n_include == 0 or n_include == y.size:
        return None
    if scheme == "presumed_irrelevant":
        kept = training_rows(idx, y, max_excluded, sample=training_sample)
        return _with_presumed_irrelevant(matrix, idx, kept, y, name, ratio, cost)
    idx, y, weights = _training_set(idx, y, ratio, max_excluded, training_sample)
    return _fit_and_score(matrix, idx, y, weights, name, cost)


def _fit_and_score(
    matrix: sparse.spmatrix,
    idx: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None,
    name: str,
    cost: float | None,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """Fit classifier ``name`` on rows ``idx`` of ``matrix`` (labels ``y``, sample weights
    ``weights``) and score the records ``rows`` (None: every record)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression  # imported here: the store and the
    from sklearn.naive_bayes import MultinomialNB  # CLI load this module without ranking
    from sklearn.svm import LinearSVC

    X = matrix[idx]
    scored = matrix if rows is None else matrix[rows]
    if name == "nb":
        model = MultinomialNB(alpha=NB_ALPHA).fit(X, y, sample_weight=weights)
        joint = model.predict_joint_log_proba(scored)
        return np.asarray(joint[:, 1] - joint[:, 0])
    if name == "logistic":
        # the dual problem: far fewer labelled records than terms (33 ms against 3 s measured
        # on 1,000 labelled records x 15,897 terms)
        model = LogisticRegression(C=cost, solver="liblinear", dual=True, random_state=0)
    else:
        model = LinearSVC(C=cost, random_state=0)
    # liblinear's coordinate descent visits samples in a random order: a fixed random_state
    # makes the same decisions give the same order (without it a reviewer's queue changed
    # between two requests with nothing new to learn from)
    model.fit(X, y, sample_weight=weights)
    return np.asarray(model.decision_function(scored), dtype=np.float64)


def _with_presumed_irrelevant(
    matrix: sparse.spmatrix,
    idx: np.ndarray,
    kept: np.ndarray,
    y: np.ndarray,
    name: str,
    ratio: float | None,
    cost: float | None,
) -> np.ndarray:
    """The scores of ``training="presumed_irrelevant"``: ``PRESUMED_IRRELEVANT.fits`` fits,
    each on the labelled records ``idx[kept]`` (the training-set cap, :func:`training_rows`)
    and, as excluded, the records :func:`presumed_irrelevant` draws from those not labelled
    (at random, then from the lowest-scored by the fit before); the generator is seeded by
    the set of labelled positions, so the same decisions give the same scores.

    The scores of a fit before the last only choose the next draw, among the unscreened
    records: once these are fewer than half of the records, only they are scored (slicing
    the rows costs about what scoring them does, so below half it saves time; the scores are
    the same numbers)."""
    import numpy as np

    settings = PRESUMED_IRRELEVANT
    n_records = matrix.shape[0]
    rng = np.random.default_rng([zlib.crc32(np.unique(idx).astype(np.int64).tobytes()), idx.size])
    train_idx, train_y = idx[kept], y[kept]
    unscreened = np.ones(n_records, dtype=bool)
    unscreened[idx] = False
    left = np.flatnonzero(unscreened) if 2 * (n_records - idx.size) < n_records else None
    scores = None
    for fit in range(settings.fits):
        extra = presumed_irrelevant(n_records, idx, scores, rng, n=settings.n, pool=settings.pool)
        fit_idx = np.concatenate([train_idx, extra])
        fit_y = np.concatenate([train_y, np.zeros(extra.size, dtype=np.int8)])
        weights = None if ratio is None else _sample_weights(fit_y, ratio)
        if extra.size == 0 or fit == settings.fits - 1 or left is None:
            scores = _fit_and_score(matrix, fit_idx, fit_y, weights, name, cost)
        else:
            scores = np.full(n_records, np.nan)
            scores[left] = _fit_and_score(matrix, fit_idx, fit_y, weights, name, cost, left)
        if extra.size == 0:  # too few unscreened records: elas_u4's fit, once
            break
    return scores


def next_records(
    scores: np.ndarray | None,
    unscreened: np.ndarray,
    *,
    n: int = 1,
    random_share: float = 0.0,
    uncertainty_share: float = 0.0,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Choose the next ``n`` records to screen.

    Each pick is, independently, a random unscreened record with probability
    ``random_share``, the unscreened record whose score is nearest the decision boundary with
    probability ``uncertainty_share``, and otherwise the highest-scoring unscreened record
    ("max" query). Without scores (no model yet) every pick is random.

    Parameters
    ----------
    scores : numpy.ndarray or None
        From :func:`relevance_scores`.
    unscreened : numpy.ndarray of bool
        True for records not screened yet.
    n : int
        Number of records to pick (fewer when fewer are left).
    random_share, uncertainty_share : float
        Shares of random and of uncertainty picks, each in [0, 1], summing to at most 1.
    rng : numpy.random.Generator, int or None
        Source of randomness (a seed gives reproducible picks).

    Returns
    -------
    numpy.ndarray of int
        Row positions, in the order they should be shown.

    Examples
    --------
    >>> import numpy as np
    >>> import numpy as np
    >>> next_records(np.array([0.1, 2.0, -1.0, 3.0]), np.array([True, True, True, False]), n=2)
    array([1, 0])
    """
    import numpy as np

    for label, share in (("random_share", random_share), ("uncertainty_share", uncertainty_share)):
        if not 0.0 <= share <= 1.0:
            raise InputError(f"{label} must be in [0, 1]; got {share!r}.")
    if random_share + uncertainty_share > 1.0:
        raise InputError(
            "random_share + uncertainty_share must be at most 1; got "
            f"{random_share + uncertainty_share!r}."
        )
    generator = np.random.default_rng(rng)
    available = np.asarray(unscreened, dtype=bool).copy()
    picks: list[int] = []
    for _ in range(min(n, int(available.sum()))):
        draw = generator.random()
        candidates = np.flatnonzero(available)
        if scores is None or draw < random_share:
            pick = int(generator.choice(candidates))
        elif draw < random_share + uncertainty_share:
            pick = int(candidates[np.argmin(np.abs(scores[candidates]))])
        else:
            pick = int(candidates[np.argmax(scores[candidates])])
        available[pick] = False
        picks.append(pick)
    return np.asarray(picks, dtype=np.intp)
