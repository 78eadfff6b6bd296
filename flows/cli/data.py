"""`amala data list` and `amala data fetch`: the published datasets and their local cache."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table as RichTable

from amala.flows.cli.app import app, console, fail

data_app = typer.Typer(no_args_is_help=True, help="Datasets: fetch published data into the local cache.")
app.add_typer(data_app, name="data")


@data_app.command("list")
def data_list(as_json: bool = typer.Option(False, "--json", help="one JSON object per dataset, one per line")):
    """The datasets amala knows: source, licence, pinned sha256, and whether a local copy is there."""
    from amala.core import datasets, sciglass

    rows = []
    for name, ds in datasets.DATASETS.items():
        local = datasets.data_dir() / ds.filename
        rows.append({"name": name, "rows_at_least": ds.min_rows, "license": ds.license, "source": ds.url,
                     "sha256": ds.sha256, "local_copy": str(local) if local.is_file() else None,
                     "citation": ds.citation})
    local = datasets.data_dir() / sciglass.FILE  # glass compositions: derived from a pinned wheel (core/sciglass.py)
    rows.append({"name": sciglass.NAME, "rows_at_least": sciglass.MIN_ROWS, "license": sciglass.LICENSE,
                 "source": f"{sciglass.WHEEL_URL} (derived)", "sha256": sciglass.SHA256,
                 "local_copy": str(local) if local.is_file() else None, "citation": sciglass.CITATION})
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    table = RichTable("dataset", "rows", "licence", "local copy", "sha256 (pinned)")
    table.add_column("source", overflow="fold")  # an address is never cut
    for r in rows:
        table.add_row(r["name"], f"≥ {r['rows_at_least']:,}", r["license"],
                      r["local_copy"] or "none (`amala data fetch NAME`)", r["sha256"][:16] + "…", r["source"])
    Console(width=max(console.width, 200), markup=False).print(table)


@data_app.command("fetch")
def data_fetch(name: str = typer.Argument(..., help="dataset name (`amala data list` shows them)"),
               url: Optional[str] = typer.Option(None, help="override the download address (a mirror)"),
               dest: Optional[Path] = typer.Option(None, help="folder (default $AMALA_DATA_DIR or ~/.cache/amala)")):
    """Download a published dataset into the cache and check its sha256, columns and row count."""
    from amala.core import datasets, sciglass

    if name == sciglass.NAME:
        _fetch_sciglass(url, dest)
        return
    try:
        spec = datasets.spec(name)
        console.print(f"fetching {name} from {url or spec.url} ({spec.license}; cite: {spec.citation})")
        path = datasets.fetch(name, url=url, dest_dir=dest)
    except datasets.DatasetError as exc:
        fail(str(exc))
    table = datasets.load(name, path)
    console.print(f"{name}: {len(table.frame)} rows (sha256, columns and row count checked) -> {path}")


def _fetch_sciglass(url: str | None, dest: Path | None) -> None:
    """SciGlass's Li oxide glasses: the pinned glasspy wheel downloaded, the table derived from it."""
    from amala.core import datasets, sciglass

    console.print(f"fetching {sciglass.NAME}: the glasspy 0.4.0 wheel from {url or sciglass.WHEEL_URL}, then "
                  f"deriving the table ({sciglass.LICENSE}; cite: {sciglass.CITATION})", markup=False)
    try:
        path, same = sciglass.fetch(dest or datasets.data_dir(), url=url or sciglass.WHEEL_URL)
        table = sciglass.read(path)
    except sciglass.SciGlassError as exc:
        fail(str(exc))
    said = "the pinned table's bytes" if same else "NOT the pinned bytes (another pandas formats floats otherwise?)"
    dropped = ", ".join(f"{n} {reason}" for reason, n in table.dropped.items()) or "none"
    console.print(f"{sciglass.NAME}: {len(table.frame)} glasses read ({dropped} refused), sha256 {table.sha256[:16]}…: "
                  f"{said} -> {path}", markup=False)
