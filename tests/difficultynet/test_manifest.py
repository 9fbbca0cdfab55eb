"""Manifest validation: one test per error kind, report numbers, meta-set carving, path safety."""

from __future__ import annotations

import csv
import hashlib
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from difficultynet.data.meta_split import resolve_meta_split
from difficultynet.manifest import (
    ManifestInvalid,
    ManifestReport,
    RowError,
    ValidationOptions,
    load_manifest,
    validate_manifest,
)
from difficultynet.manifest import paths as manifest_paths

WritePng = Callable[..., Path]
GOOD_ROWS = "a/0.png,a,train\na/1.png,a,train\nb/0.png,b,train\nb/1.png,b,train\n"


def write_manifest(root: Path, body: str | bytes, name: str = "m.csv") -> Path:
    path = root / name
    path.write_bytes(body.encode() if isinstance(body, str) else body)
    return path


def check(root: Path, body: str | bytes, **options: Any) -> ManifestReport:
    return validate_manifest(write_manifest(root, body), options=ValidationOptions(**options))


def only_error(report: ManifestReport) -> RowError:
    assert not report.ok
    assert report.errors_total == len(report.errors) == 1, report.errors
    return report.errors[0]


# ----------------------------------------------------------------------------------- accepted input


def test_valid_manifest_summary(image_root: Path) -> None:
    report = check(image_root, "path,label,split\n" + GOOD_ROWS + "a/2.png,a,val\nb/2.png,b,test\n")
    assert report.ok and report.errors_total == 0
    assert report.num_rows == 6
    assert [(c.name, c.train, c.val, c.test) for c in report.classes] == [("a", 2, 1, 0), ("b", 2, 0, 1)]
    assert report.split_counts == {"train": 4, "val": 1, "test": 1}
    assert report.imbalance_factor == 1.0
    assert report.group_counts == {"many": 0, "medium": 0, "few": 2}
    assert (report.meta_source, report.eval_split) == ("val", "test")
    assert report.manifest_sha256 == hashlib.sha256((image_root / "m.csv").read_bytes()).hexdigest()


def test_bom_and_crlf_accepted(image_root: Path) -> None:
    body = ("path,label\r\n" + GOOD_ROWS.replace(",train", "").replace("\n", "\r\n")).encode()
    report = check(image_root, b"\xef\xbb\xbf" + body)
    assert report.ok, report.errors
    assert report.class_names == ["a", "b"]
    assert report.split_counts["train"] == 4


def test_quoted_fields_and_column_order_and_extra_columns(image_root: Path, write_png: WritePng) -> None:
    write_png(image_root / "a" / "x, y.png")
    body = (
        'label,notes,path\n"a","free text, with comma","a/x, y.png"\n'
        + "a,,a/0.png\nb,,b/0.png\nb,,b/1.png\n"
    )
    report = check(image_root, body)
    assert report.ok, report.errors
    assert [(c.name, c.train) for c in report.classes] == [("a", 2), ("b", 2)]


def test_blank_lines_are_skipped_and_line_numbers_stay_physical(image_root: Path) -> None:
    report = check(image_root, "path,label\n\na/0.png,a\n\nb/0.png,b\nmissing.png,b\n")
    assert only_error(report).row == 6


def test_class_order_follows_given_classes(image_root: Path) -> None:
    report = check(image_root, "path,label\n" + GOOD_ROWS.replace(",train", ""), classes=["b", "a"])
    assert report.ok
    assert report.class_names == ["b", "a"]


def test_bytes_source_needs_data_root(image_root: Path) -> None:
    body = ("path,label\n" + GOOD_ROWS.replace(",train", "")).encode()
    report = validate_manifest(body, image_root)
    assert report.ok and report.manifest_sha256 == hashlib.sha256(body).hexdigest()
    with pytest.raises(ValueError, match="data_root"):
        validate_manifest(body)


def test_symlink_inside_root_is_accepted(image_root: Path) -> None:
    (image_root / "a" / "link.png").symlink_to(image_root / "b" / "3.png")
    report = check(image_root, "path,label\na/link.png,a\n" + GOOD_ROWS.replace(",train", ""))
    assert report.ok, report.errors


# ----------------------------------------------------------------------------------- row errors


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        (",a,train", "path", "empty path"),
        ("a/2.png,,train", "label", "empty label"),
        ("a/2.png,a,holdout", "split", "split must be one of"),
        ("a/2.png,a,", "split", "split must be one of"),
        ("a/nope.png,a,train", "path", "file not found"),
        ("a,a,train", "path", "not a regular file"),
        ("a/2.png,a", None, "fields"),
    ],
)
def test_row_error(image_root: Path, row: str, column: str | None, reason: str) -> None:
    error = only_error(check(image_root, "path,label,split\n" + GOOD_ROWS + row + "\n"))
    assert error.row == 6  # header line 1, four good rows, then the bad one
    assert error.column == column
    assert reason in error.reason


