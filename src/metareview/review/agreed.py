"""The agreed extraction table of the studies whose dual extraction is complete: what a live
analysis may pool without revealing a reviewer's values before the other has extracted.

:meth:`~metareview.review.extraction.ExtractionMixin.studies_table` takes a study's values
as soon as one extractor has entered them; here a study enters only once its extraction is
done (blinding as in screening: no value is shown, even pooled, while another reviewer may
still be extracting it): in a project that extracts in the browser (it has a stored form),
once both extractors have submitted it (``extraction_status``'s ``complete``; a draft is
never pooled); where values are entered directly (:meth:`Store.extract`), once
``reviewers_per_record`` reviewers have entered some.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from metareview.exceptions import InputError
from metareview.review._core import StoreCore
from metareview.review.extraction_form import ExtractionForm

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["AgreedTableMixin"]


class AgreedTableMixin(StoreCore):
    """The agreed table of completely extracted studies (see the module docstring)."""

    def agreed_studies_table(
        self, project: str, form: ExtractionForm
    ) -> tuple[pd.DataFrame, list[str]]:
        """The agreed values (resolution, else the extractors' common value) of every study
        that ``reviewers_per_record`` reviewers have extracted, as
        :meth:`studies_table`, and the labels of the studies still being extracted.

        Raises
        ------
        InputError
            While a complete study has an open conflict (naming up to five), or a required
            field of a complete study is empty.
        """
        import pandas as pd

        if self._dual_extraction(project):
            # extraction in the browser: a study is done when both extractors submitted it
            status = self.extraction_status(project, None)
            done = set(status.loc[status["complete"], "study"])
            studies = status["study"].tolist()
            complete = [s for s in studies if s in done]
        else:
            # values entered directly (Store.extract): done once enough reviewers entered some
            with self.session() as s:
                per_record = self._project(s, project).reviewers_per_record
            values = self.extraction_values(project)
            extractors = values.groupby("study")["reviewer"].nunique()
            studies = self.studies(project)["study"].tolist()
            complete = [s for s in studies if extractors.get(s, 0) >= per_record]
        pending = [s for s in studies if s not in complete]
        if not complete:
            return pd.DataFrame(columns=["study", *form.names]), pending
        table = self.studies_table(project, form, only=complete)
        return table, pending

    def _dual_extraction(self, project: str) -> bool:
        """Whether the project extracts in the browser (it has a stored extraction form)."""
        try:
            self.extraction_form(project)
        except InputError:
            return False
        return True
