"""The C allocator setting of a training process: large blocks get their own mapping, returned when freed.

On CPU, PyTorch takes tensor memory from malloc. glibc serves blocks above its mmap threshold (128 KiB at
start) with their own ``mmap`` and unmaps them when freed, but it raises that threshold to the size of every
such block freed (up to 32 MiB). After the first training step almost every activation of a 128-image batch
therefore comes from the heap, and the holes those leave when freed are too fragmented for the next step's
differently-sized blocks: the heap grows and stays resident. A Difficulty-Net run on 2074 photos at 64 px
peaked 210 MiB higher at its second meta-feature refresh (step 11) than at its first (step 1), which made the
real-photo benchmark's peak RSS exceed "baseline + 2 × the image cache". With the threshold pinned, both
refreshes peak alike and RSS falls back between steps (``benchmarks/results/real-photos-notes.md``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

logger = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # mallopt parameter number (malloc.h); setting it also turns the dynamic raise off
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's own starting value, kept for the whole run


def pin_mmap_threshold(threshold_bytes: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Fix glibc's mmap threshold at ``threshold_bytes`` for this process; False where there is no glibc
    ``mallopt`` (macOS, musl) or it refused. Affects later allocations only, so call it before training."""
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    applied = mallopt(M_MMAP_THRESHOLD, threshold_bytes) == 1
    if not applied:
        logger.debug("mallopt(M_MMAP_THRESHOLD, %d) was refused", threshold_bytes)
    return applied
