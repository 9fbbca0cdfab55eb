"""``/api/datasets``: upload (CSV manifest, zip bundle or zip of image folders), register image folders
under the data root, list, read, download the manifest, delete."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Response, UploadFile, status
from fastapi.responses import FileResponse

from backend.api.deps import ServicesDep, error_responses
from backend.services.datasets import UploadResult, split_options
from backend.store import StoredDataset
from difficultynet.contracts.api import DATASET_ID_PATTERN, DatasetList, DatasetRead, FolderCreate
from difficultynet.contracts.datasets import FolderSplitOptions

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
        folder=dataset.folder,
    )


def _answer(result: UploadResult, response: Response) -> DatasetRead:
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return to_read(result.dataset)


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
    file: Annotated[
        UploadFile,
        File(description="manifest CSV (path,label[,split]), a .zip bundle, or a .zip of image folders"),
    ],
    base: Annotated[
        str,
        Form(max_length=1024, description="CSV only: folder under the data root that paths are relative to"),
    ] = "",
    val_per_class: Annotated[
        int | None, Form(description="image folders: val (meta) images carved per class (default 25)")
    ] = None,
    test_fraction: Annotated[
        float | None, Form(description="image folders: share of each class held out as test (default 0.2)")
    ] = None,
    seed: Annotated[
        int | None, Form(description="image folders: seed of the per-class carve (default 0)")
    ] = None,
) -> DatasetRead:
    """Validate and store a dataset. Identical content returns the existing dataset with 200.

    A CSV's paths must resolve (symlinks followed) inside ``DNET_DATA_ROOT`` / ``base``; a zip is unpacked
    into a fresh folder under the data root. A zip with no CSV holds image folders (``train/<class>/*``
    [+ ``val/``, ``test/``] or ``<class>/*``): a manifest with seeded per-class splits is generated.
    Manifest problems come back as 422 with one entry per line (per file for image folders).
    """
    split = split_options(val_per_class=val_per_class, test_fraction=test_fraction, seed=seed)
    return _answer(await services.datasets.upload(file.filename, file.file, base, split), response)


@router.post(
    "/folders",
    response_model=DatasetRead,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": DatasetRead, "description": "already registered (same folder and manifest)"},
        **error_responses(413, 422),
    },
    name="register folder",
)
async def register_folder(services: ServicesDep, response: Response, body: FolderCreate) -> DatasetRead:
    """Image folders under ``DNET_DATA_ROOT`` as a dataset: the manifest is generated (seeded per-class
    splits, see ``folder`` in the answer) and every file is checked like a manifest row."""
    split = FolderSplitOptions.model_validate(body.model_dump(exclude={"folder"}))
    return _answer(await services.datasets.register_folder(body.folder, split), response)


@router.get("", response_model=DatasetList, responses=error_responses(), name="list")
async def list_datasets(services: ServicesDep) -> DatasetList:
    datasets = [to_read(d) for d in await services.datasets.all()]
    return DatasetList(datasets=datasets, total=len(datasets))


@router.get("/{dataset_id}", response_model=DatasetRead, responses=error_responses(404), name="read")
async def read_dataset(services: ServicesDep, dataset_id: DatasetIdPath) -> DatasetRead:
    return to_read(await services.datasets.get(dataset_id))


@router.get(
    "/{dataset_id}/manifest.csv",
    response_class=FileResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "the manifest CSV"}, **error_responses(404)},
    name="manifest",
)
async def download_manifest(services: ServicesDep, dataset_id: DatasetIdPath) -> FileResponse:
    """The dataset's manifest as stored: the uploaded CSV, the bundle's, or the one generated for image
    folders (train with it offline: ``dnet train --manifest``)."""
    path = await services.datasets.manifest_file(dataset_id)
    return FileResponse(path, media_type="text/csv", filename=f"{dataset_id}-manifest.csv")


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
