"""The API's JSON shapes under the names the dashboard's pages use: aliases of the shared contracts.

The models themselves live in :mod:`difficultynet.contracts.api` (one copy for the backend, the dashboard
and the tests' fake backend); this module names them for the pages. Its one model of its own,
:class:`EpochSummary`, is a lighter *reading* of the shared epoch record for the curves (no new wire shape).
"""

from __future__ import annotations

from typing import Any

from pydantic import model_validator

from difficultynet.contracts.api import ClassSummary as DatasetClass
from difficultynet.contracts.api import DatasetList, EpochPage, RunCreate, RunList
from difficultynet.contracts.api import DatasetRead as Dataset
from difficultynet.contracts.api import RowError as FieldError
from difficultynet.contracts.api import RunRead as Run
from difficultynet.contracts.records import EpochRecord

__all__ = [
    "Dataset",
    "DatasetClass",
    "DatasetList",
    "EpochPage",
    "EpochSummary",
    "EpochSummaryPage",
    "FieldError",
    "Run",
    "RunCreate",
    "RunList",
]


class EpochSummary(EpochRecord):
    """An epoch record whose exploration columns (``confusions``, ``hardest``) are kept as sent, unchecked.

    Curves and class histories read every epoch but at most one class's confusions: validating the
    top-k lists of all classes of all epochs (13 named tuples per class) cost the live page most of its
    time at 1000 classes. Entries stay plain ``[predicted, rate]`` / ``[row, …]`` lists here.
    """

    confusions: Any = None
    hardest: Any = None

    @model_validator(mode="after")
    def _explore_columns_match_classes(self) -> EpochSummary:  # replaces the record's full check
        return self


class EpochSummaryPage(EpochPage):
    records: list[EpochSummary]  # type: ignore[assignment]
