"""Every component id of the dashboard: kebab-case, prefixed by the page that owns it."""

from __future__ import annotations

# app shell
APP_NAV = "app-nav"
APP_BACKEND_STATUS = "app-backend-status"
APP_HEALTH_INTERVAL = "app-health-interval"

# runs page ("/", the landing page)
RUNS_TABLE = "runs-table"
RUNS_ALERT = "runs-alert"
RUNS_INTERVAL = "runs-interval"
RUNS_DELETE = "runs-delete"  # pattern-matching: {"type": RUNS_DELETE, "index": run id}
RUNS_DELETE_BUTTON = "runs-delete-button"  # pattern-matching, same index
RUNS_VERSION = "runs-version"

# datasets page ("/datasets")
DATASETS_UPLOAD = "datasets-upload"
DATASETS_BASE = "datasets-base"
DATASETS_UPLOAD_STATUS = "datasets-upload-status"
DATASETS_UPLOAD_RESULT = "datasets-upload-result"
DATASETS_LIST = "datasets-list"
DATASETS_REFRESH = "datasets-refresh"
DATASETS_LIST_ALERT = "datasets-list-alert"
DATASETS_VERSION = "datasets-version"
DATASETS_CLASS_FREQUENCY = "datasets-class-frequency"
DATASETS_FREQUENCY_PICK = "datasets-frequency-pick"
DATASETS_FREQUENCY_GRAPH = "datasets-frequency-graph"
DATASETS_VAL_PER_CLASS = "datasets-val-per-class"
DATASETS_TEST_FRACTION = "datasets-test-fraction"
DATASETS_SPLIT_SEED = "datasets-split-seed"
DATASETS_FOLDER = "datasets-folder"
DATASETS_REGISTER_FOLDER = "datasets-register-folder"
DATASETS_DOWNLOAD = "datasets-download"
DATASETS_DOWNLOAD_MESSAGE = "datasets-download-message"
DATASETS_MANIFEST_BUTTON = "datasets-manifest-button"  # pattern-matching type: {type, dataset, where}

# new run page ("/runs/new")
NEW_RUN_QUERY = "new-run-query"
NEW_RUN_DATASET = "new-run-dataset"
NEW_RUN_METHOD = "new-run-method"
NEW_RUN_MODEL = "new-run-model"
NEW_RUN_EPOCHS = "new-run-epochs"
NEW_RUN_BATCH_SIZE = "new-run-batch-size"
NEW_RUN_LR = "new-run-lr"
NEW_RUN_SEED = "new-run-seed"
NEW_RUN_META_MODE = "new-run-meta-mode"
NEW_RUN_META_EVERY = "new-run-meta-every"
NEW_RUN_DNET_LR = "new-run-dnet-lr"
NEW_RUN_DEVICE = "new-run-device"
NEW_RUN_BASELINE = "new-run-baseline"
NEW_RUN_PRESET_FAITHFUL = "new-run-preset-faithful"
NEW_RUN_PRESET_RECOMMENDED = "new-run-preset-recommended"
NEW_RUN_DNET_RECIPE = "new-run-dnet-recipe"
NEW_RUN_PRESET_CE = "new-run-preset-ce"
NEW_RUN_SUBMIT = "new-run-submit"
NEW_RUN_ALERT = "new-run-alert"
NEW_RUN_REDIRECT = "new-run-redirect"


def new_run_control(field: str) -> str:
    """The control of a new-run form field (``dashboard.run_form.FormField.control``)."""
    return f"new-run-{field.replace('_', '-')}"


def new_run_field_error(field: str) -> str:
    """Where the API's 422 message for a form field is shown (next to that field)."""
    return f"new-run-error-{field.replace('_', '-')}"


# run page ("/runs/<run_id>")
RUN_ID_STORE = "run-id-store"
RUN_VIEW_STATE = "run-view-state"
RUN_INTERVAL = "run-interval"
RUN_ALERT = "run-alert"
RUN_DNET_HEALTH = "run-dnet-health"
RUN_TITLE = "run-title"
RUN_STATUS = "run-status"
RUN_PROGRESS = "run-progress"
RUN_PROGRESS_TEXT = "run-progress-text"
RUN_CANCEL = "run-cancel"
RUN_CANCEL_BUTTON = "run-cancel-button"
RUN_CANCEL_MESSAGE = "run-cancel-message"
RUN_METRIC = "run-metric"
RUN_CLASS_PICKER = "run-class-picker"
RUN_CLASS_PICKER_ROW = "run-class-picker-row"
RUN_CURVES_NOTE = "run-curves-note"
RUN_CURVES = "run-curves"
RUN_SCATTER = "run-scatter"
RUN_SCATTER_STATE = "run-scatter-state"
RUN_EPOCH_SLIDER = "run-epoch-slider"
RUN_EPOCH_INPUT = "run-epoch-input"
RUN_TREND = "run-trend"
RUN_BASELINE = "run-baseline"
RUN_GAINS = "run-gains"
RUN_GAINS_NOTE = "run-gains-note"
RUN_GAINS_STATE = "run-gains-state"
RUN_HEADLINES = "run-headlines"
RUN_HEATMAP = "run-heatmap"
RUN_DOWNLOAD_WEIGHTS = "run-download-weights"
RUN_DOWNLOAD_JSONL = "run-download-jsonl"
RUN_DOWNLOAD_CSV = "run-download-csv"
RUN_DOWNLOAD = "run-download"
RUN_DOWNLOAD_MESSAGE = "run-download-message"
RUN_CLASS_SELECTED = "run-class-selected"
RUN_CLASS_SEARCH = "run-class-search"
RUN_CLASS_NAMES = "run-class-names"
RUN_CLASS_PANEL = "run-class-panel"
RUN_CLASS_SCROLL = "run-class-scroll"
RUN_CLASS_LINK = "run-class-link"  # pattern-matching: {"type": …, "index": class, "slot": where}
RUN_CONFUSIONS = "run-confusions"
RUN_CONFUSION_PAIRS = "run-confusion-pairs"
RUN_DIFFICULTY_CHECK = "run-difficulty-check"
RUN_DIFFICULTY_COUNT = "run-difficulty-count"
RUN_DIFFICULTY_CHECK_NOTE = "run-difficulty-check-note"

# compare page ("/compare")
COMPARE_QUERY = "compare-query"
COMPARE_DATASET = "compare-dataset"
COMPARE_RUNS = "compare-runs"
COMPARE_ALERT = "compare-alert"
COMPARE_BALANCED = "compare-balanced"
COMPARE_PER_CLASS = "compare-per-class"
COMPARE_TABLE = "compare-table"