def test_traversal_is_rejected_without_touching_the_file(image_root: Path, write_png: WritePng) -> None:
    write_png(image_root.parent / "outside.png")
    error = only_error(check(image_root, "path,label\n../outside.png,a\n" + GOOD_ROWS.replace(",train", "")))
    assert (error.row, error.column) == (2, "path")
    assert "'..'" in error.reason


def test_traversal_inside_the_path_is_rejected(image_root: Path) -> None:
    error = only_error(check(image_root, "path,label\na/../a/0.png,a\na/1.png,a\nb/0.png,b\n"))
    assert "'..'" in error.reason


def test_absolute_path_is_rejected(image_root: Path) -> None:
    absolute = image_root / "a" / "2.png"
    error = only_error(check(image_root, f"path,label\n{absolute},a\n" + GOOD_ROWS.replace(",train", "")))
    assert (error.row, error.column) == (2, "path")
    assert "absolute" in error.reason


def test_symlink_escaping_the_root_is_rejected(image_root: Path, write_png: WritePng) -> None:
    outside = write_png(image_root.parent / "secret.png")
    (image_root / "a" / "escape.png").symlink_to(outside)
    error = only_error(check(image_root, "path,label\na/escape.png,a\n" + GOOD_ROWS.replace(",train", "")))
    assert (error.row, error.column) == (2, "path")
    assert "outside the data root" in error.reason


def test_symlinked_folder_escaping_the_root_is_rejected(image_root: Path, write_png: WritePng) -> None:
    write_png(image_root.parent / "elsewhere" / "x.png")
    (image_root / "linked").symlink_to(image_root.parent / "elsewhere", target_is_directory=True)
    error = only_error(check(image_root, "path,label\nlinked/x.png,a\n" + GOOD_ROWS.replace(",train", "")))
    assert "outside the data root" in error.reason


