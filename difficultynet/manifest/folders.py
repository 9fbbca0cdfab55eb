"""Image folders as datasets: find the classes and files of ``train/<class>/*`` or ``<class>/*`` folders.

The scan only lists; nothing is opened. It walks each class folder recursively, follows symbolic links
to folders only while they stay inside the scanned folder (each real folder once, so a link loop ends),
and skips operating-system clutter: hidden files and folders (``.DS_Store``, ``._x.jpg``), ``__MACOSX/``,
``Thumbs.db`` and ``desktop.ini``. What it skips is counted and reported, never dropped silently.

Paths are relative to the scanned folder, with ``/`` separators, so they can be written to a manifest
whose data root is that folder. A folder that holds nothing but one folder (a zip of ``photos/``) is
looked into; the wrapping folder stays part of every path.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from difficultynet.contracts.datasets import SPLITS, Layout, Split
from difficultynet.manifest.report import Problems

CLUTTER_NAMES = frozenset({"__macosx", "thumbs.db", "desktop.ini"})
LAYOUT_HINT = "expected train/<class>/* (optionally val/<class>/* and test/<class>/*) or <class>/*"


def is_clutter(name: str) -> bool:
    """Hidden files and folders, and what macOS and Windows add to zips and folders."""
    return name.startswith(".") or name.lower() in CLUTTER_NAMES


def name_problem(name: str) -> str | None:
    """Names a manifest CSV cannot carry unchanged (its cells are stripped; controls are unreadable)."""
    if name != name.strip():
        return "name starts or ends with a space; rename it"
    if not name.isprintable():
        return "name contains control characters; rename it"
    return None


@dataclass(frozen=True)
class FolderEntry:
    """One file found in a class folder; ``split`` is the folder's split, None when it is to be carved."""

    rel_path: str
    label: str
    split: Split | None


@dataclass
class FolderScan:
    layout: Layout
    entries: list[FolderEntry] = field(default_factory=list)
    given_splits: tuple[Split, ...] = ()  # split folders present (split-folders layout)
    clutter: int = 0  # hidden files, __MACOSX/, Thumbs.db, ... skipped
    loose_files: list[str] = field(default_factory=list)  # files outside any class folder, skipped
    truncated: bool = False  # stopped at the file cap

    @property
    def class_names(self) -> list[str]:
        return sorted({entry.label for entry in self.entries})


class _Walker:
    """Lists files under a root without leaving it; every problem names a path relative to the root."""

    def __init__(self, root: Path, max_files: int, problems: Problems) -> None:
        self.root = os.path.realpath(root)
        self.max_files = max_files
        self.problems = problems
        self.seen_dirs: set[str] = {self.root}
        self.files = 0
        self.clutter = 0
        self.truncated = False

    def children(self, rel_dir: str) -> tuple[list[str], list[str]]:
        """Visible (folders, files) directly in ``rel_dir``, sorted; clutter counted, links vetted."""
        folders: list[str] = []
        files: list[str] = []
        try:
            with os.scandir(os.path.join(self.root, rel_dir)) as listing:
                items = sorted(listing, key=lambda item: item.name)
        except OSError as exc:
            self.problems.add(None, "path", f"folder cannot be listed: {exc.strerror or 'unreadable'}")
            return folders, files
        for item in items:
            rel = posixpath.join(rel_dir, item.name) if rel_dir else item.name
            if is_clutter(item.name):
                self.clutter += 1
                continue
            problem = name_problem(item.name)
            if problem:
                self.problems.add(None, "path", f"{problem} ({rel!r})")
                continue
            try:
                is_dir = item.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False  # a dangling link: the file check names it
            if is_dir and self._enter(item, rel):
                folders.append(item.name)
            elif not is_dir:
                files.append(item.name)
        return folders, files

    def _enter(self, item: os.DirEntry[str], rel: str) -> bool:
        """Whether a folder may be walked: inside the root, and not walked before (link loops end)."""
        real = os.path.realpath(item.path)
        if not (real == self.root or real.startswith(self.root.rstrip(os.sep) + os.sep)):
            self.problems.add(
                None,
                "path",
                f"folder resolves (through a symlink) to a folder outside the data root ({rel!r})",
            )
            return False
        if real in self.seen_dirs:
            self.problems.add(None, "path", f"folder links to a folder that is already scanned ({rel!r})")
            return False
        self.seen_dirs.add(real)
        return True

    def files_under(self, rel_dir: str) -> Iterator[str]:
        """Every visible file under ``rel_dir`` (recursive, sorted), up to the file cap."""
        folders, files = self.children(rel_dir)
        for name in files:
            if self.files >= self.max_files:
                self.truncated = True
                return
            self.files += 1
            yield posixpath.join(rel_dir, name)
        for name in folders:
            yield from self.files_under(posixpath.join(rel_dir, name))
            if self.truncated:
                return


def _unwrap(walker: _Walker) -> tuple[str, list[str], list[str]]:
    """The folder to read classes from (descend while a folder holds exactly one folder and no files),
    with its (folders, files)."""
    rel = ""
    while True:
        folders, files = walker.children(rel)
        if files or len(folders) != 1 or folders[0] in SPLITS:
            return rel, folders, files
        rel = posixpath.join(rel, folders[0]) if rel else folders[0]


def scan_folder(root: Path, max_files: int, problems: Problems) -> FolderScan:
    """List the classes and files of an image folder; structural problems go to ``problems``."""
    walker = _Walker(root, max_files, problems)
    top, folders, files = _unwrap(walker)
    layout: Layout = "split-folders" if "train" in folders else "class-folders"
    scan = FolderScan(layout=layout, loose_files=[posixpath.join(top, name) for name in files])
    if layout == "split-folders":
        for name in folders:
            if name not in SPLITS:
                problems.add(
                    None,
                    "path",
                    f"folder {posixpath.join(top, name)!r} sits next to train/: with a train/ folder only "
                    "train/, val/ and test/ are allowed (move the class folders into train/)",
                )
        scan.given_splits = tuple(split for split in SPLITS if split in folders)
        for split in scan.given_splits:
            split_dir = posixpath.join(top, split)
            classes, loose = walker.children(split_dir)
            scan.loose_files += [posixpath.join(split_dir, name) for name in loose]
            _add_classes(scan, walker, split_dir, classes, split)
    else:
        _add_classes(scan, walker, top, folders, None)
    scan.clutter, scan.truncated = walker.clutter, walker.truncated
    if walker.truncated:
        problems.add(None, None, f"folder has more than {max_files} files; stopped reading")
    elif not scan.entries and top and files and not folders:
        problems.add(
            None,
            None,
            f"only one folder ({top!r}) holds images: a dataset needs one folder per class (at least 2); "
            f"{LAYOUT_HINT}",
        )
    elif not scan.entries:
        where = f" (looked in {top!r})" if top else ""
        found = (
            f"; found {len(scan.loose_files)} file(s) outside any class folder" if scan.loose_files else ""
        )
        problems.add(None, None, f"no images in class folders{where}: {LAYOUT_HINT}{found}")
    return scan


def _add_classes(
    scan: FolderScan, walker: _Walker, parent: str, classes: list[str], split: Split | None
) -> None:
    for label in classes:
        for rel_path in walker.files_under(posixpath.join(parent, label)):
            scan.entries.append(FolderEntry(rel_path=rel_path, label=label, split=split))
        if walker.truncated:
            return
