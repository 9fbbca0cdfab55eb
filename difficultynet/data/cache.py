"""Decode every manifest image once into one uint8 array, kept on disk as a memory-mapped ``.npy``.

Every image is resized so its shorter side is the target size and then centre-cropped to a square, so
the aspect ratio survives (a 500×375 photo keeps its proportions; nothing is squashed).

The cache holds all manifest rows in file order, so changing the meta-set seed or carving never
invalidates it. Its key covers everything that changes the pixels: the manifest bytes, the data root,
each file's size and mtime, the target size, the channel count and the resize rule. The array is
decoded straight into the (temporary) cache file, so a large dataset never needs a second copy in RAM;
the file is renamed into place only once complete.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from difficultynet.errors import DnetError, RunCancelled
from difficultynet.manifest import Manifest, ManifestInvalid, RowError, with_errors
from difficultynet.manifest.paths import unreadable_image_reason
from difficultynet.memory_estimate import cache_disk_shortfall, cache_file_bytes, human_bytes
from difficultynet.progress import PrepareProgress, PrepareReporter, StopCheck

logger = logging.getLogger(__name__)

CACHE_FORMAT = 2
RESIZE_RULE = "shorter-side-bilinear-centre-crop"
_MODES = {1: "L", 3: "RGB"}
CHUNK = 64  # images per decode task: the granularity of progress reports and of cancelling


class CacheTooLarge(DnetError):
    """The decoded images would not fit the free space of the cache's disk."""


