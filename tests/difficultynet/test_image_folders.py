"""Image folders as datasets: layouts, seeded per-class splits, reported shortfalls, row-level rules."""

from __future__ import annotations

import csv
import io
import os
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from difficultynet.manifest import (
    FolderSplitOptions,
    ManifestReport,
    check_folder,
    load_manifest,
    plan_folder,
)


def write_image(path: Path, shade: int = 0, fmt: str = "JPEG", size: tuple[int, int] = (24, 16)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (shade % 256, (shade * 7) % 256, (shade * 13) % 256)).save(path, format=fmt)
    return path


def write_classes(root: Path, counts: dict[str, int], fmt: str = "JPEG") -> Path:
    suffix = ".jpg" if fmt == "JPEG" else ".png"
    for label, count in counts.items():
        for i in range(count):
            write_image(root / label / f"{i:03d}{suffix}", shade=i, fmt=fmt)
    return root


def rows_of(csv_bytes: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(csv_bytes.decode())))


def build(root: Path, **options: object) -> tuple[bytes, ManifestReport]:
    plan = plan_folder(root, FolderSplitOptions.model_validate(options))
    return plan.csv, check_folder(plan)


def reasons(report: ManifestReport) -> str:
    return " | ".join(error.reason for error in report.errors)


# ----------------------------------------------------------------------------------- layouts and splits


def test_class_folders_get_seeded_balanced_val_and_stratified_test(tmp_path: Path) -> None:
    root = write_classes(tmp_path / "photos", {"cat": 60, "dog": 30, "eel": 12}, fmt="PNG")
    csv_bytes, report = build(root, val_per_class=5, test_fraction=0.2, seed=3)
    assert report.ok, report.errors
    rows = rows_of(csv_bytes)
    counts = Counter((row["label"], row["split"]) for row in rows)
    # test = round(0.2 n), val = min(5, (n - test) // 2), the rest trains
    assert counts == {
        ("cat", "test"): 12, ("cat", "val"): 5, ("cat", "train"): 43,
        ("dog", "test"): 6, ("dog", "val"): 5, ("dog", "train"): 19,
        ("eel", "test"): 2, ("eel", "val"): 5, ("eel", "train"): 5,
    }  # fmt: skip
    assert [c.name for c in report.classes] == ["cat", "dog", "eel"]
    assert (report.meta_source, report.eval_split) == ("val", "test")
    assert all(row["path"] == f"{row['label']}/{Path(row['path']).name}" for row in rows)
    assert len({row["path"] for row in rows}) == 102  # every image exactly once
    assert any("5 images per class" in note for note in report.notes)
    # The same settings give the same bytes; another seed draws other images (same counts).
    assert build(root, val_per_class=5, test_fraction=0.2, seed=3)[0] == csv_bytes
    other = build(root, val_per_class=5, test_fraction=0.2, seed=4)[0]
    assert other != csv_bytes and Counter((r["label"], r["split"]) for r in rows_of(other)) == Counter(
        (r["label"], r["split"]) for r in rows
    )


def test_a_class_keeps_its_split_when_another_class_is_added(tmp_path: Path) -> None:
    root = write_classes(tmp_path / "p", {"cat": 20, "dog": 20})
    before = {r["path"]: r["split"] for r in rows_of(build(root, val_per_class=3)[0])}
    write_classes(root, {"ant": 20})
    after = {r["path"]: r["split"] for r in rows_of(build(root, val_per_class=3)[0])}
    assert {p: s for p, s in after.items() if not p.startswith("ant/")} == before


def test_small_classes_are_reported_and_kept_never_dropped(tmp_path: Path) -> None:
    root = write_classes(tmp_path / "p", {"big": 100, "small": 6, "single": 1})
    csv_bytes, report = build(root)  # defaults: 25 val per class, 20 % test
    assert report.ok, report.errors
    by_class = {c.name: c for c in report.classes}
    assert (by_class["big"].train, by_class["big"].val, by_class["big"].test) == (55, 25, 20)
    assert (by_class["small"].train, by_class["small"].val, by_class["small"].test) == (3, 2, 1)
    assert (by_class["single"].train, by_class["single"].val, by_class["single"].test) == (1, 0, 0)
    plan = plan_folder(root)
    short = {s.name: s for s in plan.folder.short_classes}
    assert set(short) == {"small", "single"}
    assert short["small"].reason == "2 val image(s) instead of 25"
    assert "no test image" in short["single"].reason and "0 val image(s)" in short["single"].reason
    assert any("too small for the requested splits" in note and "'single'" in note for note in report.notes)
    assert len(rows_of(csv_bytes)) == 107


