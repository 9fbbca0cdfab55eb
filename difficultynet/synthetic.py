"""Synthetic epoch records, for the tests and the benchmarks (no training needed). Torch-free.

* ``record_from_columns``: one record with the per-class columns given (accuracies, counts, names …);
* ``synthetic_records``: a whole fake long-tailed run, any class count, deterministic for a seed;
* ``synthetic_record``: epoch ``epoch`` of that run alone (the same record ``synthetic_records`` yields).

Class counts follow the usual exponential long-tail profile ``n_max · imbalance^(−i / (C − 1))``; per-class
accuracy rises over epochs and with class size, difficulty is ``1 − val acc`` and weights are ``C·d/Σd``,
so the figures look like a real run's. With ``explore`` (the default) each record also carries top
confusions and hardest examples whose rows follow a fake manifest laid out as the train rows, then
``SYNTHETIC_EVAL_PER_CLASS`` evaluation rows per class in class order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from difficultynet.contracts.api import ClassSummary, DatasetRead
from difficultynet.contracts.records import (
    CONFUSION_TOP_K,
    EXPLORE_DIGITS,
    HARDEST_K,
    ClassColumns,
    ClassConfusion,
    EpochRecord,
    HardExample,
    clean_float,
    group_of,
)
from difficultynet.diagnostics import dnet_diagnostics

GROUPS = ("many", "medium", "few")
SYNTHETIC_EVAL_PER_CLASS = 20


def synthetic_exploration(
    counts: Sequence[int], test_acc: Sequence[float], rng: np.random.Generator
) -> tuple[list[list[ClassConfusion]], list[list[HardExample]]]:
    """Plausible ``confusions`` and ``hardest`` columns: errors go mostly to head classes, and the hard
    images of a class are predicted as one of its confusions (vectorised: 1000 classes in milliseconds)."""
    n = len(counts)
    k = min(CONFUSION_TOP_K, n - 1)
    acc = np.asarray(test_acc, dtype=float)
    # k distinct confused classes per class, drawn without replacement ∝ train count (Gumbel top-k).
    keys = np.log(np.asarray(counts, dtype=float))[None, :] + rng.gumbel(size=(n, n))
    np.fill_diagonal(keys, -np.inf)
    top = np.argpartition(-keys, k - 1, axis=1)[:, :k] if k else np.zeros((n, 0), dtype=int)
    picked = np.take_along_axis(top, np.argsort(-np.take_along_axis(keys, top, axis=1), axis=1), axis=1)
    shares = -np.sort(-rng.dirichlet(np.ones(k + 1), size=n), axis=1)[:, :k]
    rates = np.round((1 - acc)[:, None] * shares, EXPLORE_DIGITS)
    confusions = [
        [ClassConfusion(p, r) for p, r in zip(p_row, r_row, strict=True)]
        for p_row, r_row in zip(picked.tolist(), rates.tolist(), strict=True)
    ]
    h = min(HARDEST_K, SYNTHETIC_EVAL_PER_CLASS)
    first_rows = sum(counts) + SYNTHETIC_EVAL_PER_CLASS * np.arange(n)
    rows = first_rows[:, None] + np.argsort(rng.random((n, SYNTHETIC_EVAL_PER_CLASS)), axis=1)[:, :h]
    true_prob = np.round(np.sort(rng.random((n, h)), axis=1) * np.minimum(1.0, 0.1 + acc)[:, None], 4)
    wrong = (true_prob < 0.5) & (k > 0)
    guess = picked[np.arange(n)[:, None], rng.integers(max(k, 1), size=(n, h))] if k else np.zeros((n, h))
    predicted = np.where(wrong, guess, np.arange(n)[:, None]).astype(int)
    low = np.maximum(true_prob, (1 - true_prob) / 2)
    predicted_prob = np.where(wrong, np.round(low + rng.random((n, h)) * (1 - true_prob - low), 4), true_prob)
    hardest = [
        [HardExample(*entry) for entry in zip(*columns, strict=True)]
        for columns in zip(
            rows.tolist(), true_prob.tolist(), predicted.tolist(), predicted_prob.tolist(), strict=True
        )
    ]
    return confusions, hardest


def long_tail_counts(num_classes: int, n_max: int = 500, imbalance: float = 100.0) -> list[int]:
    if num_classes == 1:
        return [n_max]
    ranks = np.arange(num_classes) / (num_classes - 1)
    return [max(1, int(n)) for n in n_max * imbalance ** (-ranks)]


def _mean(values: Sequence[float]) -> float | None:
    return clean_float(float(np.mean(values))) if len(values) else None


def record_from_columns(
    epoch: int,
    *,
    counts: Sequence[int],
    val_acc: Sequence[float],
    test_acc: Sequence[float] | None = None,
    difficulty: Sequence[float] | None = None,
    weight: Sequence[float] | None = None,
    names: Sequence[str] | None = None,
    run_id: str = "r",
    method: str = "dnet",
    epochs_total: int = 5,
    epoch_time_s: float = 2.5,
    **fields: Any,
) -> EpochRecord:
    """A record with these per-class columns; the rest follows from them unless given in ``fields``.

    Defaults: test acc = val acc, difficulty = 1 − val acc, weight = C·d/Σd, names ``c0, c1, …``, groups
    from the counts, top-1 and balanced accuracy = mean test acc, group accuracies = their classes' means.
    """
    n = len(counts)
    test = list(val_acc if test_acc is None else test_acc)
    difficulty = [1 - a for a in val_acc] if difficulty is None else list(difficulty)
    total = sum(difficulty) or 1.0
    groups = [group_of(c) for c in counts]
    by_group = {g: [a for a, gg in zip(test, groups, strict=True) if gg == g] for g in GROUPS}
    values: dict[str, Any] = {
        "run_id": run_id,
        "epoch": epoch,
        "epochs_total": epochs_total,
        "method": method,
        "elapsed_s": clean_float(epoch_time_s * epoch, 3),
        "epoch_time_s": epoch_time_s,
        "train_loss": clean_float(2.3 / epoch),
        "lr": 0.1,
        "top1": _mean(test),
        "balanced_acc": _mean(test),
        **{f"{g}_acc": _mean(by_group[g]) for g in GROUPS},
        "classes": ClassColumns(
            index=list(range(n)),
            name=list(names) if names is not None else [f"c{i}" for i in range(n)],
            train_count=list(counts),
            group=groups,
            difficulty=[clean_float(d, 4) for d in difficulty],
            weight=[clean_float(w, 4) for w in (weight or [n * d / total for d in difficulty])],
            val_acc=[clean_float(a, 4) for a in val_acc],
            test_acc=[clean_float(a, 4) for a in test],
        ),
    }
    return EpochRecord.model_validate(values | fields)


def synthetic_records(
    num_classes: int,
    epochs: int,
    *,
    epochs_total: int | None = None,
    run_id: str = "synthetic",
    method: str = "dnet",
    seed: int = 0,
    skill: float = 1.0,
    start_epoch: int = 1,
    epoch_time_s: float = 2.5,
    explore: bool = True,
) -> list[EpochRecord]:
    """``epochs`` records (epochs ``start_epoch`` …) of a fake run; ``skill`` scales every accuracy.

    ``explore``: also fill ``confusions`` and ``hardest`` (see :func:`synthetic_exploration`).

    Each epoch's noise is drawn from its own generator (``seed``, epoch), so a record does not depend on
    which other epochs were generated with it.
    """
    counts = long_tail_counts(num_classes)
    total = epochs_total or start_epoch + epochs - 1
    size_effect = np.log(np.asarray(counts, dtype=float)) / np.log(max(counts))
    names = [f"class_{i:04d}" for i in range(num_classes)]
    records = []
    for epoch in range(start_epoch, start_epoch + epochs):
        rng = np.random.default_rng([seed, epoch])
        progress = epoch / total
        base = np.clip(skill * (0.15 + 0.7 * progress * (0.4 + 0.6 * size_effect)), 0, 1)
        val_acc = np.clip(base + rng.normal(0, 0.03, num_classes), 0, 1)
        test_acc = np.clip(base + rng.normal(0, 0.03, num_classes), 0, 1)
        difficulty = np.clip(1 - val_acc, 1e-3, 1)
        weight = (num_classes * difficulty / difficulty.sum()).tolist()
        dnet = method.startswith("dnet")
        confusions, hardest = (
            synthetic_exploration(counts, test_acc.tolist(), rng) if explore else (None, None)
        )
        records.append(
            record_from_columns(
                epoch,
                counts=counts,
                val_acc=val_acc.tolist(),
                test_acc=test_acc.tolist(),
                difficulty=difficulty.tolist(),
                weight=weight,
                names=names,
                run_id=run_id,
                method=method,
                epochs_total=total,
                epoch_time_s=epoch_time_s,
                train_loss=clean_float(2.3 * (1 - 0.8 * progress)),
                top1=clean_float(float(np.average(test_acc, weights=counts))),
                driver_loss=0.01 if dnet else None,
                meta_loss=1.2 if dnet else None,
                dnet=dnet_diagnostics(
                    weight,
                    counts,
                    val_acc.tolist(),
                    meta_grad_norm=clean_float(2e-3 * (1 - 0.5 * progress)),
                    driver_grad_norm=clean_float(1e-3 * max(0.0, 1 - progress / 0.8)),
                )
                if dnet
                else None,
                confusions=confusions,
                hardest=hardest,
            )
        )
    return records


def synthetic_record(
    run_id: str, epoch: int, *, epochs_total: int = 5, num_classes: int = 10, seed: int = 0
) -> EpochRecord:
    """Epoch ``epoch`` of ``synthetic_records(num_classes, …)`` for run ``run_id``."""
    return synthetic_records(
        num_classes, 1, epochs_total=epochs_total, run_id=run_id, seed=seed, start_epoch=epoch
    )[0]


def synthetic_dataset(
    counts: Mapping[str, int],
    *,
    dataset_id: str = "0" * 16,
    name: str = "mini.csv",
    val: int = 5,
    test: int = 10,
    created_at: datetime = datetime(2026, 11, 23, 12, tzinfo=UTC),
) -> DatasetRead:
    """The API's answer for a dataset with these training counts per class (``val``/``test`` images per
    class), as ``GET /api/datasets/{id}`` would send it."""
    classes = [
        ClassSummary(index=i, name=label, train=count, val=val, test=test, group=group_of(count))
        for i, (label, count) in enumerate(counts.items())
    ]
    train = list(counts.values())
    return DatasetRead(
        id=dataset_id,
        name=name,
        kind="csv",
        created_at=created_at,
        manifest_sha256=dataset_id.rjust(64, "0"),
        num_rows=sum(train) + (val + test) * len(train),
        num_classes=len(train),
        classes=classes,
        split_counts={"train": sum(train), "val": val * len(train), "test": test * len(train)},
        imbalance_factor=max(train) / min(train) if train else None,
        group_counts={group: sum(c.group == group for c in classes) for group in GROUPS},
        meta_source="val",
        eval_split="test",
        notes=[],
    )
