"""Safe unpacking of dataset bundles (a zip holding a manifest CSV and its images, or image folders).

Every entry is vetted before anything is written: no absolute or drive-qualified names, no ``..``, no
symlinks or device files (unix mode in ``external_attr``), no encryption, no duplicate names, and caps on
the entry count and the total uncompressed size. Extraction then re-counts the bytes actually inflated,
because the sizes in the central directory are attacker-controlled. Only the manifest and the files its
rows name are extracted: unreferenced padding never reaches the disk.
"""

from __future__ import annotations

import posixpath
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from backend.errors import ApiError, PayloadTooLarge, Unprocessable
from difficultynet.contracts.datasets import RowError
from difficultynet.manifest.folders import is_clutter

MANIFEST_NAME = "manifest.csv"
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class BundleLimits:
    max_files: int
    max_bytes: int


class UnsafeBundle(Unprocessable):
    def __init__(self, name: str, reason: str) -> None:
        super().__init__(
            f"zip entry {name!r} rejected: {reason}", [RowError(row=None, column=name[:200], reason=reason)]
        )


def _entry_problem(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    if not name or "\x00" in name:
        return "empty name or NUL byte"
    if "\\" in name:
        return "backslashes are not allowed in names (ambiguous path separator)"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "absolute paths are not allowed"
    if any(part == ".." for part in name.split("/")):
        return "'..' would escape the bundle folder"
    if info.flag_bits & 0x1:
        return "encrypted entries are not supported"
    if info.create_system == 3:  # unix-made zip: the high word of external_attr holds st_mode
        file_type = stat.S_IFMT(info.external_attr >> 16)
        if file_type == stat.S_IFLNK:
            return "symbolic links are not allowed"
        if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):  # 0: permissions only (e.g. Python's writestr)
            return "only regular files and folders are allowed"
    return None


def vet_members(archive: zipfile.ZipFile, limits: BundleLimits) -> list[zipfile.ZipInfo]:
    """The file entries to extract; raises a 4xx :class:`ApiError` for anything unsafe or too big."""
    infos = archive.infolist()
    files = [info for info in infos if not info.is_dir()]
    if len(files) > limits.max_files:
        raise PayloadTooLarge(f"zip has {len(files)} files; at most {limits.max_files} are allowed")
    seen: set[str] = set()
    declared = 0
    for info in infos:
        problem = _entry_problem(info)
        if problem:
            raise UnsafeBundle(info.filename, problem)
        key = info.filename.rstrip("/")
        if key in seen:
            raise UnsafeBundle(info.filename, "duplicate entry name")
        seen.add(key)
        declared += info.file_size
    if declared > limits.max_bytes:
        raise PayloadTooLarge(f"zip unpacks to {declared} bytes; the limit is {limits.max_bytes}")
    if not files:
        raise Unprocessable("zip bundle is empty")
    return files


def _manifest_candidates(members: list[zipfile.ZipInfo]) -> list[tuple[PurePosixPath, zipfile.ZipInfo]]:
    """CSV entries, except clutter such as ``__MACOSX/._manifest.csv`` (never a manifest)."""
    paths = [(PurePosixPath(m.filename), m) for m in members if m.filename.lower().endswith(".csv")]
    return [(path, m) for path, m in paths if not any(is_clutter(part) for part in path.parts)]


def holds_manifest(members: list[zipfile.ZipInfo]) -> bool:
    """A bundle (a manifest CSV and its images); without a CSV the zip holds image folders."""
    return bool(_manifest_candidates(members))


def find_manifest(members: list[zipfile.ZipInfo]) -> zipfile.ZipInfo:
    """The shallowest CSV; ``manifest.csv`` breaks a tie (bundles often wrap everything in one folder)."""
    csvs = _manifest_candidates(members)
    if not csvs:
        raise Unprocessable("zip bundle has no manifest (.csv) file")
    depth = min(len(path.parts) for path, _ in csvs)
    shallowest = [(path, m) for path, m in csvs if len(path.parts) == depth]
    if len(shallowest) == 1:
        return shallowest[0][1]
    named = [m for path, m in shallowest if path.name.lower() == MANIFEST_NAME]
    if len(named) == 1:
        return named[0]
    names = ", ".join(sorted(str(path) for path, _ in shallowest)[:5])
    raise Unprocessable(f"zip bundle has several candidate manifests ({names}); name one {MANIFEST_NAME!r}")


def named_members(
    members: list[zipfile.ZipInfo], manifest: zipfile.ZipInfo, row_paths: list[str]
) -> list[zipfile.ZipInfo]:
    """The members the manifest's rows name (relative to the manifest's folder), the manifest excluded."""
    folder = posixpath.dirname(posixpath.normpath(manifest.filename))
    wanted = {posixpath.normpath(posixpath.join(folder, path.replace("\\", "/"))) for path in row_paths}
    return [info for info in members if info is not manifest and posixpath.normpath(info.filename) in wanted]


def extract_members(
    archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], dest: Path, limits: BundleLimits
) -> None:
    """Write vetted members under ``dest`` (a fresh folder), never following or creating links."""
    root = dest.resolve()
    total = 0
    for info in members:
        target = (root / info.filename).resolve()
        if not target.is_relative_to(root):
            raise UnsafeBundle(info.filename, "resolves outside the bundle folder")
        written = 0
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, open(target, "xb") as sink:
                while chunk := source.read(_CHUNK):
                    written += len(chunk)
                    total += len(chunk)
                    if written > info.file_size:
                        raise UnsafeBundle(info.filename, "inflates past its declared size")
                    if total > limits.max_bytes:
                        raise PayloadTooLarge(f"zip unpacks to more than {limits.max_bytes} bytes")
                    sink.write(chunk)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
            raise UnsafeBundle(
                info.filename, "cannot be decompressed (corrupt data, or an unsupported compression method)"
            ) from exc
        except (FileExistsError, NotADirectoryError) as exc:
            raise UnsafeBundle(
                info.filename, "collides with another entry (file vs folder, or case)"
            ) from exc


def open_archive(file: IO[bytes]) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(file)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise ApiError(422, "not a readable zip archive (truncated or corrupt)") from exc


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
