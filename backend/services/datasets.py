"""Dataset uploads: a manifest CSV over files already under the data root, a zip bundle, or image folders
with no manifest (a zip of them, or a folder under the data root); for those a manifest is generated
with seeded per-class splits and stored like an uploaded one.

Ids are content addresses, so uploading the same thing twice returns the existing dataset:
CSV → sha256(manifest bytes, resolved base folder); zip bundle → sha256(archive bytes); zip of image
folders → sha256(archive bytes, split settings); data-root folder → sha256(generated manifest, folder).
Validation (which opens each distinct image once) and all file work run in a worker thread, at most
``DNET_MAX_CONCURRENT_UPLOADS`` at a time per API process; more answer 429 with Retry-After. Of a zip,
only the manifest and the files it names are kept, within the data-root quota (``DNET_MAX_DATA_GB``).
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
import zipfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO, Literal

import anyio
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from backend.errors import ApiError, Conflict, NotFound, Unprocessable, field_error, pydantic_errors
from backend.services import zipbundle
from backend.services.quota import DataQuota
from backend.settings import Settings
from backend.store import Store, StoredDataset
from difficultynet.files import atomic_write_bytes
from difficultynet.manifest import (
    FolderPlan,
    FolderReport,
    FolderSplitOptions,
    ManifestReport,
    ValidationOptions,
    check_folder,
    invalid_summary,
    plan_folder,
    row_paths,
    validate_manifest,
)

logger = logging.getLogger(__name__)

ID_LENGTH = 16
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_CHUNK = 1024 * 1024
BUSY_RETRY_AFTER_S = 5
MANIFEST_NAME = "manifest.csv"
IMAGES_FOLDER = "images"  # a zip of image folders is unpacked here, beside the generated manifest.csv


@dataclass(frozen=True)
class UploadResult:
    dataset: StoredDataset
    created: bool


@dataclass(frozen=True)
class _Prepared:
    """A validated upload whose files are in their final place, not yet recorded in Redis."""

    kind: Literal["csv", "zip", "folder"]
    manifest_path: Path
    data_root: Path
    report: ManifestReport
    folder: FolderReport | None = None


def _content_id(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()[:ID_LENGTH]


def _file_sha256(file: IO[bytes]) -> bytes:
    file.seek(0)
    digest = hashlib.sha256()
    while chunk := file.read(_CHUNK):
        digest.update(chunk)
    file.seek(0)
    return digest.digest()


def _display_name(filename: str | None) -> str:
    name = PurePosixPath((filename or "upload").replace("\\", "/")).name
    return "".join(ch for ch in name if ch.isprintable())[:200] or "upload"


def _invalid_manifest(report: ManifestReport) -> Unprocessable:
    return Unprocessable(invalid_summary(report), report.errors)


def _invalid_folder(report: ManifestReport, source: str = "image folder") -> Unprocessable:
    first = report.errors[0].reason if report.errors else "no usable images"
    return Unprocessable(f"{source} has {report.errors_total} problem(s) ({first})", report.errors)


def split_options(**given: int | float | None) -> FolderSplitOptions:
    """Split settings from request fields (None: the default); a 422 naming the field when out of range."""
    try:
        return FolderSplitOptions.model_validate({k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        errors = pydantic_errors(exc.errors())
        first = errors[0]
        raise Unprocessable(f"{first.column}: {first.reason}", errors) from None


class DatasetService:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.validation = ValidationOptions(max_rows=settings.max_manifest_rows)
        self.quota = DataQuota(settings.data_root, settings.max_data_bytes)
        # Uploads being hashed, validated or unpacked by this process; refused (not queued) beyond it.
        self._busy = anyio.CapacityLimiter(settings.max_concurrent_uploads)
        self._bundle_limits = zipbundle.BundleLimits(settings.max_zip_files, settings.max_unzipped_bytes)

    # -- queries ------------------------------------------------------------------------------------

    async def get(self, dataset_id: str) -> StoredDataset:
        dataset = await self.store.get_dataset(dataset_id)
        if dataset is None:
            raise NotFound("dataset", dataset_id)
        return dataset

    async def all(self) -> list[StoredDataset]:
        return await self.store.list_datasets()

    async def delete(self, dataset_id: str) -> None:
        await self.get(dataset_id)
        users = [run.id for run in await self.store.active_runs() if run.dataset_id == dataset_id]
        if users:
            raise Conflict(
                f"dataset is used by {len(users)} queued or running run(s): {', '.join(users[:5])}"
            )
        await self.store.delete_dataset(dataset_id)
        await run_in_threadpool(zipbundle.remove_tree, self._folder(dataset_id))

    # -- upload -------------------------------------------------------------------------------------

    async def manifest_file(self, dataset_id: str) -> Path:
        """The stored manifest CSV of a dataset (generated ones included), for download."""
        path = Path((await self.get(dataset_id)).manifest_path)
        if not await run_in_threadpool(path.is_file):
            raise NotFound("manifest file of dataset", dataset_id)
        return path

    # -- upload -------------------------------------------------------------------------------------

    @asynccontextmanager
    async def _upload_slot(self) -> AsyncIterator[None]:
        """One of ``max_concurrent_uploads`` slots; refused with 429 (not queued) when all are taken."""
        try:
            self._busy.acquire_nowait()
        except anyio.WouldBlock:
            limit = self.settings.max_concurrent_uploads
            raise ApiError(
                429,
                f"{limit} upload(s) are being validated already (the limit per API process); "
                f"try again in {BUSY_RETRY_AFTER_S} seconds",
                headers={"Retry-After": str(BUSY_RETRY_AFTER_S)},
            ) from None
        try:
            yield
        finally:
            self._busy.release()

    async def upload(
        self, filename: str | None, file: IO[bytes], base: str, split: FolderSplitOptions | None = None
    ) -> UploadResult:
        """A manifest CSV, a zip bundle (with a manifest) or a zip of image folders (``split`` applies)."""
        async with self._upload_slot():
            return await self._upload(filename, file, base, split or FolderSplitOptions())

    async def register_folder(self, folder: str, split: FolderSplitOptions) -> UploadResult:
        """Image folders already under the data root: generate their manifest and store the dataset."""
        async with self._upload_slot():
            folder_dir = self._base_dir(folder, field="folder")
            if folder_dir == self.settings.data_root.resolve():
                raise field_error("folder", "name a folder under the data root, not the data root itself")
            plan = await run_in_threadpool(plan_folder, folder_dir, split, self.validation.max_rows)
            # The generated CSV (paths and splits) is the content; images are opened only when it is new.
            dataset_id = _content_id(b"folder", plan.csv, str(folder_dir).encode())
            return await self._create(
                dataset_id, folder.strip("/") or folder, partial(self._prepare_folder, dataset_id, plan)
            )

    async def _upload(
        self, filename: str | None, file: IO[bytes], base: str, split: FolderSplitOptions
    ) -> UploadResult:
        head = await run_in_threadpool(_peek, file)
        is_zip = (filename or "").lower().endswith(".zip") or head.startswith(ZIP_MAGIC)
        prepare: Callable[[], _Prepared]
        if is_zip:
            digest = await run_in_threadpool(_file_sha256, file)
            if await run_in_threadpool(self._zip_has_manifest, file):
                dataset_id = _content_id(b"zip", digest)
                prepare = partial(self._prepare_zip, dataset_id, file)
            else:
                dataset_id = _content_id(b"folder-zip", digest, split.model_dump_json().encode())
                prepare = partial(self._prepare_folder_zip, dataset_id, file, split)
        else:
            raw = await run_in_threadpool(_read_all, file)
            base_dir = self._base_dir(base)
            dataset_id = _content_id(b"csv", raw, str(base_dir).encode())
            prepare = partial(self._prepare_csv, dataset_id, raw, base_dir)
        return await self._create(dataset_id, _display_name(filename), prepare)

    async def _create(self, dataset_id: str, name: str, prepare: Callable[[], _Prepared]) -> UploadResult:
        """The existing dataset with this content id, or a new one from ``prepare`` (run in a thread)."""
        existing = await self.store.get_dataset(dataset_id)
        if existing is not None:
            return UploadResult(existing, created=False)
        prepared = await run_in_threadpool(prepare)
        dataset = StoredDataset(
            id=dataset_id,
            name=name,
            kind=prepared.kind,
            created_at=time.time(),
            manifest_path=str(prepared.manifest_path),
            data_root=str(prepared.data_root),
            report=prepared.report,
            folder=prepared.folder,
        )
        if await self.store.add_dataset(dataset):
            logger.info("dataset %s stored (%s, %d rows)", dataset_id, dataset.kind, prepared.report.num_rows)
            return UploadResult(dataset, created=True)
        # A concurrent identical upload won the race; its record describes the same files.
        return UploadResult(await self.get(dataset_id), created=False)

    def _folder(self, dataset_id: str) -> Path:
        return self.settings.uploads_dir / dataset_id

    def _base_dir(self, base: str, field: str = "base") -> Path:
        """A folder under the data root (symlinks resolved): ``base`` for a CSV's paths, or image folders."""
        root = self.settings.data_root.resolve()
        if base.startswith(("/", "\\")) or "\x00" in base:
            raise field_error(field, "must be a folder relative to the data root")
        try:
            folder = (root / base).resolve()
            inside, exists = folder.is_relative_to(root), folder.is_dir()
        except (OSError, RuntimeError, ValueError) as exc:  # name too long, symlink loop, ...
            raise field_error(field, "unusable folder name (too long, or a loop of symbolic links)") from exc
        if not inside:
            raise field_error(field, "must stay inside the data root")
        if not exists:
            raise field_error(field, f"folder {base[:100]!r} does not exist under the data root")
        return folder

    def _prepare_csv(self, dataset_id: str, raw: bytes, base_dir: Path) -> _Prepared:
        report = validate_manifest(raw, base_dir, self.validation)
        if not report.ok:
            raise _invalid_manifest(report)
        folder = self._folder(dataset_id)
        manifest_path = folder / MANIFEST_NAME
        with self.quota.reserve(len(raw)):
            atomic_write_bytes(manifest_path, raw)  # readers never see half a manifest
        return _Prepared("csv", manifest_path, base_dir, report)

    def _zip_has_manifest(self, file: IO[bytes]) -> bool:
        """A bundle (manifest + images) rather than image folders; unsafe archives are refused here."""
        with zipbundle.open_archive(file) as archive:
            return zipbundle.holds_manifest(zipbundle.vet_members(archive, self._bundle_limits))

    def _staging(self) -> Path:
        """A fresh folder beside the final ones (same filesystem) so publishing is one atomic rename."""
        self.settings.uploads_dir.mkdir(parents=True, exist_ok=True)
        staging = self.settings.uploads_dir / f".incoming-{uuid.uuid4().hex}"
        staging.mkdir()
        return staging

    def _prepare_folder(self, dataset_id: str, plan: FolderPlan) -> _Prepared:
        report = check_folder(plan, max_errors=self.validation.max_errors)
        if not report.ok:
            raise _invalid_folder(report)
        manifest_path = self._folder(dataset_id) / MANIFEST_NAME
        with self.quota.reserve(len(plan.csv)):
            atomic_write_bytes(manifest_path, plan.csv)
        return _Prepared("folder", manifest_path, plan.root, report, plan.folder)

    def _prepare_folder_zip(self, dataset_id: str, file: IO[bytes], split: FolderSplitOptions) -> _Prepared:
        """Unpack every entry (the folder scan skips and counts clutter), then generate the manifest."""
        staging = self._staging()
        try:
            images = staging / IMAGES_FOLDER
            with zipbundle.open_archive(file) as archive:
                self._extract(archive, zipbundle.vet_members(archive, self._bundle_limits), images)
            plan = plan_folder(images, split, self.validation.max_rows)
            report = check_folder(plan, max_errors=self.validation.max_errors)
            if not report.ok:
                raise _invalid_folder(
                    report, "zip has no manifest (.csv), so it was read as image folders; it"
                )
            with self.quota.reserve(len(plan.csv)):
                atomic_write_bytes(staging / MANIFEST_NAME, plan.csv)
            manifest_path = self._publish(staging, dataset_id, PurePosixPath(MANIFEST_NAME))
            return _Prepared("zip", manifest_path, manifest_path.parent / IMAGES_FOLDER, report, plan.folder)
        finally:
            zipbundle.remove_tree(staging)

    def _prepare_zip(self, dataset_id: str, file: IO[bytes]) -> _Prepared:
        staging = self._staging()
        try:
            with zipbundle.open_archive(file) as archive:
                members = zipbundle.vet_members(archive, self._bundle_limits)
                manifest = zipbundle.find_manifest(members)
                self._extract(archive, [manifest], staging)
                manifest_rel = PurePosixPath(manifest.filename)
                raw = (staging / manifest_rel).read_bytes()
                # Keep only what the rows name: unreferenced padding never reaches the disk.
                named = zipbundle.named_members(members, manifest, row_paths(raw, self.validation.max_rows))
                self._extract(archive, named, staging)
            report = validate_manifest(raw, (staging / manifest_rel).parent, self.validation)
            if not report.ok:
                raise _invalid_manifest(report)
            skipped = len(members) - 1 - len(named)
            if skipped:
                note = f"{skipped} file(s) in the bundle are not named by the manifest and were not kept"
                report = report.model_copy(update={"notes": [*report.notes, note]})
            manifest_path = self._publish(staging, dataset_id, manifest_rel)
            return _Prepared("zip", manifest_path, manifest_path.parent, report)
        finally:
            zipbundle.remove_tree(staging)

    def _extract(self, archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], staging: Path) -> None:
        """Unpack ``members`` into ``staging`` within the data-root quota (declared sizes are enforced)."""
        with self.quota.reserve(sum(info.file_size for info in members)):
            zipbundle.extract_members(archive, members, staging, self._bundle_limits)

    def _publish(self, staging: Path, dataset_id: str, manifest_rel: PurePosixPath) -> Path:
        """Move the staged bundle to its final folder (one atomic rename); the stored manifest's path."""
        final = self._folder(dataset_id)
        try:
            staging.rename(final)
        except OSError:
            if not (final / manifest_rel).is_file():
                raise
            # Same content id published concurrently: identical files are already in place.
        return final / manifest_rel


def _peek(file: IO[bytes]) -> bytes:
    file.seek(0)
    head = file.read(4)
    file.seek(0)
    return head


def _read_all(file: IO[bytes]) -> bytes:
    file.seek(0)
    return file.read()
