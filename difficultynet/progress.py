"""Progress of a run's data preparation (decoding every image into the uint8 cache). Torch-free: the
worker writes it to the run hash and the API reads it back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

CacheOutcome = Literal["hit", "miss", "none"]  # none: no cache directory, decoded in memory only


@dataclass(frozen=True)
class PrepareProgress:
    """``done`` of ``total`` images decoded after ``elapsed_s``; a cache hit is reported once, complete."""

    done: int
    total: int
    elapsed_s: float
    cache: CacheOutcome

    @property
    def finished(self) -> bool:
        return self.done >= self.total

    @property
    def rate(self) -> float | None:
        """Images per second so far (None before any image or any time has passed)."""
        return self.done / self.elapsed_s if self.done and self.elapsed_s > 0 else None

    @property
    def eta_s(self) -> float | None:
        rate = self.rate
        return None if rate is None else (self.total - self.done) / rate


PrepareReporter = Callable[[PrepareProgress], None]
StopCheck = Callable[[], bool]
