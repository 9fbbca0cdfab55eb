"""``/api/datasets``: upload (CSV manifest or zip bundle), list, read, delete."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Response, UploadFile, status

from backend.api.deps import ServicesDep, error_responses
from backend.store import StoredDataset
from difficultynet.contracts.api import DATASET_ID_PATTERN, DatasetList, DatasetRead

router = APIRouter(prefix="/datasets", tags=["datasets"])

DatasetIdPath = Annotated[str, Path(pattern=DATASET_ID_PATTERN, description="dataset id (16 hex digits)")]


def to_read(dataset: StoredDataset) -> DatasetRead:
    report = dataset.report
    return DatasetRead(
        id=dataset.id,
        name=dataset.name,
        kind=dataset.kind,
        created_at=datetime.fromtimestamp(dataset.created_at, UTC),
        manifest_sha256=report.manifest_sha256,
        num_rows=report.num_rows,
        num_classes=len(report.classes),
        classes=report.classes,
        split_counts=report.split_counts,
        imbalance_factor=report.imbalance_factor,
        group_counts=report.group_counts,
        meta_source=report.meta_source,
        eval_split=report.eval_split,
        notes=report.notes,
    )


@router.post(
    "",
    response_model=DatasetRead,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": DatasetRead, "description": "already uploaded (same content)"},
        **error_responses(413, 422),
    },
    name="upload",
)
async def upload_dataset(
    services: ServicesDep,
    response: Response,
    file: Annotated[UploadFile, File(description="manifest CSV (path,label[,split]) or a .zip bundle")],
    base: Annotated[
        str,
        Form(max_length=1024, description="CSV only: folder under the data root that paths are relative to"),
    ] = "",
) -> DatasetRead:
    """Validate and store a dataset. Identical content returns the existing dataset with 200.

    A CSV's paths must resolve (symlinks followed) inside ``DNET_DATA_ROOT`` / ``base``; a zip is unpacked
    into a fresh folder under the data root. Manifest problems come back as 422 with one entry per line.
    """
    result = await services.datasets.upload(file.filename, file.file, base)
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return to_read(result.dataset)


@router.get("", response_model=DatasetList, responses=error_responses(), name="list")
async def list_datasets(services: ServicesDep) -> DatasetList:
    datasets = [to_read(d) for d in await services.datasets.all()]
    return DatasetList(datasets=datasets, total=len(datasets))


@router.get("/{dataset_id}", response_model=DatasetRead, responses=error_responses(404), name="read")
async def read_dataset(services: ServicesDep, dataset_id: DatasetIdPath) -> DatasetRead:
    return to_read(await services.datasets.get(dataset_id))


@router.delete(
    "/{dataset_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(404, 409),
    name="delete",
)
async def delete_dataset(services: ServicesDep, dataset_id: DatasetIdPath) -> Response:
    """Remove the dataset and its stored files; 409 while queued or running runs use it."""
    await services.datasets.delete(dataset_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
