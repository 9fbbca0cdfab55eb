"""The training loop shared by every method: one epoch at a time, with its complete resumable state.

Hot loop rules: the data stays a uint8 tensor on the training device (augmented there), and losses are
accumulated on the device, so the only host syncs are the end-of-epoch evaluation and record.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from difficultynet.contracts.config import TrainConfig
from difficultynet.contracts.records import (
    CONFUSION_TOP_K,
    HARDEST_K,
    ClassColumns,
    EpochRecord,
    clean_float,
    group_of,
)
from difficultynet.data.augment import augment, random_resized_crop
from difficultynet.data.batches import ClassBalancedBatches, EpochBatches, MetaBatches, seeded_generator
from difficultynet.data.splits import TensorSplits
from difficultynet.device import amp_dtype, autocast
from difficultynet.diagnostics import dnet_diagnostics
from difficultynet.errors import RunCancelled
from difficultynet.losses import LossRule
from difficultynet.meta import DifficultyNetLearner, MetaStats, MetaStepPlan, commit_buffers
from difficultynet.metrics import EvalPass, eval_batch_size, evaluation_pass, explore_classes
from difficultynet.models import FeatureClassifier, create_model
from difficultynet.models.torchvision_resnets import BackboneState
from difficultynet.schedule import LR_DROP_FRACTION, deferred_start_epoch, make_scheduler

logger = logging.getLogger(__name__)

StopCheck = Callable[[], bool]


@dataclass(frozen=True)
class StepOutcome:
    loss: torch.Tensor  # detached, still on the device
    stats: MetaStats | None
    lr: float


class _EpochTotals:
    """Per-epoch sums kept as device tensors (no ``.item()`` per step)."""

    def __init__(self, device: torch.device) -> None:
        zero = torch.zeros((), device=device)
        self.loss, self.driver, self.meta = zero.clone(), zero.clone(), zero.clone()
        self.meta_grad_norm, self.driver_grad_norm = zero.clone(), zero.clone()
        self.steps = self.meta_updates = self.meta_ce_updates = 0

    def add(self, outcome: StepOutcome) -> None:
        self.loss += outcome.loss
        self.steps += 1
        if outcome.stats is not None:
            self.driver += outcome.stats.driver_loss
            self.meta_grad_norm += outcome.stats.meta_grad_norm
            self.driver_grad_norm += outcome.stats.driver_grad_norm
            self.meta_updates += 1
            if outcome.stats.meta_loss is not None:
                self.meta += outcome.stats.meta_loss
                self.meta_ce_updates += 1

    def mean_or_none(self, total: torch.Tensor, count: int) -> float | None:
        return clean_float(total.item() / count) if count else None


class Trainer:
    """Model, optimiser, schedule, optional Difficulty-Net and the epoch counter of one run."""

    def __init__(
        self,
        config: TrainConfig,
        splits: TensorSplits,
        device: torch.device,
        run_id: str,
        backbone_state: BackboneState | None = None,
    ) -> None:
        """``backbone_state``: a torchvision state dict to start the backbone from (pretrained weights)."""
        self.config = config
        self.splits = splits.to(device)
        self.device = device
        self.run_id = run_id
        self.num_classes = splits.num_classes
        self.rule = LossRule(config, torch.tensor(splits.train_counts, device=device))
        self.batch_loss = self.rule.batch_loss()
        self.groups = [group_of(n) for n in splits.train_counts]
        with torch.random.fork_rng(devices=[]):  # seeded init without disturbing the caller's global RNG
            torch.manual_seed(config.seed)
            self.model: FeatureClassifier = create_model(
                config.model,
                self.num_classes,
                splits.channels,
                splits.image_size,
                cosine_head=self.rule.uses_cosine_head,
                backbone_state=backbone_state,
            ).to(device)
            self.learner = (
                DifficultyNetLearner(self.num_classes, config.dnet, device) if config.is_dnet else None
            )
        self.channels_last = device.type == "cuda"
        self.eval_batch_size = eval_batch_size(splits.image_size, config.batch_size)
        if self.channels_last:  # NHWC convolutions and autotuned kernels: the fast path on GPUs
            self.model = self.model.to(memory_format=torch.channels_last)
            torch.backends.cudnn.benchmark = True
        self.optimizer = torch.optim.SGD(
            self._param_groups(),
            lr=config.lr,
            momentum=config.momentum,
            weight_decay=config.weight_decay,
            foreach=device.type == "cuda",
        )
        self.batches = EpochBatches(
            len(self.splits.train_y), config.batch_size, seed=config.seed, device=device
        )
        self.steps_per_epoch = len(self.batches)
        self.scheduler = make_scheduler(self.optimizer, self.steps_per_epoch, config)
        self.amp_dtype = amp_dtype(device, config.amp)
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.amp_dtype == torch.float16)
        self.meta_batches = MetaBatches(
            len(self.splits.meta_y), config.dnet.meta_batch_size, seed=config.seed, device=device
        )
        self.balanced_meta_batches = ClassBalancedBatches(
            self.splits.meta_y, config.dnet.meta_batch_size, seed=config.seed
        )
        self.total_steps = config.epochs * self.steps_per_epoch
        self.epoch = 0  # completed epochs
        self.global_step = 0
        self.elapsed_s = 0.0
        self.prev_val_acc: torch.Tensor | None = None  # a of the last finished epoch (CDB's input)
        self.records: list[EpochRecord] = []
        # Each record serialised once: every checkpoint and metrics.jsonl rewrite reuses the text (a
        # 1000-class record with its confusions and hardest examples is ~330 kB of JSON).
        self.records_json: list[str] = []
        self.weights_input = torch.zeros(self.num_classes, device=device)  # DNet input behind the last record

    def _param_groups(self) -> list[dict[str, Any]]:
        """One group at ``lr``, or (fine-tuning) the head at ``lr`` first and the backbone at
        ``lr × backbone_lr_scale``; the schedule scales both alike. The head comes first because the
        records and DNet's virtual step read ``param_groups[0]`` as the classifier's learning rate."""
        if self.config.backbone_lr_scale == 1.0:
            return [{"params": list(self.model.parameters())}]
        return [
            {"params": list(self.model.head.parameters())},
            {
                "params": list(self.model.features.parameters()),
                "lr": self.config.lr * self.config.backbone_lr_scale,
            },
        ]

    # ------------------------------------------------------------------ data
    def _prepare(self, x_uint8: torch.Tensor) -> torch.Tensor:
        x = self.splits.normalize(x_uint8)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def _meta_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        kind = self.config.dnet.meta_batch
        if kind == "full":
            return self._prepare(self.splits.meta_x), self.splits.meta_y
        idx = (
            self.balanced_meta_batches.batch(self.global_step)
            if kind == "class_balanced"
            else next(self.meta_batches)
        )
        return self._prepare(self.splits.meta_x[idx]), self.splits.meta_y[idx]

    @property
    def weights_applied(self) -> bool:
        """Whether DNet's weights enter the real loss in the current epoch (``dnet.defer_frac``)."""
        return self.epoch >= deferred_start_epoch(self.config)

    def meta_step_plan(self, step_in_epoch: int) -> MetaStepPlan:
        """Virtual step size, λ_t, feature refresh and deferral for the current step (DNet methods)."""
        dnet = self.config.dnet
        progress = self.global_step / max(self.total_steps, 1)
        current_lr = float(self.optimizer.param_groups[0]["lr"])
        lam = dnet.driver_lambda
        if dnet.driver_schedule == "to_zero_at_lr_drop":
            lam *= max(0.0, 1.0 - progress / LR_DROP_FRACTION)
        return MetaStepPlan(
            virtual_lr=self.config.lr if dnet.virtual_lr == "base" else current_lr,
            driver_lambda=lam,
            refresh_meta_features=step_in_epoch % dnet.meta_feature_refresh == 0,
            apply_weights=self.weights_applied,
        )

    # ------------------------------------------------------------------ training
    def prepare_train_batch(
        self, idx: torch.Tensor, aug_generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Gather a batch from the uint8 cache, augment it on the device and normalise it."""
        x = self.splits.train_x[idx]
        kind = self.config.effective_augment
        if kind == "pad_crop":
            x = augment(x, aug_generator)
        elif kind == "random_resized_crop":
            x = random_resized_crop(x, aug_generator)
        return self._prepare(x), self.splits.train_y[idx]

    def train_step(
        self, x: torch.Tensor, y: torch.Tensor, class_weights: torch.Tensor | None, step_in_epoch: int = 0
    ) -> StepOutcome:
        """One optimisation step (with the Difficulty-Net meta update where due); no host sync."""
        lr = self.optimizer.param_groups[0]["lr"]
        buffers = None
        stats = None
        with autocast(self.device, self.amp_dtype):
            if self.learner is None:
                loss = self.batch_loss(self.model(x), y, class_weights)
            else:
                do_meta = self.global_step % self.config.dnet.meta_every == 0
                step = self.learner.training_step(
                    self.model,
                    self.batch_loss,
                    x,
                    y,
                    meta_batch=self._meta_batch,
                    plan=self.meta_step_plan(step_in_epoch),
                    do_meta=do_meta,
                )
                loss, buffers, stats = step.loss, step.buffers, step.stats
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if buffers is not None:
            commit_buffers(self.model, buffers)
        self.scheduler.step()
        self.global_step += 1
        return StepOutcome(loss.detach().float(), stats, lr)

    def train_epoch(
        self, should_stop: StopCheck | None = None, on_batch: Callable[[], None] | None = None
    ) -> EpochRecord:
        """Train one epoch, evaluate, and return (and keep) its record."""
        started = time.perf_counter()
        epoch = self.epoch
        self.model.train()
        weights = None if self.learner else self.rule.class_weights(epoch, self.prev_val_acc)
        use_weights = weights if self.rule.is_weighted(epoch) else None
        aug_generator = seeded_generator(self.config.seed, "augment", epoch, device=self.device)
        totals = _EpochTotals(self.device)
        lr = self.config.lr
        for batch_index, idx in enumerate(self.batches.epoch(epoch)):
            x, y = self.prepare_train_batch(idx, aug_generator)
            outcome = self.train_step(x, y, use_weights, batch_index)
            totals.add(outcome)
            lr = outcome.lr
            if on_batch is not None:
                on_batch()
            if should_stop is not None and should_stop():
                raise RunCancelled(f"run cancelled during epoch {epoch + 1} (after batch {batch_index + 1})")
        if self.learner is not None:
            self.learner.flush()  # accumulation never spans an epoch end, so checkpoints stay exact
        record = self._finish_epoch(totals, weights, lr, started)
        self.records.append(record)
        self.records_json.append(record.model_dump_json())
        self.epoch += 1
        return record

    # ------------------------------------------------------------------ evaluation
    def evaluate(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        per_image: bool = False,
        logit_offset: torch.Tensor | None = None,
    ) -> EvalPass:
        """One forward pass over a split; ``per_image`` also keeps what confusions and hardest examples
        need (predictions and probabilities), at the cost of a softmax per batch."""
        self.model.eval()
        with autocast(self.device, self.amp_dtype):
            return evaluation_pass(
                self.model,
                images,
                labels,
                self.num_classes,
                self._prepare,
                self.eval_batch_size,
                per_image=per_image,
                logit_offset=logit_offset,
            )

    def _evaluate_meta_set(self) -> EvalPass:
        """The meta set's pass; when D_φ reads a from the logits the loss scores (``accuracy_logits="loss"``),
        the same forward also counts those logits' hits."""
        wants_scored = self.learner is not None and self.config.dnet.accuracy_logits == "loss"
        offset = self.rule.loss_logit_offset() if wants_scored else None
        return self.evaluate(self.splits.meta_x, self.splits.meta_y, logit_offset=offset)

    def _dnet_accuracy_input(self, meta_pass: EvalPass) -> torch.Tensor:
        """a for D_φ: per-class meta-set accuracy of the predictions, or of the logits the loss scores."""
        chosen = meta_pass.accuracy() if meta_pass.offset_correct is None else meta_pass.offset_accuracy()
        return torch.tensor(chosen.acc, device=self.device)

    def _finish_epoch(
        self, totals: _EpochTotals, weights: torch.Tensor | None, lr: float, started: float
    ) -> EpochRecord:
        val_pass = self._evaluate_meta_set()
        val = val_pass.accuracy()
        test_pass = self.evaluate(self.splits.eval_x, self.splits.eval_y, per_image=True)
        test = test_pass.accuracy()
        explored = explore_classes(test_pass, self.splits.eval_rows, CONFUSION_TOP_K, HARDEST_K)
        val_acc = torch.tensor(val.acc, device=self.device)
        diagnostics = None
        if self.learner is not None:
            # The weights in effect at the end of this epoch: D_φ(a of the previous epoch), final φ.
            self.weights_input = self.learner.accuracy.clone()
            difficulty = self.learner.difficulties().cpu().tolist()
            learned = self.learner.weights().cpu().tolist()
            applied = self.weights_applied
            weight = learned if applied else [1.0] * self.num_classes
            diagnostics = dnet_diagnostics(
                learned,
                self.splits.train_counts,
                val.acc,
                meta_grad_norm=totals.mean_or_none(totals.meta_grad_norm, totals.meta_updates),
                driver_grad_norm=totals.mean_or_none(totals.driver_grad_norm, totals.meta_updates),
                weights_applied=applied,
            )
            self.learner.set_accuracy(self._dnet_accuracy_input(val_pass))  # refreshed at epoch end (§1.2)
        else:
            difficulty = [1.0 - a for a in val.acc]
            assert weights is not None
            weight = weights.cpu().tolist()
        self.prev_val_acc = val_acc
        epoch_time = time.perf_counter() - started
        self.elapsed_s += epoch_time
        groups = test.group_means(self.groups)
        splits = self.splits
        return EpochRecord(
            run_id=self.run_id,
            epoch=self.epoch + 1,
            epochs_total=self.config.epochs,
            method=self.config.method,
            elapsed_s=clean_float(self.elapsed_s, 3),
            epoch_time_s=clean_float(epoch_time, 3),
            train_loss=clean_float(totals.loss.item() / max(totals.steps, 1)),
            lr=clean_float(lr, 8),
            top1=clean_float(test.top1),
            balanced_acc=clean_float(test.balanced),
            many_acc=None if groups["many"] is None else clean_float(groups["many"]),
            medium_acc=None if groups["medium"] is None else clean_float(groups["medium"]),
            few_acc=None if groups["few"] is None else clean_float(groups["few"]),
            eval_split=splits.eval_split,
            driver_loss=totals.mean_or_none(totals.driver, totals.meta_updates),
            meta_loss=totals.mean_or_none(totals.meta, totals.meta_ce_updates),
            dnet=diagnostics,
            classes=ClassColumns(
                index=list(range(self.num_classes)),
                name=list(splits.class_names),
                train_count=list(splits.train_counts),
                group=self.groups,
                difficulty=[clean_float(d) for d in difficulty],
                weight=[clean_float(w) for w in weight],
                val_acc=[clean_float(a) for a in val.acc],
                test_acc=[clean_float(a) for a in test.acc],
            ),
            confusions=explored.confusions,
            hardest=explored.hardest,
        )

    # ------------------------------------------------------------------ state
    def dnet_export_state(self) -> dict[str, Any] | None:
        """MLP state plus the accuracy input that reproduces the last record's weights."""
        if self.learner is None:
            return None
        state = self.learner.export_state()
        state["accuracy_input"] = self.weights_input.double().cpu().tolist()
        return state

    def state_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "global_step": self.global_step,
            "elapsed_s": self.elapsed_s,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "learner": None if self.learner is None else self.learner.state_dict(),
            "prev_val_acc": None if self.prev_val_acc is None else self.prev_val_acc.cpu(),
            "meta_batches": self.meta_batches.state_dict(),
            "weights_input": self.weights_input.cpu(),
            "records": list(self.records_json),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch = int(state["epoch"])
        self.global_step = int(state["global_step"])
        self.elapsed_s = float(state["elapsed_s"])
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if state["scaler"]:
            self.scaler.load_state_dict(state["scaler"])
        if self.learner is not None:
            self.learner.load_state_dict(state["learner"])
        prev = state["prev_val_acc"]
        self.prev_val_acc = None if prev is None else prev.to(self.device)
        self.meta_batches.load_state_dict(state["meta_batches"])
        self.weights_input = state["weights_input"].to(self.device)
        self.records_json = list(state["records"])
        self.records = [EpochRecord.model_validate_json(r) for r in self.records_json]
