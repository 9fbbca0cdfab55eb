"""Exploration reads: every class's confusions at one epoch, and one class's confusions and hardest examples
over the epochs (the class panel). Answers are the stored JSON spliced together, never re-serialised.

The worker stores them apart from the epoch stream (``worker.reporter``; keys in
``service_contracts.protocol``). Runs recorded before that carry the columns inside their stream records:
an epoch with no stored entry is read from its record instead (a fallback on read, never a migration, so
a read writes nothing and cannot race the worker of a run still going). A run whose records hold no
exploration at all answers with none (``confusions: null``, no epochs).
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool

from backend.errors import ApiError
from backend.services.runs import RunService
from difficultynet.contracts.api import ClassEpochExploration, EpochConfusions
from difficultynet.contracts.exploration import CLASS_METRICS, class_entries


async def epoch_confusions(runs: RunService, run_id: str, epoch: int) -> str:
    """``EpochConfusions`` JSON of ``epoch``; 404 for an unknown run or an epoch not reported (yet)."""
    await runs.get(run_id)
    stored = await runs.store.epoch_confusions(run_id, epoch)
    if stored is None:
        record = await runs.store.epoch_record(run_id, epoch)
        if record is None:
            raise ApiError(404, f"epoch {epoch} of run {run_id!r} has not been reported (yet)")
        stored = await run_in_threadpool(_confusions_from_record, run_id, epoch, record)
    return f'{{"run_id":{json.dumps(run_id)},"epoch":{epoch},"confusions":{stored}}}'


async def class_exploration(runs: RunService, run_id: str, class_index: int, after: int) -> str:
    """``ClassExploration`` JSON of the epochs after ``after``; 404 for an unknown run or class, or a run
    with no epoch yet."""
    await runs.get(run_id)
    store = runs.store
    top = await store.last_epoch(run_id)
    if top == 0:
        raise ApiError(404, f"run {run_id!r} has no epoch yet, so it has no class {class_index} to show")
    epochs = list(range(after + 1, top + 1))
    entries = await store.class_exploration(run_id, class_index, epochs)
    missing = [epoch for epoch, entry in zip(epochs, entries, strict=True) if entry is None]
    if missing:  # a run recorded before exploration left the stream: read those epochs' records
        records = dict(await store.epochs_after(run_id, missing[0] - 1, count=top - missing[0] + 1))
        found = await run_in_threadpool(_class_from_records, records, missing, class_index)
        entries = [
            entry if entry is not None else found.get(epoch)
            for epoch, entry in zip(epochs, entries, strict=True)
        ]
    shown = [entry for entry in entries if entry is not None]
    if not shown and not await _class_exists(runs, run_id, class_index, top):
        raise ApiError(404, f"run {run_id!r} has no class {class_index}")
    return f'{{"run_id":{json.dumps(run_id)},"class_index":{class_index},"epochs":[{",".join(shown)}]}}'


async def _class_exists(runs: RunService, run_id: str, class_index: int, top: int) -> bool:
    if (await runs.store.class_exploration(run_id, class_index, [top]))[0] is not None:
        return True
    record = await runs.store.epoch_record(run_id, top)
    if record is None:
        return False
    indices = await run_in_threadpool(lambda: orjson.loads(record)["classes"]["index"])
    return class_index in indices


def _confusions_from_record(run_id: str, epoch: int, record_json: str) -> str:
    confusions = orjson.loads(record_json).get("confusions")
    answer = EpochConfusions(run_id=run_id, epoch=epoch, confusions=confusions)  # validated once more
    return json.dumps(answer.model_dump(mode="json")["confusions"], separators=(",", ":"))


def _class_from_records(records: dict[int, str], epochs: list[int], class_index: int) -> dict[int, str]:
    """The class's ``ClassEpochExploration`` JSON of each of ``epochs`` whose record carries the columns."""
    found: dict[int, str] = {}
    for epoch in epochs:
        if epoch not in records:
            continue
        doc: dict[str, Any] = orjson.loads(records[epoch])  # twice as fast as json on these records
        confusions, hardest, classes = doc.get("confusions"), doc.get("hardest"), doc["classes"]
        if confusions is None and hardest is None:
            continue
        columns = {metric: classes[metric] for metric in CLASS_METRICS}
        entries = class_entries(epoch, classes["index"], columns, confusions, hardest, only=class_index)
        if class_index in entries:  # validated here: it was never checked on its own
            found[epoch] = ClassEpochExploration.model_validate(entries[class_index]).model_dump_json()
    return found