def test_files_are_opened_only_after_the_path_is_proven_inside(
    image_root: Path, write_png: WritePng, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = write_png(image_root.parent / "secret.png")
    (image_root / "a" / "escape.png").symlink_to(outside)
    opened: list[Path] = []
    real_open = Image.open

    def recording_open(fp: object, *args: object, **kwargs: object) -> Image.Image:
        opened.append(Path(str(fp)))
        return real_open(fp, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(manifest_paths.Image, "open", recording_open)
    body = f"path,label\n../secret.png,a\n{outside},a\na/escape.png,a\n" + GOOD_ROWS.replace(",train", "")
    report = check(image_root, body)
    assert report.errors_total == 3
    root = image_root.resolve()
    assert sorted(opened) == sorted(root / p for p in ("a/0.png", "a/1.png", "b/0.png", "b/1.png"))
    assert all(path.resolve().is_relative_to(root) for path in opened)


def test_corrupt_image_is_rejected(image_root: Path) -> None:
    (image_root / "a" / "2.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    error = only_error(check(image_root, "path,label\n" + GOOD_ROWS.replace(",train", "") + "a/2.png,a\n"))
    assert (error.row, error.column) == (6, "path")
    assert "not a readable image" in error.reason


def test_corrupt_image_passes_when_images_are_not_checked(image_root: Path) -> None:
    (image_root / "a" / "2.png").write_bytes(b"garbage")
    body = "path,label\n" + GOOD_ROWS.replace(",train", "") + "a/2.png,a\n"
    assert check(image_root, body, check_images=False).ok


def test_duplicate_path_is_rejected(image_root: Path) -> None:
    (image_root / "a" / "same.png").symlink_to(image_root / "a" / "0.png")
    body = "path,label\n" + GOOD_ROWS.replace(",train", "") + "a/./1.png,a\na/same.png,a\n"
    report = check(image_root, body)
    assert [(e.row, e.column) for e in report.errors] == [(6, "path"), (7, "path")]
    assert "duplicate of line 3" in report.errors[0].reason
    assert "duplicate of line 2" in report.errors[1].reason


def test_label_outside_given_classes(image_root: Path) -> None:
    error = only_error(
        check(image_root, "path,label\n" + GOOD_ROWS.replace(",train", ""), classes=["a", "c", "b"])
    )
    assert "'c' has no train rows" in error.reason
    report = check(
        image_root, "path,label\n" + GOOD_ROWS.replace(",train", "") + "a/2.png,z\n", classes=["a", "b"]
    )
    error = only_error(report)
    assert (error.row, error.column) == (6, "label") and "not one of the given classes" in error.reason


def test_max_errors_caps_the_list_but_counts_all(image_root: Path) -> None:
    body = "path,label\n" + GOOD_ROWS.replace(",train", "") + "".join(f"x{i}.png,a\n" for i in range(7))
    report = check(image_root, body, max_errors=3)
    assert len(report.errors) == 3 and report.errors_total == 7
    assert [e.row for e in report.errors] == [6, 7, 8]


# ----------------------------------------------------------------------------------- file errors


def test_missing_required_column(image_root: Path) -> None:
    error = only_error(check(image_root, "path,class\na/0.png,a\n"))
    assert (error.row, error.column) == (1, "label")
    assert "missing required column 'label'" in error.reason


def test_class_without_train_rows(image_root: Path) -> None:
    report = check(image_root, "path,label,split\n" + GOOD_ROWS + "a/2.png,c,val\n")
    error = only_error(report)
    assert (error.row, error.column) == (None, "label")
    assert "'c' has no train rows" in error.reason


def test_single_class_is_rejected(image_root: Path) -> None:
    error = only_error(check(image_root, "path,label\na/0.png,a\na/1.png,a\n"))
    assert "at least 2 classes" in error.reason


def test_row_cap_stops_parsing(image_root: Path) -> None:
    body = "path,label\n" + GOOD_ROWS.replace(",train", "") + "zzz.png,a\n"
    error = only_error(check(image_root, body, max_rows=3))
    assert error.row == 5 and "more than 3 data rows" in error.reason


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty"),
        (b"\n\n", "empty"),
        (b"path,label,split\n", "no data rows"),
        (b"path,label\n\xff\xfea/0.png,a\n", "not UTF-8"),
    ],
)
def test_file_level_errors(image_root: Path, body: bytes, reason: str) -> None:
    error = only_error(check(image_root, body))
    assert error.row is None and reason in error.reason


def test_nul_byte_is_an_error(image_root: Path) -> None:
    error = only_error(check(image_root, b"path,label\na/0.png,a\na/1\x00.png,a\n"))
    assert error.row == 3 and "NUL" in error.reason


def test_malformed_csv_is_an_error(image_root: Path) -> None:
    error = only_error(check(image_root, 'path,label\na/0.png,a\n"a/1.png,a\n'))
    assert error.row == 3 and "malformed CSV" in error.reason


def test_unreadable_manifest_and_missing_root(tmp_path: Path) -> None:
    error = only_error(validate_manifest(tmp_path / "absent.csv"))
    assert error.row is None and "cannot read manifest" in error.reason
    report = validate_manifest(b"path,label\na.png,a\nb.png,b\n", tmp_path / "no-such-root")
    assert not report.ok and "is not a directory" in report.errors[0].reason


def test_load_manifest_raises_with_report(image_root: Path) -> None:
    path = write_manifest(
        image_root, "path,label\n" + GOOD_ROWS.replace(",train", "") + "../x.png,a\nb/9.png,b\n"
    )
    with pytest.raises(ManifestInvalid) as info:
        load_manifest(path)
    assert info.value.report.errors_total == 2
    assert [e.row for e in info.value.report.errors] == [6, 7]
    assert "line 6" in str(info.value)


def test_load_manifest_returns_resolved_rows(image_root: Path) -> None:
    path = write_manifest(image_root, "path,label,split\n" + GOOD_ROWS + "a/2.png,a,test\n")
    manifest = load_manifest(path)
    assert manifest.class_names == ("a", "b")
    assert manifest.labels == (0, 0, 1, 1, 0)
    assert manifest.splits == ("train", "train", "train", "train", "test")
    assert manifest.lines == (2, 3, 4, 5, 6)
    assert all(p.is_absolute() and p.is_file() for p in manifest.paths)
    assert manifest.paths[4] == (image_root / "a" / "2.png").resolve()
    assert manifest.data_root == image_root.resolve()
    assert manifest.indices("test") == [4]


# ----------------------------------------------------------------------------------- shared mini manifest


def test_mini_manifest_report_numbers(mini_manifest: Path) -> None:
    with mini_manifest.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    per_split = Counter((row["label"], row["split"]) for row in rows)
    names = list(dict.fromkeys(row["label"] for row in rows))
    train = [per_split[name, "train"] for name in names]

    report = validate_manifest(mini_manifest)

    assert report.ok, report.errors
    assert report.num_rows == len(rows)
    assert report.class_names == names
    assert [(c.train, c.val, c.test) for c in report.classes] == [
        (per_split[n, "train"], per_split[n, "val"], per_split[n, "test"]) for n in names
    ]
    assert report.imbalance_factor == pytest.approx(max(train) / min(train))
    expected_groups = Counter("many" if n > 100 else "few" if n < 20 else "medium" for n in train)
    assert report.group_counts == {g: expected_groups[g] for g in ("many", "medium", "few")}
    assert report.split_counts == dict(Counter(row["split"] for row in rows))
    assert (report.meta_source, report.eval_split) == ("val", "test")
    assert report.manifest_sha256 == hashlib.sha256(mini_manifest.read_bytes()).hexdigest()


# ----------------------------------------------------------------------------------- meta-set carving


@pytest.fixture
def tail_manifest(tmp_path: Path, write_png: WritePng) -> Path:
    """No val rows; train counts 30 / 8 / 3 / 2 / 1, plus two test images."""
    root = tmp_path / "tail"
    lines = ["path,label,split"]
    for label, count in zip("abcde", (30, 8, 3, 2, 1), strict=True):
        for i in range(count):
            write_png(root / label / f"{i}.png", size=4, value=i)
            lines.append(f"{label}/{i}.png,{label},train")
    write_png(root / "t0.png", size=4)
    write_png(root / "t1.png", size=4, value=1)
    lines += ["t0.png,a,test", "t1.png,e,test"]
    return write_manifest(root, "\n".join(lines) + "\n")


def test_carving_default_is_balanced_seeded_and_keeps_train(tail_manifest: Path) -> None:
    manifest = load_manifest(tail_manifest)
    split = resolve_meta_split(manifest, seed=3)
    assert split.source == "carved"
    assert split.meta_counts == (10, 4, 1, 1, 0)  # min(10, n // 2)
    assert split.train_counts == (20, 4, 2, 1, 1)
    meta, train = set(split.meta_indices), set(split.train_indices)
    assert not meta & train
    assert meta | train == set(manifest.indices("train"))
    assert split.eval_indices == tuple(manifest.indices("test"))
    assert resolve_meta_split(manifest, seed=3) == split
    assert resolve_meta_split(manifest, seed=4).meta_indices != split.meta_indices
    assert any("seed 3" in note for note in split.notes)
    assert any("'e'" in note and "no meta images" in note for note in split.notes)


def test_carving_with_meta_per_class(tail_manifest: Path) -> None:
    split = resolve_meta_split(load_manifest(tail_manifest), meta_per_class=5, seed=0)
    assert split.meta_counts == (5, 5, 2, 1, 0)  # min(k, n - 1): at least one image stays in train
    assert split.train_counts == (25, 3, 1, 1, 1)


def test_report_describes_carving(tail_manifest: Path) -> None:
    report = validate_manifest(tail_manifest, options=ValidationOptions(seed=7))
    assert report.ok and report.meta_source == "carved" and report.eval_split == "test"
    assert any("carved k=10" in note and "seed 7" in note for note in report.notes)
    assert [c.train for c in report.classes] == [30, 8, 3, 2, 1]  # manifest counts, before carving


def test_val_rows_are_the_meta_set_and_eval_falls_back_to_val(image_root: Path) -> None:
    path = write_manifest(image_root, "path,label,split\n" + GOOD_ROWS + "a/2.png,a,val\nb/2.png,b,val\n")
    manifest = load_manifest(path)
    split = resolve_meta_split(manifest, meta_per_class=3)
    assert split.source == "val" and split.meta_indices == (4, 5) and split.eval_indices == (4, 5)
    assert split.train_indices == (0, 1, 2, 3)
    assert manifest.report.eval_split == "val"
    assert any("evaluation uses the val split" in note for note in manifest.report.notes)


def test_no_meta_set_possible_is_an_error(image_root: Path) -> None:
    error = only_error(check(image_root, "path,label\na/0.png,a\nb/0.png,b\n"))
    assert error.column == "split" and "meta set" in error.reason


def test_symlink_loop_is_an_error_not_an_exception(image_root: Path) -> None:
    os.symlink(image_root / "loop1", image_root / "loop2")
    os.symlink(image_root / "loop2", image_root / "loop1")
    error = only_error(check(image_root, "path,label\nloop1/x.png,a\n" + GOOD_ROWS.replace(",train", "")))
    assert error.row == 2 and error.column == "path"
