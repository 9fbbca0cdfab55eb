"""The API's JSON shapes under the names the dashboard's pages use: aliases of the shared contracts.

The models themselves live in :mod:`difficultynet.contracts.api` (one copy for the backend, the dashboard
and the tests' fake backend); this module names them for the pages.
"""

from __future__ import annotations

from difficultynet.contracts.api import (
    ClassEpochExploration,
    ClassExploration,
    DatasetList,
    EpochConfusions,
    EpochPage,
    RunCreate,
    RunList,
)
from difficultynet.contracts.api import ClassSummary as DatasetClass
from difficultynet.contracts.api import DatasetRead as Dataset
from difficultynet.contracts.api import RowError as FieldError
from difficultynet.contracts.api import RunRead as Run

__all__ = [
    "ClassEpochExploration",
    "ClassExploration",
    "Dataset",
    "DatasetClass",
    "DatasetList",
    "EpochConfusions",
    "EpochPage",
    "FieldError",
    "Run",
    "RunCreate",
    "RunList",
]
