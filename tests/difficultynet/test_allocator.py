"""Pinning glibc's mmap threshold stops freed training-size blocks from staying resident in the heap."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")

# A first step frees a big mmapped block (glibc then raises its threshold to that size); the next steps
# allocate blocks just below it, and free all of them but the newest: what stays resident is the heap's.
FREED_BLOCKS_RESIDENT = """
import os, sys
import numpy as np
from difficultynet.allocator import pin_mmap_threshold

def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

if sys.argv[1] == "pinned":
    assert pin_mmap_threshold()
elif sys.argv[1] == "after-fit":  # a short real training run, which pins it itself
    from difficultynet.contracts.config import TrainConfig
    from difficultynet.manifest import load_manifest
    from difficultynet.train import fit

    config = TrainConfig(method="ce", image_size=8, channels=1, epochs=1, device="cpu", num_threads=1)
    fit(config, load_manifest(sys.argv[2]), run_id="allocator")
first_step = np.ones(16 * 2**20, np.uint8)
del first_step
before = rss()
blocks = [np.ones(4 * 2**20, np.uint8) for _ in range(50)]
newest = blocks[-1]
del blocks
print((rss() - before) // 2**20)
"""


def resident_after_free_mib(*args: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", FREED_BLOCKS_RESIDENT, *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


def test_freed_blocks_go_back_to_the_os_once_the_threshold_is_pinned() -> None:
    assert resident_after_free_mib("default") > 150  # glibc's dynamic threshold: 196 MiB freed, kept
    assert resident_after_free_mib("pinned") < 20  # only the newest block (4 MiB) is still held


def test_training_pins_it(demo_manifest: Path) -> None:
    """``fit`` pins it: a worker's training child and ``dnet train`` both go through it."""
    assert resident_after_free_mib("after-fit", str(demo_manifest)) < 20
