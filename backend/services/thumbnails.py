"""Thumbnails of a run's own dataset rows, for the hardest-examples view: row index in, small JPEG out.

A row index is only ever looked up in the manifest the run trained on, and its file is served only when
it still resolves (symlinks followed) inside both that dataset's root and the API's data root: no path
goes over the wire in either direction. Torch-free (PIL only). Manifest rows are parsed once per manifest
file version and kept in a small LRU cache, so a page of 16 thumbnails costs 16 small decodes.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image

from backend.errors import ApiError
from backend.settings import Settings
from backend.store import RunHash
from difficultynet.manifest import row_paths
from difficultynet.manifest.paths import RootResolver, unreadable_image_reason

DEFAULT_SIZE = 96
MIN_SIZE = 16
MAX_SIZE = 256
JPEG_QUALITY = 85
MEDIA_TYPE = "image/jpeg"
CACHE_CONTROL = "private, max-age=31536000, immutable"
_FORMAT_VERSION = "thumb-v1"  # part of every ETag: bump when the rendering changes
_GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "F"})
MANIFESTS_CACHED = 8


@dataclass(frozen=True)
class ThumbnailSource:
    """A row's image file, proven to lie inside the data root, and the ETag of its thumbnail."""

    path: str
    etag: str


class RowUnavailable(ApiError):
    def __init__(self, detail: str) -> None:
        super().__init__(404, detail)


@lru_cache(maxsize=MANIFESTS_CACHED)
def _manifest_rows(manifest_path: str, mtime_ns: int, size: int, max_rows: int) -> tuple[str, ...]:
    """The ``path`` cell of every data row (cache key includes the file's mtime and size)."""
    with open(manifest_path, "rb") as handle:
        return tuple(row_paths(handle.read(), max_rows))


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def locate(settings: Settings, run: RunHash, row: int, size: int) -> ThumbnailSource:
    """The file behind ``row`` of the run's manifest; 404 in plain words when there is none to show."""
    if not run.manifest_path or not run.data_root:
        raise RowUnavailable("this run has no dataset to show images from")
    try:
        info = os.stat(run.manifest_path)
        rows = _manifest_rows(run.manifest_path, info.st_mtime_ns, info.st_size, settings.max_manifest_rows)
    except OSError:
        raise RowUnavailable("the dataset of this run was deleted; its images cannot be shown") from None
    if row >= len(rows):
        raise RowUnavailable(f"row {row} is not in this run's dataset (it has rows 0 to {len(rows) - 1})")
    target, problem = RootResolver(Path(os.path.realpath(run.data_root))).resolve(rows[row])
    data_root = os.path.realpath(settings.data_root)
    if target is None or not _inside(target, data_root):
        raise RowUnavailable(f"the image of row {row} is unavailable ({problem or 'outside the data root'})")
    try:
        stat = os.stat(target)
    except OSError:
        raise RowUnavailable(f"the image of row {row} is unavailable (file not found)") from None
    key = f"{_FORMAT_VERSION}|{run.dataset_id}|{row}|{size}|{stat.st_size}|{stat.st_mtime_ns}"
    return ThumbnailSource(target, f'"{hashlib.sha256(key.encode()).hexdigest()[:32]}"')


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison of an ``If-None-Match`` list (or ``*``) with our strong ETag."""
    if not if_none_match:
        return False
    candidates = [part.strip().removeprefix("W/") for part in if_none_match.split(",")]
    return "*" in candidates or etag in candidates


def render(source: ThumbnailSource, row: int, size: int) -> bytes:
    """A JPEG whose longer side is ``size`` px: downscaled smoothly, upscaled with visible pixels (a
    32-px training image stays crisp at 96 px)."""
    try:
        with Image.open(source.path) as image:
            mode = "L" if image.mode in _GRAY_MODES else "RGB"
            if image.format == "JPEG":
                image.draft(mode, (size, size))  # DCT-domain downscale: large JPEGs decode much faster
            converted = image.convert(mode)
    except Exception as exc:  # PIL raises many types; every failure is a plain 404
        reason = unreadable_image_reason(exc)
        raise RowUnavailable(f"the image of row {row} cannot be read: {reason}") from None
    width, height = converted.size
    scale = size / max(width, height)
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    if target != converted.size:
        resample = Image.Resampling.NEAREST if scale > 1 else Image.Resampling.LANCZOS
        converted = converted.resize(target, resample)
    buffer = io.BytesIO()
    converted.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()
