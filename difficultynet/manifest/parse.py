"""Manifest CSV parsing: bytes → well-formed rows (paths are not checked here; see :mod:`.paths`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from difficultynet.contracts.datasets import SPLITS, Split
from difficultynet.manifest.report import Problems

DEFAULT_MAX_ROWS = 2_000_000
REQUIRED_COLUMNS: tuple[str, ...] = ("path", "label")


@dataclass(slots=True)
class Row:
    line: int
    rel_path: str
    label: str
    split: Split


def decode(raw: bytes, problems: Problems) -> str | None:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problems.add(
            None, None, f"manifest is not UTF-8 text (invalid byte at line {line}, offset {exc.start})"
        )
        return None
    nul = text.find("\x00")
    if nul >= 0:
        problems.add(text.count("\n", 0, nul) + 1, None, "line contains a NUL byte (is this a binary file?)")
        return None
    return text


def parse_rows(text: str, classes: Sequence[str] | None, max_rows: int, problems: Problems) -> list[Row]:
    """Parse the CSV into rows whose path/label/split cells are well-formed (paths not checked yet).

    Returns no rows when the file cannot be read to the end (malformed CSV, too many rows): a partial
    file would only add misleading class-level errors and needless file checks. The row cap therefore
    holds before any file is looked at.
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    allowed = set(classes) if classes is not None else None
    rows: list[Row] = []
    header: list[str] | None = None
    columns: dict[str, int] | None = {}
    data_rows = 0
    previous_end = 0
    try:
        for record in reader:
            line, previous_end = previous_end + 1, reader.line_num
            if not "".join(record).strip():
                continue  # blank line
            if header is None:
                header = [cell.strip().lower() for cell in record]
                columns = _header_columns(header, line, problems)
                if columns is None:
                    return []
                continue
            data_rows += 1
            if data_rows > max_rows:
                problems.add(line, None, f"manifest has more than {max_rows} data rows; stopped reading")
                return []
            row = _parse_record(record, line, header, columns or {}, allowed, problems)
            if row is not None:
                rows.append(row)
    except csv.Error as exc:
        problems.add(reader.line_num or None, None, f"malformed CSV: {exc}")
        return []
    if header is None:
        problems.add(None, None, "manifest is empty (expected a header line 'path,label[,split]')")
    elif data_rows == 0:
        problems.add(None, None, "manifest has a header but no data rows")
    return rows


def row_paths(raw: bytes, max_rows: int = DEFAULT_MAX_ROWS) -> list[str]:
    """The ``path`` cells of a manifest's well-formed rows (none when the file is unusable as a whole)."""
    problems = Problems()
    text = decode(raw, problems)
    return [] if text is None else [row.rel_path for row in parse_rows(text, None, max_rows, problems)]


def _header_columns(header: list[str], line: int, problems: Problems) -> dict[str, int] | None:
    """Column positions by name; None (after recording why) when the header is unusable."""
    columns: dict[str, int] = {}
    usable = True
    for position, name in enumerate(header):
        if name in columns and name in (*REQUIRED_COLUMNS, "split"):
            problems.add(line, name, f"column {name!r} appears more than once in the header")
            usable = False
        columns.setdefault(name, position)
    for name in REQUIRED_COLUMNS:
        if name not in columns:
            problems.add(
                line, name, f"missing required column {name!r} (header must contain path,label[,split])"
            )
            usable = False
    return columns if usable else None


def _parse_record(
    record: list[str],
    line: int,
    header: list[str],
    columns: dict[str, int],
    allowed: set[str] | None,
    problems: Problems,
) -> Row | None:
    if len(record) != len(header):
        problems.add(line, None, f"row has {len(record)} fields, the header has {len(header)}")
        return None
    before = len(problems)
    path = record[columns["path"]].strip()
    label = record[columns["label"]].strip()
    split_cell = record[columns["split"]].strip().lower() if "split" in columns else "train"
    if not path:
        problems.add(line, "path", "empty path")
    if not label:
        problems.add(line, "label", "empty label")
    elif allowed is not None and label not in allowed:
        problems.add(line, "label", f"label {label!r} is not one of the given classes")
    if split_cell not in SPLITS:
        problems.add(line, "split", f"split must be one of train, val, test (got {split_cell!r})")
    if len(problems) != before:
        return None
    return Row(line=line, rel_path=path, label=label, split=split_cell)  # type: ignore[arg-type]