def default_num_workers() -> int:
    """Half the cores, at most 8: PIL decodes outside the GIL, but the per-image Python work holds it.

    On 2 busy cores, 32×32 JPEGs (IF100 + test, 22.6k files) decoded in 3.3 s with 1 thread and 4.1 s
    with 2, so small machines stay serial; large images and more cores gain from threads.
    """
    return max(1, min(8, (os.cpu_count() or 1) // 2))


def centre_square(width: int, height: int) -> tuple[int, int, int, int]:
    """The centred square box ``(left, top, right, bottom)`` whose side is the shorter image side."""
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


def decode_image(path: Path | str, image_size: int, channels: int) -> np.ndarray:
    """One image as a ``(channels, image_size, image_size)`` uint8 array: EXIF orientation applied, shorter
    side resized to ``image_size`` (bilinear, antialiased) and centre-cropped; untouched when already that
    size."""
    mode = _MODES[channels]
    with Image.open(path) as image:
        if image.format == "JPEG":
            image.draft(mode, (image_size, image_size))  # DCT-domain downscale: big JPEGs decode much faster
        converted = ImageOps.exif_transpose(image).convert(mode)
    if converted.size != (image_size, image_size):
        # Crop first: resizing with ``box=`` would let the filter reach beyond the box edges.
        square = converted.crop(centre_square(*converted.size))
        converted = square.resize((image_size, image_size), Image.Resampling.BILINEAR)
    array = np.asarray(converted, dtype=np.uint8)
    return array[None] if channels == 1 else array.transpose(2, 0, 1)


def decode_images(
    paths: Sequence[Path],
    image_size: int,
    channels: int,
    num_workers: int | None = None,
    *,
    out: np.ndarray | None = None,
    on_progress: PrepareReporter | None = None,
    should_stop: StopCheck | None = None,
    cache: str = "none",
) -> tuple[np.ndarray, dict[int, str]]:
    """Decode ``paths`` into an ``(N, C, H, W)`` uint8 array (``out``, e.g. a memory-mapped file, or a new
    one); returns it and ``{index: reason}`` failures.

    PIL releases the GIL while decoding, so a thread pool overlaps both I/O and decode work. Progress is
    reported after every chunk of :data:`CHUNK` images; ``should_stop`` is polled as often, and when it
    turns true the pending chunks are dropped and :class:`RunCancelled` is raised.
    """
    if channels not in _MODES:
        raise ValueError(f"channels must be 1 or 3, not {channels}")
    shape = (len(paths), channels, image_size, image_size)
    images = np.zeros(shape, dtype=np.uint8) if out is None else out
    failures: dict[int, str] = {}
    stopping = threading.Event()

    def decode_range(bounds: tuple[int, int]) -> int:
        for i in range(*bounds):
            if stopping.is_set():
                break
            try:
                images[i] = decode_image(paths[i], image_size, channels)
            except Exception as exc:  # PIL raises many types; every failure becomes a row error
                failures[i] = f"image cannot be decoded: {unreadable_image_reason(exc)}"
        return bounds[1] - bounds[0]

    started = time.perf_counter()
    total = len(paths)

    def report(done: int) -> None:
        if on_progress is not None:
            on_progress(PrepareProgress(done, total, time.perf_counter() - started, cache))  # type: ignore[arg-type]

    report(0)
    workers = max(1, num_workers if num_workers is not None else default_num_workers())
    ranges = [(start, min(start + CHUNK, total)) for start in range(0, total, CHUNK)]
    done = 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: set[Future[int]] = {pool.submit(decode_range, bounds) for bounds in ranges}
        try:
            while pending:
                finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                done += sum(future.result() for future in finished)
                if finished:
                    report(done)
                if should_stop is not None and should_stop():
                    raise RunCancelled(f"run cancelled while preparing the data ({done} of {total} images)")
        finally:
            stopping.set()
            for future in pending:
                future.cancel()
    return images, failures


def cache_key(manifest: Manifest, image_size: int, channels: int) -> str:
    """Hash of everything that determines the decoded pixels (stat-based, so edited images invalidate it)."""
    digest = hashlib.sha256()
    header = {
        "format": CACHE_FORMAT,
        "manifest": manifest.sha256,
        "root": str(manifest.data_root),
        "size": image_size,
        "channels": channels,
        "resize": RESIZE_RULE,
    }
    digest.update(json.dumps(header, sort_keys=True).encode())
    for path in manifest.paths:
        info = path.stat()
        digest.update(f"{path}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def cache_path(cache_dir: Path, manifest: Manifest, image_size: int, channels: int) -> Path:
    return Path(cache_dir) / f"images-{cache_key(manifest, image_size, channels)[:32]}.npy"


def _load_cached(path: Path, expected_shape: tuple[int, ...]) -> np.ndarray | None:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        logger.warning("ignoring unreadable image cache %s: %s", path, exc)
        return None
    if array.dtype != np.uint8 or array.shape != expected_shape:
        logger.warning("ignoring image cache %s with shape %s %s", path, array.shape, array.dtype)
        return None
    return array


def check_cache_fits(cache_dir: Path, shape: tuple[int, int, int, int]) -> None:
    """Raise :class:`CacheTooLarge` (a plain message) when the cache file would not fit the free disk."""
    num_images, channels, size, _ = shape  # square images (decoded to image_size × image_size)
    cache_dir.mkdir(parents=True, exist_ok=True)
    reason = cache_disk_shortfall(num_images, channels, size, shutil.disk_usage(cache_dir).free)
    if reason is not None:
        raise CacheTooLarge(reason)


def _row_errors(manifest: Manifest, failures: dict[int, str]) -> ManifestInvalid:
    errors = [
        RowError(row=manifest.lines[i], column="path", reason=reason)
        for i, reason in sorted(failures.items())
    ]
    return ManifestInvalid(with_errors(manifest.report, errors))


def load_images(
    manifest: Manifest,
    *,
    image_size: int,
    channels: int,
    cache_dir: Path | None = None,
    num_workers: int | None = None,
    on_progress: PrepareReporter | None = None,
    should_stop: StopCheck | None = None,
) -> np.ndarray:
    """All manifest images as ``(N, C, H, W)`` uint8, in manifest order (memory-mapped when cached).

    Raises :class:`ManifestInvalid` (with the failing lines) when an image cannot be decoded,
    :class:`CacheTooLarge` before decoding when the cache would not fit its disk, and
    :class:`RunCancelled` when ``should_stop`` turns true while decoding.
    """
    shape = (len(manifest), channels, image_size, image_size)
    if cache_dir is None:
        images, failures = decode_images(
            manifest.paths, image_size, channels, num_workers,
            on_progress=on_progress, should_stop=should_stop,
        )  # fmt: skip
        if failures:
            raise _row_errors(manifest, failures)
        return images
    path = cache_path(cache_dir, manifest, image_size, channels)
    cached = _load_cached(path, shape)
    if cached is not None:
        logger.info("image cache hit: %s", path)
        if on_progress is not None:
            on_progress(PrepareProgress(len(manifest), len(manifest), 0.0, "hit"))
        return cached
    check_cache_fits(Path(cache_dir), shape)
    tmp_path = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        out = np.lib.format.open_memmap(tmp_path, mode="w+", dtype=np.uint8, shape=shape)
        _, failures = decode_images(
            manifest.paths, image_size, channels, num_workers,
            out=out, on_progress=on_progress, should_stop=should_stop, cache="miss",
        )  # fmt: skip
        if failures:
            raise _row_errors(manifest, failures)
        out.flush()
        del out
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)
    logger.info("image cache written: %s (%s)", path, human_bytes(cache_file_bytes(*shape)))
    loaded = _load_cached(path, shape)
    if loaded is None:  # unreadable right after writing: the disk is failing
        raise DnetError("the image cache could not be read back after writing it")
    return loaded
