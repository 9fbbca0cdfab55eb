"""What a dataset is, shown after an upload: key numbers, notes, how image folders were split, the class
histogram, and the links onward (start a run, download the manifest, compare runs)."""

from __future__ import annotations

from dash import dcc, html
from dash.development.base_component import Component

from dashboard import ids
from dashboard.figures.datasets import class_frequency_figure
from dashboard.models import Dataset
from difficultynet.contracts.datasets import FolderReport


def dataset_summary(dataset: Dataset) -> html.Div:
    """What a successful upload shows: key numbers, notes, the class histogram and next steps."""
    splits = " · ".join(f"{split} {count}" for split, count in dataset.split_counts.items())
    groups = " · ".join(f"{group} {count}" for group, count in dataset.group_counts.items())
    imbalance = f"{dataset.imbalance_factor:.1f}" if dataset.imbalance_factor else "–"
    facts = [
        ("Dataset", dataset.label),
        ("Classes", str(len(dataset.classes))),
        ("Images per split", splits or "–"),
        ("Imbalance factor (max/min train)", imbalance),
        ("Classes per group (many/medium/few)", groups or "–"),
        ("Evaluated on", dataset.eval_split or "–"),
        ("Meta set", dataset.meta_source or "–"),
    ]
    if dataset.folder is not None:
        facts.append(("Manifest", folder_description(dataset.folder)))
    return html.Div(
        [
            html.Dl(
                [part for label, value in facts for part in (html.Dt(label), html.Dd(value))],
                className="facts",
            ),
            html.Ul([html.Li(note) for note in dataset.notes], className="notes") if dataset.notes else None,
            short_classes_table(dataset.folder) if dataset.folder and dataset.folder.short_classes else None,
            dcc.Graph(
                figure=class_frequency_figure(dataset),
                config={"displaylogo": False},
                className="graph",
                id=ids.DATASETS_CLASS_FREQUENCY,
            ),
            html.P(
                [
                    dcc.Link(
                        "Start a run on this dataset",
                        href=f"/runs/new?dataset={dataset.id}",
                        className="button",
                    ),
                    " ",
                    manifest_button(
                        dataset.id, "summary", "Download manifest CSV", "button button-secondary"
                    ),
                    " ",
                    dcc.Link(
                        "Compare its runs", href=f"/compare?dataset={dataset.id}", className="button-link"
                    ),
                ]
            ),
        ],
        className="dataset-summary",
    )


def folder_description(folder: FolderReport) -> str:
    """One line: how the manifest was generated from the folders."""
    given = ", ".join(f"{split}/" for split in folder.given_splits)
    parts = [f"generated from image folders ({given or 'one folder per class'})"]
    if "val" in folder.carved_splits:
        parts.append(f"val {folder.val_per_class}/class")
    if "test" in folder.carved_splits:
        parts.append(f"test {folder.test_fraction:.0%} per class")
    if folder.carved_splits:
        parts.append(f"seed {folder.seed}")
    return " · ".join(parts)


def short_classes_table(folder: FolderReport) -> Component:
    """Classes too small for the requested splits: kept, with the counts they got and why."""
    header = html.Thead(
        html.Tr([html.Th(h, scope="col") for h in ("Class", "Images", "Train", "Val", "Test", "Why")])
    )
    rows = [
        html.Tr([html.Td(str(cell)) for cell in (c.name, c.images, c.train, c.val, c.test, c.reason)])
        for c in folder.short_classes
    ]
    title = f"{len(folder.short_classes)} class(es) too small for the requested splits (kept, not dropped)"
    return html.Div(
        [
            html.H3(title),
            html.Div(
                html.Table(
                    [html.Caption(title, className="visually-hidden"), header, html.Tbody(rows)],
                    className="data-table short-classes-table",
                ),
                className="table-scroll",
            ),
        ],
        className="short-classes",
    )


def manifest_button(dataset_id: str, where: str, text: str, class_name: str) -> html.Button:
    """A download button for the dataset's manifest CSV (one pattern-matching callback serves all)."""
    return html.Button(
        text,
        id={"type": ids.DATASETS_MANIFEST_BUTTON, "dataset": dataset_id, "where": where},
        n_clicks=0,
        className=class_name,
    )
