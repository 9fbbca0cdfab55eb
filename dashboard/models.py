"""The API's JSON shapes under the names the dashboard's pages use: aliases of the shared contracts.

The models themselves live in :mod:`difficultynet.contracts.api` (one copy for the backend, the dashboard
and the tests' fake backend); this module names them for the pages. Its one model of its own,
:class:`EpochSummary`, is a lighter *reading* of the shared epoch record for the curves (no new wire shape).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, create_model, model_validator

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
    "RecordReading",
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


# How much of each record to read: "all" checks everything; "unchecked" keeps the exploration columns as
# sent (a class panel reads one class's confusions over epochs); "core" skips them in the JSON, without
# building them at all (curves, histories): at 1000 classes that reads a record about 2.5× faster.
RecordReading = Literal["all", "unchecked", "core"]
EXPLORATION_COLUMNS = frozenset({"confusions", "hardest"})


def _fields_of(model: type[BaseModel], without: frozenset[str]) -> dict[str, Any]:
    return {name: (f.annotation, f) for name, f in model.model_fields.items() if name not in without}


_EpochCore = create_model(
    "EpochCore", __config__=ConfigDict(extra="ignore"), **_fields_of(EpochRecord, EXPLORATION_COLUMNS)
)
_EpochCorePage = create_model(
    "EpochCorePage",
    __config__=ConfigDict(extra="ignore"),
    **_fields_of(EpochPage, frozenset({"records"})),
    records=(list[_EpochCore], ...),
)


def read_core_page(content: bytes) -> EpochSummaryPage:
    """An epoch page read without the exploration columns (``None`` in every record)."""
    page: BaseModel = _EpochCorePage.model_validate_json(content)
    records = [
        EpochSummary.model_construct(**dict(core), confusions=None, hardest=None)
        for core in page.records  # type: ignore[attr-defined]
    ]
    fields = {name: value for name, value in page if name != "records"}
    return EpochSummaryPage.model_construct(**fields, records=records)
