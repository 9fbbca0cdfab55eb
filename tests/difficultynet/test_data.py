"""Decoded tensor cache, image conversions, on-device augmentation and seeded batch streams."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from difficultynet.data import cache
from difficultynet.data.augment import augment, channel_stats, crop_flip, normalize, random_resized_crop
from difficultynet.data.batches import EpochBatches, MetaBatches, batch_indices, seeded_generator
from difficultynet.data.cache import load_images
from difficultynet.data.splits import load_splits
from difficultynet.errors import RunCancelled
from difficultynet.manifest import (
    DEFAULT_OPTIONS,
    Manifest,
    ManifestInvalid,
    ValidationOptions,
    load_manifest,
)
from difficultynet.progress import PrepareProgress

WritePng = Callable[..., Path]
DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")),
]


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def manifest_for(
    root: Path, rows: list[tuple[str, str, str]], options: ValidationOptions = DEFAULT_OPTIONS
) -> Manifest:
    body = "path,label,split\n" + "".join(f"{p},{label},{split}\n" for p, label, split in rows)
    (root / "m.csv").write_text(body)
    return load_manifest(root / "m.csv", options=options)


@pytest.fixture
def small_manifest(image_root: Path) -> Manifest:
    rows = [(f"{label}/{i}.png", label, "train") for label in "ab" for i in range(3)]
    rows += [("a/3.png", "a", "test"), ("b/3.png", "b", "test")]
    return manifest_for(image_root, rows)


# ------------------------------------------------------------------------------------------ decoding


def test_rgb_image_of_the_right_size_is_not_resampled(image_root: Path) -> None:
    decoded = cache.decode_image(image_root / "a" / "1.png", image_size=8, channels=3)
    expected = np.asarray(Image.open(image_root / "a" / "1.png")).transpose(2, 0, 1)
    assert decoded.dtype == np.uint8 and decoded.shape == (3, 8, 8)
    assert np.array_equal(decoded, expected)


def test_grayscale_to_three_channels_repeats_the_plane(tmp_path: Path, write_png: WritePng) -> None:
    path = write_png(tmp_path / "g.png", mode="L", value=5)
    decoded = cache.decode_image(path, image_size=8, channels=3)
    plane = np.asarray(Image.open(path))
    assert all(np.array_equal(decoded[c], plane) for c in range(3))


def test_rgba_and_palette_are_converted(tmp_path: Path, write_png: WritePng) -> None:
    rgba = write_png(tmp_path / "rgba.png", mode="RGBA", value=9)
    decoded = cache.decode_image(rgba, image_size=8, channels=3)
    assert np.array_equal(decoded, np.asarray(Image.open(rgba))[..., :3].transpose(2, 0, 1))
    palette = write_png(tmp_path / "p.png", mode="P", value=3)
    assert Image.open(palette).mode == "P"
    expected = np.asarray(Image.open(palette).convert("RGB")).transpose(2, 0, 1)
    assert np.array_equal(cache.decode_image(palette, image_size=8, channels=3), expected)


def test_rgb_to_one_channel_uses_luma(image_root: Path) -> None:
    path = image_root / "b" / "2.png"
    decoded = cache.decode_image(path, image_size=8, channels=1)
    assert decoded.shape == (1, 8, 8)
    assert np.array_equal(decoded[0], np.asarray(Image.open(path).convert("L")))


def test_size_mismatch_is_resized_bilinear(tmp_path: Path, write_png: WritePng) -> None:
    path = write_png(tmp_path / "big.png", size=20)
    decoded = cache.decode_image(path, image_size=8, channels=3)
    expected = np.asarray(Image.open(path).convert("RGB").resize((8, 8), Image.Resampling.BILINEAR))
    assert np.array_equal(decoded, expected.transpose(2, 0, 1))


def test_aspect_ratio_is_kept_by_a_centre_crop(tmp_path: Path) -> None:
    # 40×20: red left and right quarters, a blue centre square. Squashing would keep the red; the
    # shorter-side resize + centre crop keeps only the blue square.
    array = np.zeros((20, 40, 3), dtype=np.uint8)
    array[:, :10] = array[:, 30:] = (255, 0, 0)
    array[:, 10:30] = (0, 0, 255)
    Image.fromarray(array).save(tmp_path / "wide.png")
    Image.fromarray(array.transpose(1, 0, 2).copy()).save(tmp_path / "tall.png")
    for name in ("wide.png", "tall.png"):
        decoded = cache.decode_image(tmp_path / name, image_size=8, channels=3)
        assert decoded.shape == (3, 8, 8)
        assert (decoded[2] == 255).all() and (decoded[0] == 0).all(), name


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    array = np.zeros((8, 16, 3), dtype=np.uint8)
    array[:, :8] = (255, 255, 255)  # white left half
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    Image.fromarray(array).save(tmp_path / "rotated.png", exif=exif)
    decoded = cache.decode_image(tmp_path / "rotated.png", image_size=8, channels=1)
    # displayed upright it is 8 wide and 16 tall with white on top; the centre crop straddles both halves
    assert decoded[0, 0].min() == 255 and decoded[0, -1].max() == 0


def test_undecodable_image_raises_manifest_invalid_with_its_line(image_root: Path) -> None:
    (image_root / "b" / "1.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    rows = [(f"{label}/{i}.png", label, "train") for label in "ab" for i in range(3)]
    manifest = manifest_for(image_root, rows, ValidationOptions(check_images=False))
    with pytest.raises(ManifestInvalid) as info:
        load_images(manifest, image_size=8, channels=3)
    assert [(e.row, e.column) for e in info.value.report.errors] == [(6, "path")]
    assert not info.value.report.ok
    reason = info.value.report.errors[0].reason  # plain words: no server path, no exception class name
    assert reason.startswith("image cannot be decoded: ") and str(image_root) not in reason
    assert "Error" not in reason


def test_threaded_decode_equals_serial(small_manifest: Manifest) -> None:
    serial = load_images(small_manifest, image_size=8, channels=3, num_workers=1)
    threaded = load_images(small_manifest, image_size=8, channels=3, num_workers=3)
    assert np.array_equal(serial, threaded)


# ------------------------------------------------------------------------------------------ on-disk cache


def test_cache_round_trip_equals_fresh_decode(
    small_manifest: Manifest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = load_images(small_manifest, image_size=8, channels=3)
    cache_dir = tmp_path / "cache"
    first = load_images(small_manifest, image_size=8, channels=3, cache_dir=cache_dir)
    files = list(cache_dir.iterdir())
    assert len(files) == 1 and files[0].suffix == ".npy"

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cache hit must not decode")

    monkeypatch.setattr(cache, "decode_images", no_decoding)
    second = load_images(small_manifest, image_size=8, channels=3, cache_dir=cache_dir)
    assert isinstance(second, np.memmap)
    assert np.array_equal(fresh, first) and np.array_equal(fresh, second)


def test_cache_is_keyed_by_size_channels_and_file_contents(
    small_manifest: Manifest, tmp_path: Path, write_png: WritePng
) -> None:
    cache_dir = tmp_path / "cache"
    load_images(small_manifest, image_size=8, channels=3, cache_dir=cache_dir)
    load_images(small_manifest, image_size=4, channels=3, cache_dir=cache_dir)
    load_images(small_manifest, image_size=8, channels=1, cache_dir=cache_dir)
    assert len(list(cache_dir.iterdir())) == 3
    # an edited image (new content, new mtime) must not be served from the cache
    edited = small_manifest.paths[0]
    write_png(edited, value=77)
    os.utime(edited, ns=(1, 1))
    reloaded = load_images(small_manifest, image_size=8, channels=3, cache_dir=cache_dir)
    assert np.array_equal(reloaded[0], cache.decode_image(edited, 8, 3))
    assert len(list(cache_dir.iterdir())) == 4


def test_corrupt_cache_file_is_rebuilt(small_manifest: Manifest, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    # a copy: the first call already returns the memory-mapped file, which is overwritten below
    expected = np.array(load_images(small_manifest, image_size=8, channels=3, cache_dir=cache_dir))
    (cache_file,) = cache_dir.iterdir()
    cache_file.write_bytes(b"truncated")
    assert np.array_equal(
        load_images(small_manifest, image_size=8, channels=3, cache_dir=cache_dir), expected
    )
    assert np.array_equal(np.load(cache_file), expected)
    assert [p.name for p in cache_dir.iterdir()] == [cache_file.name]  # no temp files left behind


def test_cache_key_covers_the_resize_rule(small_manifest: Manifest, monkeypatch: pytest.MonkeyPatch) -> None:
    key = cache.cache_key(small_manifest, 8, 3)
    monkeypatch.setattr(cache, "RESIZE_RULE", "squash")
    assert cache.cache_key(small_manifest, 8, 3) != key


def test_progress_reports_a_miss_then_a_hit(small_manifest: Manifest, tmp_path: Path) -> None:
    reports: list[PrepareProgress] = []
    load_images(small_manifest, image_size=8, channels=3, cache_dir=tmp_path, on_progress=reports.append)
    assert reports[0].done == 0 and reports[-1].done == reports[-1].total == len(small_manifest)
    assert {r.cache for r in reports} == {"miss"} and reports[-1].finished
    reports.clear()
    load_images(small_manifest, image_size=8, channels=3, cache_dir=tmp_path, on_progress=reports.append)
    assert [(r.done, r.total, r.cache) for r in reports] == [(8, 8, "hit")]


def test_cancel_while_decoding_leaves_no_cache_file(
    image_root: Path, tmp_path: Path, write_png: WritePng
) -> None:
    for label in "ab":
        for i in range(cache.CHUNK * 2):
            write_png(image_root / label / f"many{i}.png", value=i)
    rows = [(f"{label}/many{i}.png", label, "train") for label in "ab" for i in range(cache.CHUNK * 2)]
    manifest = manifest_for(image_root, rows)
    reports: list[PrepareProgress] = []
    with pytest.raises(RunCancelled, match="while preparing the data"):
        load_images(
            manifest, image_size=8, channels=3, cache_dir=tmp_path / "cache", num_workers=1,
            on_progress=reports.append, should_stop=lambda: bool(reports and reports[-1].done > 0),
        )  # fmt: skip
    assert reports[-1].done < len(manifest)
    assert list((tmp_path / "cache").iterdir()) == []  # the temporary file is gone, nothing cached


def test_a_cache_that_cannot_fit_the_disk_is_refused_before_decoding(
    small_manifest: Manifest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = cache.shutil.disk_usage
    monkeypatch.setattr(cache.shutil, "disk_usage", lambda path: real(path)._replace(free=100))
    reports: list[PrepareProgress] = []
    with pytest.raises(cache.CacheTooLarge) as info:
        load_images(small_manifest, image_size=8, channels=3, cache_dir=tmp_path, on_progress=reports.append)
    message = str(info.value)
    assert message.startswith("the decoded images need 2 KiB of disk for the image cache (8 images of 3×8×8)")
    assert "lower image_size" in message and str(tmp_path) not in message
    assert reports == []


# ------------------------------------------------------------------------------------------ splits


def test_load_splits_tensors_and_counts(small_manifest: Manifest) -> None:
    splits = load_splits(small_manifest, image_size=8, channels=3, seed=1)
    images = load_images(small_manifest, image_size=8, channels=3)
    # no val rows: min(10, 3 // 2) = 1 image per class carved into the meta set
    assert splits.meta_source == "carved" and splits.meta_counts == [1, 1]
    assert splits.train_counts == [2, 2] and splits.eval_split == "test"
    assert splits.train_x.shape == (4, 3, 8, 8) and splits.train_x.dtype == torch.uint8
    assert splits.train_y.dtype == torch.int64
    assert sorted(splits.meta_y.tolist()) == [0, 1] and splits.eval_y.tolist() == [0, 1]
    assert torch.equal(splits.eval_x, torch.from_numpy(images[[6, 7]]))
    every_train_row = {tuple(img.flatten().tolist()) for img in images[:6]}
    used = {tuple(img.flatten().tolist()) for img in torch.cat([splits.train_x, splits.meta_x]).numpy()}
    assert used == every_train_row
    assert splits.dataset_sha256 == small_manifest.sha256 and splits.class_names == ("a", "b")
    pixels = splits.train_x.double() / 255
    assert torch.allclose(splits.mean.double(), pixels.mean(dim=(0, 2, 3)), atol=1e-6)
    assert torch.allclose(splits.std.double(), pixels.std(dim=(0, 2, 3), unbiased=False), atol=1e-6)


def test_load_splits_on_the_mini_manifest(mini_manifest: Path, tmp_path: Path) -> None:
    manifest = load_manifest(mini_manifest)
    report = manifest.report
    splits = load_splits(manifest, image_size=32, channels=3, cache_dir=tmp_path)
    assert splits.train_counts == [c.train for c in report.classes]
    assert splits.meta_counts == [c.val for c in report.classes]
    assert splits.eval_x.shape == (report.split_counts["test"], 3, 32, 32)
    assert torch.bincount(splits.eval_y).tolist() == [c.test for c in report.classes]
    cached = load_splits(manifest, image_size=32, channels=3, cache_dir=tmp_path)
    assert torch.equal(cached.train_x, splits.train_x) and torch.equal(cached.meta_x, splits.meta_x)


# ------------------------------------------------------------------------------------------ augmentation


@pytest.mark.parametrize("device", DEVICES)
def test_crop_with_known_offset_is_the_expected_slice(device: str) -> None:
    x = torch.randint(0, 256, (3, 2, 6, 5), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    x = x.to(device)
    offsets = torch.tensor([[0, 0], [4, 4], [2, 8]], device=device)
    flips = torch.tensor([False, False, True], device=device)
    out = crop_flip(x, offsets, flips, padding=4)
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    assert out.shape == x.shape and out.dtype == torch.uint8
    assert torch.equal(out[0], padded[0, :, 0:6, 0:5])
    assert torch.equal(out[0, :, :4], torch.zeros_like(out[0, :, :4]))  # zero padding shows up
    assert torch.equal(out[1], x[1])  # centred window, no flip: identity
    assert torch.equal(out[2], padded[2, :, 2:8, 8:13].flip(-1))


@pytest.mark.parametrize("device", DEVICES)
def test_augment_is_deterministic_per_generator(device: str) -> None:
    x = torch.randint(0, 256, (64, 3, 8, 8), dtype=torch.uint8, device=device)
    first = augment(x, seeded_generator(5, "augment", 1, device=device))
    again = augment(x, seeded_generator(5, "augment", 1, device=device))
    other = augment(x, seeded_generator(5, "augment", 2, device=device))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert first.device == x.device and first.dtype == torch.uint8


def test_augment_draws_every_offset_and_both_flips() -> None:
    x = (torch.arange(8 * 8).reshape(1, 1, 8, 8) + 1).to(torch.uint8).repeat(1500, 1, 1, 1)
    out = augment(x, seeded_generator(0, "augment", device="cpu"))
    padded = torch.nn.functional.pad(x[0], (4, 4, 4, 4))
    keys = [(dy, dx, flip) for dy in range(9) for dx in range(9) for flip in (False, True)]
    windows = torch.stack(
        [padded[:, dy : dy + 8, dx : dx + 8].flip(-1) if flip else padded[:, dy : dy + 8, dx : dx + 8]
         for dy, dx, flip in keys]
    )  # fmt: skip
    matches = (out[:, None] == windows[None]).flatten(2).all(dim=2)  # (B, windows)
    assert torch.equal(matches.sum(dim=1), torch.ones(len(out), dtype=torch.int64))  # exactly one window each
    seen = [keys[i] for i in matches.int().argmax(dim=1).tolist()]
    assert {key[:2] for key in seen} == {(dy, dx) for dy in range(9) for dx in range(9)}
    assert 0.45 < sum(key[2] for key in seen) / len(seen) < 0.55


@pytest.mark.parametrize("device", DEVICES)
def test_random_resized_crop_of_the_whole_image_is_the_image_or_its_mirror(device: str) -> None:
    x = torch.randint(0, 256, (64, 3, 12, 12), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    x = x.to(device)
    out = random_resized_crop(x, seeded_generator(0, "augment", device=device), scale=(1, 1), ratio=(1, 1))
    assert out.shape == x.shape and out.dtype == torch.float32
    same = (out - x.float()).abs().amax(dim=(1, 2, 3)) < 1e-3
    mirrored = (out - x.flip(-1).float()).abs().amax(dim=(1, 2, 3)) < 1e-3
    assert bool((same | mirrored).all()) and 10 < int(mirrored.sum()) < 54


@pytest.mark.parametrize("device", DEVICES)
def test_random_resized_crop_is_seeded_and_zooms_in(device: str) -> None:
    # a horizontal ramp (column c has value 8c): a square crop of a quarter of the area spans half the
    # ramp, wherever it lies, mirrored or not
    ramp = (torch.arange(32, device=device) * 8).to(torch.uint8)
    x = ramp.expand(128, 1, 32, 32).contiguous()
    generator = seeded_generator(3, "augment", device=device)
    first = random_resized_crop(x, generator, scale=(0.25, 0.25), ratio=(1, 1))
    again = random_resized_crop(
        x, seeded_generator(3, "augment", device=device), scale=(0.25, 0.25), ratio=(1, 1)
    )
    assert torch.equal(first, again)
    span = (first[:, 0, :, -1] - first[:, 0, :, 0]).abs()  # (B, rows): right edge minus left edge
    # (within 2: at the image edge the outer half pixel is clamped to the edge pixel)
    assert torch.allclose(span, torch.full_like(span, 8 * 15.5), atol=2.0)
    assert len({round(float(v)) for v in first[:, 0, 0, 0]}) > 20  # the crop's position varies
    shift = random_resized_crop(x, generator, scale=(0.25, 0.25), ratio=(1, 1))
    assert not torch.equal(first, shift)


def test_normalize_and_channel_stats() -> None:
    x = torch.randint(0, 256, (10, 3, 4, 4), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    mean, std = channel_stats(x)
    out = normalize(x, mean, std)
    assert out.dtype == torch.float32
    assert torch.allclose(out.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(out.std(dim=(0, 2, 3), unbiased=False), torch.ones(3), atol=1e-5)
    constant = torch.full((2, 1, 3, 3), 7, dtype=torch.uint8)
    assert channel_stats(constant)[1].tolist() == [1.0]  # no division by zero


# ------------------------------------------------------------------------------------------ batch orders


def test_batch_indices_is_a_seeded_permutation() -> None:
    batches = batch_indices(10, 4, torch.Generator().manual_seed(0))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(torch.cat(batches).tolist()) == list(range(10))
    assert [len(b) for b in batch_indices(10, 4, torch.Generator(), drop_last=True)] == [4, 4]
    assert [len(b) for b in batch_indices(3, 4, torch.Generator(), drop_last=True)] == [3]  # never empty
    again = batch_indices(10, 4, torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(batches, again, strict=True))


def test_epoch_batches_depend_only_on_seed_and_epoch() -> None:
    batches = EpochBatches(50, 16, seed=3)
    assert len(batches) == 4 and len(EpochBatches(50, 16, seed=3, drop_last=True)) == 3
    first = torch.cat(batches.epoch(1))
    assert torch.equal(first, torch.cat(EpochBatches(50, 16, seed=3).epoch(1)))
    assert not torch.equal(first, torch.cat(batches.epoch(2)))
    assert sorted(first.tolist()) == list(range(50))


def test_meta_batches_cycle_and_reshuffle_each_pass() -> None:
    stream = MetaBatches(25, 10, seed=0)
    batches = [next(stream) for _ in range(6)]
    assert [len(b) for b in batches] == [10, 10, 5, 10, 10, 5]
    first_pass, second_pass = torch.cat(batches[:3]), torch.cat(batches[3:])
    assert sorted(first_pass.tolist()) == sorted(second_pass.tolist()) == list(range(25))
    assert not torch.equal(first_pass, second_pass)


def test_meta_batches_resume_exactly_from_state() -> None:
    stream = MetaBatches(25, 10, seed=4)
    for _ in range(4):
        next(stream)
    state = stream.state_dict()
    expected = [next(stream) for _ in range(5)]
    resumed = MetaBatches(25, 10, seed=4)
    resumed.load_state_dict(state)
    assert all(torch.equal(a, b) for a, b in zip(expected, [next(resumed) for _ in range(5)], strict=True))
    with pytest.raises(ValueError, match="meta batch state"):
        MetaBatches(25, 10, seed=5).load_state_dict(state)


@pytest.mark.parametrize("device", DEVICES)
def test_batches_live_on_the_data_device(device: str) -> None:
    assert next(MetaBatches(5, 2, seed=0, device=device)).device.type == device
    assert EpochBatches(5, 2, seed=0, device=device).epoch(0)[0].device.type == device
