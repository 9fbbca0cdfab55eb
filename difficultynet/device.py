"""Device selection and mixed precision. CUDA is only touched when a run asks for it (never at import)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from difficultynet.errors import DnetError


def resolve_device(spec: str) -> torch.device:
    """``auto`` → first CUDA device when available, else CPU; explicit ``cuda[:i]`` must exist."""
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if not torch.cuda.is_available():
        raise DnetError(f"device {spec!r} requested but CUDA is not available on this machine")
    device = torch.device(spec)
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise DnetError(f"device {spec!r} does not exist: {torch.cuda.device_count()} CUDA device(s) visible")
    return device


def amp_dtype(device: torch.device, enabled: bool) -> torch.dtype | None:
    """bf16 where the GPU supports it (no loss scaling needed), else fp16; None = full precision."""
    if not enabled or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


@contextlib.contextmanager
def autocast(device: torch.device, dtype: torch.dtype | None) -> Iterator[None]:
    if dtype is None:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"
