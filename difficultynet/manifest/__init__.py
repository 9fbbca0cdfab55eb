"""Manifest parsing and validation (torch-free: the API validates uploads with it).

A manifest is a CSV with the columns ``path,label[,split]`` (any order; unknown extra columns are ignored).
``path`` is relative to a data root (default: the manifest's folder), ``split`` is one of train/val/test
(missing column: everything is train). Every problem becomes a :class:`RowError` in the report; bad input
never raises, except :func:`load_manifest`, which raises :class:`ManifestInvalid` carrying that report.

Modules: :mod:`.report` (what validation produces), :mod:`.parse` (CSV → rows), :mod:`.paths` (path
confinement and file checks), :mod:`.validate` (the driver and its :class:`ValidationOptions`). The
train / meta / eval split lives in :mod:`difficultynet.data.meta_split`. Image folders with no manifest:
:mod:`.folders` (listing), :mod:`.folder_splits` (seeded per-class splits), :mod:`.folder_manifest`
(folder → manifest CSV and report).
"""

from difficultynet.contracts.datasets import (
    DEFAULT_TEST_FRACTION,
    DEFAULT_VAL_PER_CLASS,
    SPLITS,
    ClassShortfall,
    ClassSummary,
    FolderReport,
    FolderSplitOptions,
    RowError,
    Split,
)
from difficultynet.data.meta_split import DEFAULT_META_PER_CLASS, MetaSplit, resolve_meta_split
from difficultynet.manifest.folder_manifest import FolderPlan, check_folder, plan_folder
from difficultynet.manifest.parse import DEFAULT_MAX_ROWS, REQUIRED_COLUMNS, row_paths
from difficultynet.manifest.report import (
    Manifest,
    ManifestInvalid,
    ManifestReport,
    invalid_summary,
    with_errors,
)
from difficultynet.manifest.validate import (
    DEFAULT_OPTIONS,
    ValidationOptions,
    load_manifest,
    validate_manifest,
)

__all__ = [
    "DEFAULT_MAX_ROWS",
    "DEFAULT_META_PER_CLASS",
    "DEFAULT_OPTIONS",
    "DEFAULT_TEST_FRACTION",
    "DEFAULT_VAL_PER_CLASS",
    "REQUIRED_COLUMNS",
    "SPLITS",
    "ClassShortfall",
    "ClassSummary",
    "FolderPlan",
    "FolderReport",
    "FolderSplitOptions",
    "Manifest",
    "ManifestInvalid",
    "ManifestReport",
    "MetaSplit",
    "RowError",
    "Split",
    "ValidationOptions",
    "check_folder",
    "invalid_summary",
    "load_manifest",
    "plan_folder",
    "resolve_meta_split",
    "row_paths",
    "validate_manifest",
    "with_errors",
]
