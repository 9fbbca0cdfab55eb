"""Every component id of the dashboard: kebab-case, prefixed by the page that owns it."""

from __future__ import annotations

# app shell
APP_NAV = "app-nav"
APP_BACKEND_STATUS = "app-backend-status"
APP_HEALTH_INTERVAL = "app-health-interval"

# datasets page ("/")
DATASETS_UPLOAD = "datasets-upload"
DATASETS_BASE = "datasets-base"
DATASETS_UPLOAD_STATUS = "datasets-upload-status"
DATASETS_UPLOAD_RESULT = "datasets-upload-result"
DATASETS_LIST = "datasets-list"
DATASETS_REFRESH = "datasets-refresh"
DATASETS_LIST_ALERT = "datasets-list-alert"
DATASETS_VERSION = "datasets-version"
DATASETS_CLASS_FREQUENCY = "datasets-class-frequency"

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

# compare page ("/compare")
COMPARE_QUERY = "compare-query"
COMPARE_DATASET = "compare-dataset"
COMPARE_RUNS = "compare-runs"
COMPARE_ALERT = "compare-alert"
COMPARE_BALANCED = "compare-balanced"
COMPARE_PER_CLASS = "compare-per-class"
COMPARE_TABLE = "compare-table"