def test_split_folders_keep_given_splits_and_carve_only_what_is_missing(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    write_classes(root / "train", {"ant": 30, "bee": 10})
    write_classes(root / "test", {"ant": 4, "bee": 4})
    csv_bytes, report = build(root, val_per_class=4)
    assert report.ok, report.errors
    rows = rows_of(csv_bytes)
    assert all(row["split"] == "test" for row in rows if row["path"].startswith("test/"))
    assert all(row["split"] in ("train", "val") for row in rows if row["path"].startswith("train/"))
    counts = Counter((row["label"], row["split"]) for row in rows)
    assert counts[("ant", "val")] == 4 and counts[("bee", "val")] == 4 and counts[("bee", "train")] == 6
    plan = plan_folder(root, FolderSplitOptions(val_per_class=4))
    assert (plan.folder.layout, plan.folder.given_splits, plan.folder.carved_splits) == (
        "split-folders", ["train", "test"], ["val"],
    )  # fmt: skip


def test_split_folders_with_val_and_test_carve_nothing_and_report_missing_classes(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    for split, counts in (("train", {"a": 5, "b": 5}), ("val", {"a": 2}), ("test", {"a": 2, "b": 1})):
        write_classes(root / split, counts)
    plan = plan_folder(root)
    report = check_folder(plan)
    assert report.ok, report.errors
    assert plan.folder.carved_splits == []
    assert report.split_counts == {"train": 10, "val": 2, "test": 3}
    assert [(s.name, s.reason) for s in plan.folder.short_classes] == [("b", "no images in val/b/")]


def test_a_single_wrapping_folder_is_looked_into_and_kept_in_paths(tmp_path: Path) -> None:
    root = tmp_path / "upload"
    write_classes(root / "my photos", {"a": 4, "b": 4})
    (root / ".DS_Store").write_bytes(b"junk")
    csv_bytes, report = build(root, test_fraction=0)
    assert report.ok, report.errors
    assert all(row["path"].startswith("my photos/") for row in rows_of(csv_bytes))
    assert load_manifest(csv_bytes, root).num_classes == 2  # the CSV reads back against the same root
    assert report.eval_split == "val" and any("evaluation uses the val split" in n for n in report.notes)


def test_clutter_and_loose_files_are_skipped_and_counted(tmp_path: Path) -> None:
    root = write_classes(tmp_path / "p", {"a": 4, "b": 4})
    (root / "__MACOSX" / "a").mkdir(parents=True)
    (root / "__MACOSX" / "a" / "._000.jpg").write_bytes(b"\x00\x05\x16\x07")
    (root / "a" / "._000.jpg").write_bytes(b"\x00\x05\x16\x07")
    (root / "a" / ".hidden").mkdir()
    write_image(root / "a" / ".hidden" / "x.jpg")
    (root / "b" / "Thumbs.db").write_bytes(b"x")
    (root / "README.txt").write_text("about")
    plan = plan_folder(root, FolderSplitOptions(val_per_class=1, test_fraction=0))
    report = check_folder(plan)
    assert report.ok, report.errors
    assert report.num_rows == 8
    assert plan.folder.skipped_clutter == 4 and plan.folder.skipped_loose_files == ["README.txt"]
    assert any("ignored 4 hidden or system entries" in note for note in report.notes)
    assert any("'README.txt'" in note for note in report.notes)


def test_nested_folders_inside_a_class_belong_to_it(tmp_path: Path) -> None:
    root = write_classes(tmp_path / "p", {"a": 2, "b": 4})
    write_image(root / "a" / "2019" / "x.jpg")
    write_image(root / "a" / "2020" / "y.png", fmt="PNG")
    csv_bytes, report = build(root, val_per_class=1, test_fraction=0)
    assert report.ok and [(c.name, c.train + c.val) for c in report.classes] == [("a", 4), ("b", 4)]
    assert "a/2020/y.png" in {row["path"] for row in rows_of(csv_bytes)}


# ----------------------------------------------------------------------------------- rejected folders


def test_non_images_corrupt_files_and_bad_names_are_row_errors_naming_the_path(tmp_path: Path) -> None:
    root = write_classes(tmp_path / "p", {"a": 4, "b": 4})
    (root / "a" / "notes.txt").write_text("not an image")
    (root / "a" / "fake.jpg").write_bytes(b"GIF89a but not really")
    good = (root / "b" / "000.jpg").read_bytes()
    (root / "b" / "cut.jpg").write_bytes(good[: len(good) // 2])
    write_image(root / "b" / " spaced.jpg")
    report = build(root)[1]
    assert not report.ok
    by_path = {e.reason.rsplit("(", 1)[-1]: e for e in report.errors}
    assert "the file is not in a known image format" in by_path["'a/notes.txt')"].reason
    assert "not a readable image" in by_path["'a/fake.jpg')"].reason
    assert "corrupt or truncated" in by_path["'b/cut.jpg')"].reason
    assert "starts or ends with a space" in by_path["'b/ spaced.jpg')"].reason
    assert report.errors_total == 4 and all(e.column == "path" and e.row is None for e in report.errors)
    assert str(tmp_path) not in reasons(report)


def test_symlinks_out_of_the_folder_are_refused_and_loops_end(tmp_path: Path) -> None:
    outside = write_image(tmp_path / "secret" / "x.jpg")
    root = write_classes(tmp_path / "p", {"a": 4, "b": 4})
    os.symlink(outside, root / "a" / "link.jpg")
    os.symlink(outside.parent, root / "b" / "elsewhere")
    os.symlink(root / "a", root / "a" / "loop")
    report = build(root)[1]
    text = reasons(report)
    assert "to a file outside the data root ('a/link.jpg')" in text
    assert "to a folder outside the data root ('b/elsewhere')" in text
    assert "already scanned ('a/loop')" in text
    assert str(tmp_path) not in text


def test_layout_problems_are_explained(tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    for i in range(3):
        write_image(flat / f"{i}.jpg")
    report = build(flat)[1]
    assert not report.ok and "expected train/<class>/*" in reasons(report)
    assert "found 3 file(s) outside any class folder" in reasons(report)

    mixed = write_classes(tmp_path / "mixed" / "train", {"a": 3, "b": 3}).parent
    write_classes(mixed / "extra", {"a": 1})
    assert "sits next to train/" in reasons(build(mixed)[1])

    one_class = write_classes(tmp_path / "one", {"a": 3})
    assert "only one folder ('a') holds images" in reasons(build(one_class)[1])
    write_classes(tmp_path / "one", {"b": 0})
    (tmp_path / "one" / "b").mkdir()
    assert "need at least 2 classes" in reasons(build(one_class)[1])

    missing = build(tmp_path / "nowhere")[1]
    assert not missing.ok and "does not exist" in reasons(missing)


def test_a_class_only_in_val_has_no_training_images(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    write_classes(root / "train", {"a": 4, "b": 4})
    write_classes(root / "val", {"a": 1, "b": 1, "c": 1})
    assert "class 'c' has no train rows" in reasons(build(root)[1])


def test_file_cap_stops_the_listing(tmp_path: Path) -> None:
    root = write_classes(tmp_path / "p", {"a": 5, "b": 5})
    plan = plan_folder(root, max_files=6)
    assert "more than 6 files" in reasons(check_folder(plan))


@pytest.mark.parametrize(
    "options", [{"val_per_class": 0}, {"test_fraction": 0.95}, {"test_fraction": -0.1}, {"seed": -1}]
)
def test_split_options_are_range_checked(options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        FolderSplitOptions.model_validate(options)


# ----------------------------------------------------------------------------------- dnet manifest


def test_dnet_manifest_writes_the_csv_that_dnet_train_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from difficultynet.cli import main

    root = write_classes(tmp_path / "photos", {"cat": 24, "dog": 8, "eel": 3})
    args = ["manifest", str(root), "--val-per-class", "2", "--test-fraction", "0.25", "--seed", "7"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "manifest valid" in printed and "dnet train --manifest" in printed
    written = (root / "manifest.csv").read_bytes()
    assert written == plan_folder(root, FolderSplitOptions(val_per_class=2, test_fraction=0.25, seed=7)).csv
    # Rerunning with the same settings is a no-op; other settings need --force or another -o.
    assert main(args) == 0
    assert main([*args[:-1], "8"]) == 2 and "pass --force" in capsys.readouterr().err
    elsewhere = tmp_path / "out" / "m.csv"
    assert main(["manifest", str(root), "--seed", "8", "-o", str(elsewhere)]) == 0
    assert f"--data-root {root}" in capsys.readouterr().out
    assert main(["validate", str(root / "manifest.csv")]) == 0
    run = tmp_path / "run"
    tiny = [
        "--image-size",
        "8",
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--device",
        "cpu",
        "--num-threads",
        "1",
    ]
    assert main(["train", "--manifest", str(root / "manifest.csv"), "--out", str(run), *tiny, "-q"]) == 0
    assert (run / "weights.json").exists()


def test_dnet_manifest_refuses_a_bad_folder_and_bad_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from difficultynet.cli import main

    root = write_classes(tmp_path / "p", {"a": 4, "b": 4})
    (root / "a" / "bad.jpg").write_bytes(b"nope")
    assert main(["manifest", str(root)]) == 2
    captured = capsys.readouterr()
    assert "'a/bad.jpg'" in captured.out and "no manifest written" in captured.err
    assert not (root / "manifest.csv").exists()
    assert main(["manifest", str(root), "--test-fraction", "2"]) == 2
    assert "test_fraction" in capsys.readouterr().err
