"""Seeded batch orders on the data's device: per-epoch permutations and the cycling meta-batch stream.

Every random stream is derived from ``(seed, name, counter)`` rather than from a long-lived generator, so
the state to checkpoint is a couple of integers and a resumed run draws exactly the same batches.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor


def derive_seed(seed: int, *keys: str | int) -> int:
    """A stable 63-bit seed for the stream ``keys`` of ``seed`` (independent of PYTHONHASHSEED)."""
    text = "/".join(str(part) for part in (seed, *keys))
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big") >> 1


def seeded_generator(seed: int, *keys: str | int, device: torch.device | str = "cpu") -> torch.Generator:
    """A fresh generator on ``device`` seeded with :func:`derive_seed` (e.g. ``(seed, "augment", epoch)``)."""
    generator = torch.Generator(device=device)
    generator.manual_seed(derive_seed(seed, *keys))
    return generator


def batch_indices(
    n: int, batch_size: int, generator: torch.Generator, *, drop_last: bool = False
) -> list[Tensor]:
    """A random permutation of ``range(n)`` on the generator's device, split into batches.

    ``drop_last`` drops an incomplete final batch unless that would leave no batch at all.
    """
    if n < 1 or batch_size < 1:
        raise ValueError(f"need n >= 1 and batch_size >= 1 (got n={n}, batch_size={batch_size})")
    order = torch.randperm(n, generator=generator, device=generator.device)
    batches = list(order.split(batch_size))
    if drop_last and len(batches) > 1 and batches[-1].numel() < batch_size:
        batches.pop()
    return batches


class EpochBatches:
    """Training batch orders: epoch ``e`` is a permutation drawn from ``(seed, "epoch", e)`` alone."""

    def __init__(
        self,
        n: int,
        batch_size: int,
        *,
        seed: int,
        device: torch.device | str = "cpu",
        drop_last: bool = False,
    ) -> None:
        self.n, self.batch_size, self.seed, self.device, self.drop_last = (
            n,
            batch_size,
            seed,
            device,
            drop_last,
        )

    def epoch(self, epoch: int) -> list[Tensor]:
        generator = seeded_generator(self.seed, "epoch", epoch, device=self.device)
        return batch_indices(self.n, self.batch_size, generator, drop_last=self.drop_last)

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full + (1 if rest and (not self.drop_last or full == 0) else 0)


class MetaBatches(Iterator[Tensor]):
    """Endless index batches over the meta set: each pass is a fresh permutation, the last batch of a pass
    may be short (like a re-created DataLoader, spec §1.7). The state is ``(pass, position)``."""

    def __init__(self, n: int, batch_size: int, *, seed: int, device: torch.device | str = "cpu") -> None:
        if n < 1 or batch_size < 1:
            raise ValueError(f"need n >= 1 and batch_size >= 1 (got n={n}, batch_size={batch_size})")
        self.n, self.batch_size, self.seed, self.device = n, batch_size, seed, device
        self.pass_index = 0
        self.position = 0
        self._order: Tensor | None = None

    def _current_order(self) -> Tensor:
        if self._order is None:
            generator = seeded_generator(self.seed, "meta", self.pass_index, device=self.device)
            self._order = torch.randperm(self.n, generator=generator, device=generator.device)
        return self._order

    def __next__(self) -> Tensor:
        if self.position >= self.n:
            self.pass_index, self.position, self._order = self.pass_index + 1, 0, None
        batch = self._current_order()[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return batch

    def state_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "batch_size": self.batch_size,
            "seed": self.seed,
            "pass": self.pass_index,
            "position": self.position,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        mine = (self.n, self.batch_size, self.seed)
        theirs = (state["n"], state["batch_size"], state["seed"])
        if mine != theirs:
            raise ValueError(f"meta batch state is for (n, batch_size, seed)={theirs}, not {mine}")
        self.pass_index, self.position, self._order = int(state["pass"]), int(state["position"]), None


class ClassBalancedBatches:
    """Meta batches with the same number of images from every class (``batch_size // C``, at least one).

    Batch ``k`` is drawn from ``(seed, "meta-balanced", k)`` alone, so there is no state to checkpoint.
    Classes with fewer images than the per-class quota contribute all of theirs.
    """

    def __init__(self, labels: Tensor, batch_size: int, *, seed: int) -> None:
        if labels.numel() < 1 or batch_size < 1:
            raise ValueError("need at least one labelled image and batch_size >= 1")
        self.seed = seed
        self.members = self._members(labels)
        self.per_class = max(1, batch_size // len(self.members))

    @staticmethod
    def _members(labels: Tensor) -> list[Tensor]:
        order = torch.argsort(labels, stable=True)
        counts = torch.bincount(labels).tolist()
        return [group for group in order.split(counts) if group.numel()]

    def batch(self, index: int) -> Tensor:
        generator = seeded_generator(self.seed, "meta-balanced", index)
        picks = [
            group[torch.randperm(group.numel(), generator=generator)[: self.per_class].to(group.device)]
            for group in self.members
        ]
        return torch.cat(picks)
