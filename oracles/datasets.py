"""Registry of published datasets: where each comes from, its units, and how to fetch it and check
its columns and row count (no checksum yet).

Data is never committed to the repository. `amala data fetch NAME` downloads it from its public
source into a cache; `AMALA_DATA_DIR` or a config's `data.path` points at a local copy instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from amala.agents.polymer import InvalidPolymer, canonical_smiles


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    url: str
    license: str
    citation: str
    smiles_column: str
    units: dict[str, str]  # property column -> unit
    min_rows: int

    @property
    def filename(self) -> str:
        return f"{self.name}.csv"


# transport coefficients span decades: models learn them as log10
LOG_SCALE = {"conductivity", "li_diffusivity", "tfsi_diffusivity", "poly_diffusivity"}


def model_targets(frame, prop: str):
    """(mask of rows with a usable value, the values as models learn them: log10 where LOG_SCALE)."""
    values = frame[prop].to_numpy(dtype=float)
    ok = np.isfinite(values) & ((values > 0) if prop in LOG_SCALE else True)
    return ok, np.log10(values[ok]) if prop in LOG_SCALE else values[ok]


DATASETS = {
    "htpmd": DatasetSpec(
        name="htpmd",
        url="https://raw.githubusercontent.com/TRI-AMDD/htp_md/main/htpmd/ml_models/md_wo_structure_cleaned_0_1_4.csv",
        license="MIT (Toyota Research Institute)",
        citation="Xie et al., Nat. Commun. 13, 3415 (2022): HTP-MD, 6,025 polymer electrolytes with LiTFSI",
        smiles_column="mol_smiles",
        units={
            "conductivity": "S/cm",
            "li_diffusivity": "cm^2/s",
            "tfsi_diffusivity": "cm^2/s",
            "poly_diffusivity": "cm^2/s",
            "transference_number": "1",
            # HTP-MD names this column 'molarity'; it is the LiTFSI concentration of the cell.
            "molarity": "mol/kg",
        },
        min_rows=6000,
    ),
}


class DatasetError(ValueError):
    """A dataset that is missing or malformed; the message names the file and the problem."""


@dataclass
class Table:
    """A dataset loaded for use: canonical SMILES in column `smiles`, properties with units."""

    name: str
    frame: pd.DataFrame
    units: dict[str, str]
    source: str
    dropped: list[str] = field(default_factory=list)  # rows whose SMILES were not valid repeat units


def spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise DatasetError(f"data.dataset: unknown dataset {name!r} (known: {sorted(DATASETS)})")
    return DATASETS[name]


def data_dir() -> Path:
    return Path(os.environ.get("AMALA_DATA_DIR") or Path.home() / ".cache" / "amala")


def resolve_path(name: str, path: str | os.PathLike | None = None) -> Path:
    """The local copy to read: an explicit path, else `$AMALA_DATA_DIR/NAME.csv` (the fetch cache)."""
    candidate = Path(path).expanduser() if path else data_dir() / spec(name).filename
    if not candidate.is_file():
        raise DatasetError(
            f"dataset {name!r} not found at {candidate}: run `amala data fetch {name}` "
            f"or set AMALA_DATA_DIR / data.path to a local copy"
        )
    return candidate


def verify(frame: pd.DataFrame, ds: DatasetSpec, origin: str, min_rows: int = 1) -> pd.DataFrame:
    """Check a raw table against the spec and keep only the columns amala uses.

    A download must be complete (`min_rows` = the spec's); a local copy may be a deliberate subset.
    """
    needed = [ds.smiles_column, *ds.units]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise DatasetError(f"{origin}: missing column(s) {missing} for dataset {ds.name!r}")
    if len(frame) < min_rows:
        raise DatasetError(f"{origin}: {len(frame)} rows, expected at least {min_rows} for {ds.name!r}")
    frame = frame[needed].copy()
    for column in ds.units:
        values = pd.to_numeric(frame[column], errors="coerce")
        if not np.isfinite(values).all():
            raise DatasetError(f"{origin}: column {column!r} has non-numeric or non-finite values")
        frame[column] = values
    return frame


def fetch(name: str, url: str | None = None, dest_dir: Path | None = None, timeout: float = 60) -> Path:
    """Download a dataset from its public source, check its columns and row count, and write the used
    columns to the cache."""
    ds = spec(name)
    dest = (dest_dir or data_dir()) / ds.filename
    dest.parent.mkdir(parents=True, exist_ok=True)
    url = url or ds.url
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "download.csv"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, open(raw, "wb") as out:
                shutil.copyfileobj(response, out)
        except OSError as exc:
            raise DatasetError(f"could not download {name!r} from {url}: {exc}") from exc
        try:
            frame = pd.read_csv(raw)
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise DatasetError(f"{url}: not a readable CSV ({exc})") from exc
        frame = verify(frame, ds, url, min_rows=ds.min_rows)
        partial = dest.with_suffix(".partial")
        frame.to_csv(partial, index=False)
        partial.replace(dest)  # atomic: a failed fetch never leaves a half-written cache
    return dest


def load(name: str, path: str | os.PathLike | None = None, subset: int | None = None, seed: int = 0) -> Table:
    """Load a dataset, canonicalise its SMILES, and optionally draw a seeded random subset."""
    ds = spec(name)
    file = resolve_path(name, path)
    try:
        raw = pd.read_csv(file)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DatasetError(f"{file}: not a readable CSV ({exc})") from exc
    frame = verify(raw, ds, str(file))
    canonical, dropped = [], []
    for smiles in frame[ds.smiles_column]:
        try:
            canonical.append(canonical_smiles(smiles))
        except InvalidPolymer:
            canonical.append(None)
            dropped.append(smiles)
    frame["smiles"] = canonical
    frame = frame.dropna(subset=["smiles"]).drop_duplicates("smiles").drop(columns=ds.smiles_column)
    if subset is not None and subset < len(frame):
        frame = frame.sample(n=subset, random_state=seed)
    return Table(ds.name, frame.reset_index(drop=True), dict(ds.units), str(file), dropped)
