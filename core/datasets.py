"""Registry of published datasets: where each comes from, its units, the sha256 of the published
bytes, and how to fetch it and check it.

Data is never committed to the repository. `amala data fetch NAME` downloads it from its public
source (pooch) into a cache and refuses bytes whose sha256 is not the pinned one: a changed or
truncated upstream file never becomes a campaign's data unnoticed. `AMALA_DATA_DIR` or a config's
`data.path` points at a local copy instead; a copy whose hash is none of the known ones (a
deliberate subset, a synthetic table) is used with a warning naming both hashes.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pooch

from amala.core.log_scale import is_log_scale
from amala.core.polymer import InvalidPolymer, canonical_smiles
from amala.core.settings import settings


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    url: str
    license: str
    citation: str
    smiles_column: str
    units: dict[str, str]  # property column -> unit
    min_rows: int
    sha256: str  # of the published file at `url`: a download with other bytes is refused
    known_copies: dict[str, str] = field(default_factory=dict)  # sha256 -> what local copy has it
    optional: tuple[str, ...] = ()  # property columns whose blank cells mean "not reported" (kept as NaN)
    text_columns: tuple[str, ...] = ()  # further non-numeric columns amala uses (a salt's SMILES)
    renamed: dict[str, str] = field(default_factory=dict)  # published column -> amala's name, on load
    one_row_per_smiles: bool = True  # False where a polymer has many rows (salts, temperatures)
    file: str = ""  # path under the data folder; default NAME.csv

    @property
    def filename(self) -> str:
        return self.file or f"{self.name}.csv"


def model_targets(frame, prop: str):
    """(mask of rows with a usable value, the values as models learn them: log10 where `is_log_scale`)."""
    values = frame[prop].to_numpy(dtype=float)
    log_scale = is_log_scale(prop)
    ok = np.isfinite(values) & ((values > 0) if log_scale else True)
    return ok, np.log10(values[ok]) if log_scale else values[ok]


CHEMARR_SOURCE = ("https://raw.githubusercontent.com/learningmatter-mit/Chem-prop-pred/"
                  "39b0c16f70c4142b32a67531a093718c767ad43d")  # pinned commit: a later push cannot change the data
CHEMARR_CITATION = ("Bradford et al., Chemistry-Informed Machine Learning for Polymer Electrolyte Discovery, "
                    "ACS Cent. Sci. 9, 206 (2023)")

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
        # computed 2026-11-30 from the file at TRI-AMDD/htp_md main (last changed in commit 5d7b02f)
        sha256="ce3691a45c5808e9f9d32ed3acaa3716c3d6d03e2dd908cc9a01901b3f5a2546",
        known_copies={
            "2eb2d27ef9c1b22e8a08ab3b0178122bcc1e69c3bb931a345ab2a1d9f0478591":
                "the used columns `amala data fetch` writes from the published file",
            "137117e53da1429106c6741c3de0e224f11a1ccd65d7b711ab59aceedc3df733":
                "the used columns, rows in another order (the team's ../shared/data copy)",
        },
    ),
    # ChemArr: experimental polymer electrolytes, one row per (polymer, salt, molality, temperature).
    "chemarr": DatasetSpec(
        name="chemarr",
        url=f"{CHEMARR_SOURCE}/data/clean_train_data.csv",
        license="MIT (learningmatter-mit/Chem-prop-pred)",
        citation=CHEMARR_CITATION + ": 10,114 measured conductivities, 229 polymers, 41 salt entries",
        smiles_column="smiles",  # repeat unit with [Cu]/[Au] ends, amala's own convention
        units={
            "conductivity": "log10(S/cm)",  # published as log10 already: renamed so no one logs it twice
            "mw": "g/mol",
            "molality": "mol/kg",
            "temperature": "degC",
        },
        min_rows=10000,
        # computed 2026-12-01 from the file at the pinned commit (same bytes as the team's ../shared/data copy)
        sha256="6b6de5979e2b0fe592e9c75b98cdccc6a77c579bd9332e3633301f6f6392ca74",
        optional=("mw", "molality"),  # mw: not reported by the source paper; molality: no salt added
        text_columns=("salt smiles",),  # blank for single-ion conductors (the anion is in the repeat unit)
        renamed={"conductivity": "log10_conductivity", "temperature": "temperature_C", "salt smiles": "salt_smiles"},
        one_row_per_smiles=False,
        file="chemarr/clean_train_data.csv",
    ),
    # ChemArr's screening table: PolyInfo repeat units x 8 Li salts x 3 molalities at 80 degC, no labels.
    "chemarr_screen": DatasetSpec(
        name="chemarr_screen",
        url=f"{CHEMARR_SOURCE}/data/PolyInfo_8salts.csv",
        license="MIT (learningmatter-mit/Chem-prop-pred)",
        citation=CHEMARR_CITATION + ": PolyInfo repeat units x 8 lithium salts, the paper's screening set",
        smiles_column="smiles",
        units={
            "mw": "log10(g/mol)",  # 5.0 throughout: the log10 Mw ChemArr's model reads, unlike the training file
            "molality": "mol/kg",
            "temperature": "degC",
        },
        min_rows=19000,
        sha256="513ff77abd8f7fb891b3b636d14b2ec6857180660dfee6bbd0dc0c167085dfea",
        text_columns=("salt smiles",),
        renamed={"mw": "log10_mw", "temperature": "temperature_C", "salt smiles": "salt_smiles"},
        one_row_per_smiles=False,
        file="chemarr/PolyInfo_8salts.csv",
    ),
}


class DatasetError(ValueError):
    """A dataset that is missing or malformed; the message names the file and the problem."""


class UnverifiedCopy(UserWarning):
    """A local copy whose bytes are not a known copy of the published file (e.g. a subset)."""


@dataclass
class Table:
    """A dataset loaded for use: canonical SMILES in column `smiles`, properties with units."""

    name: str
    frame: pd.DataFrame
    units: dict[str, str]
    source: str
    dropped: list[str] = field(default_factory=list)  # rows whose SMILES were not valid repeat units
    sha256: str = ""  # of the file read; `verified`: a known copy of the published bytes
    verified: bool = False


def spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise DatasetError(f"data.dataset: unknown dataset {name!r} (known: {sorted(DATASETS)})")
    return DATASETS[name]


def data_dir() -> Path:
    return settings().data_folder


def resolve_path(name: str, path: str | os.PathLike | None = None) -> Path:
    """The local copy to read: an explicit path, else `$AMALA_DATA_DIR/NAME.csv` (the fetch cache)."""
    from amala.core import sciglass

    filename = sciglass.FILE if name == sciglass.NAME else spec(name).filename
    candidate = Path(path).expanduser() if path else data_dir() / filename
    if not candidate.is_file():
        raise DatasetError(
            f"dataset {name!r} not found at {candidate}: run `amala data fetch {name}` "
            f"or set AMALA_DATA_DIR / data.path to a local copy"
        )
    return candidate


def verify(frame: pd.DataFrame, ds: DatasetSpec, origin: str, min_rows: int = 1) -> pd.DataFrame:
    """Check a raw table against the spec and keep only the columns amala uses.

    A download must be complete (`min_rows` = the spec's); a local copy may be a deliberate subset.
    A blank cell is allowed only in the spec's `optional` columns (kept as NaN, never filled in);
    text that is not a number, or an infinite value, is refused in any column.
    """
    needed = [ds.smiles_column, *ds.units, *ds.text_columns]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise DatasetError(f"{origin}: missing column(s) {missing} for dataset {ds.name!r}")
    if len(frame) < min_rows:
        raise DatasetError(f"{origin}: {len(frame)} rows, expected at least {min_rows} for {ds.name!r}")
    frame = frame[needed].copy()
    for column in ds.units:
        values = pd.to_numeric(frame[column], errors="coerce")
        blank = frame[column].isna() if column in ds.optional else np.zeros(len(frame), dtype=bool)
        if not (np.isfinite(values) | blank).all():
            what = "non-numeric or non-finite" if column in ds.optional else "blank, non-numeric or non-finite"
            raise DatasetError(f"{origin}: column {column!r} has {what} values")
        frame[column] = values
    return frame


def check_copy(file: Path, ds: DatasetSpec) -> tuple[str, bool]:
    """(sha256 of a local copy, whether it is the published file or a known copy of it); warns if not."""
    got = pooch.file_hash(str(file), alg="sha256")
    known = got == ds.sha256 or got in ds.known_copies
    if not known:
        warnings.warn(f"{file}: sha256 {got} is not the published {ds.name!r} (expected {ds.sha256} or a "
                      f"known copy); using it as a local subset", UnverifiedCopy, stacklevel=3)
    return got, known


def retrieve(url: str, known_hash: str | None, fname: str, folder, timeout: float) -> str:
    """pooch.retrieve without pooch's own log line (the CLI says what it fetches): the file's path.
    Raises OSError (network) or ValueError (a `known_hash` mismatch)."""
    log = pooch.get_logger()
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        return pooch.retrieve(url, known_hash=known_hash, fname=fname, path=folder,
                              downloader=pooch.HTTPDownloader(timeout=timeout, progressbar=False))
    finally:
        log.setLevel(level)


def fetch(name: str, url: str | None = None, dest_dir: Path | None = None, timeout: float = 60,
          sha256: str | None = None) -> Path:
    """Download a dataset from its public source (or a mirror `url`), refuse it unless its sha256 is
    the pinned one (`sha256` overrides the pin, for a deliberately different file), check its
    columns and row count, and write the used columns to the cache (the published file unchanged
    when amala uses all of its columns, so the cached copy keeps the published sha256)."""
    ds = spec(name)
    dest = (dest_dir or data_dir()) / ds.filename
    dest.parent.mkdir(parents=True, exist_ok=True)
    url, expected = url or ds.url, sha256 or ds.sha256
    with tempfile.TemporaryDirectory() as tmp:
        try:
            raw = Path(retrieve(url, None, "download.csv", tmp, timeout))
        except OSError as exc:  # requests' errors are OSErrors
            raise DatasetError(f"could not download {name!r} from {url}: {exc}") from exc
        got = pooch.file_hash(str(raw), alg="sha256")
        if got != expected:
            raise DatasetError(f"{url}: sha256 mismatch for {ds.filename}: expected {expected}, got {got}; "
                               "download refused")
        try:
            frame = pd.read_csv(raw)
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise DatasetError(f"{url}: not a readable CSV ({exc})") from exc
        used = verify(frame, ds, url, min_rows=ds.min_rows)
        partial = dest.with_suffix(".partial")
        if set(used.columns) == set(frame.columns):  # every column used: keep the published bytes and hash
            shutil.copyfile(raw, partial)
        else:
            used.to_csv(partial, index=False)
        partial.replace(dest)  # atomic: a failed fetch never leaves a half-written cache
    return dest


def load(name: str, path: str | os.PathLike | None = None, subset: int | None = None, seed: int = 0) -> Table:
    """Load a dataset, canonicalise its SMILES, and optionally draw a seeded random subset. SciGlass's
    glasses are compositions, read by `core/sciglass.py` (one row per composition)."""
    from amala.core import sciglass

    if name == sciglass.NAME:
        return sciglass.load_table(resolve_path(name, path), subset, seed)
    ds = spec(name)
    file = resolve_path(name, path)
    sha256, verified = check_copy(file, ds)
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
    frame = frame.drop(columns=ds.smiles_column).assign(smiles=canonical).dropna(subset=["smiles"])
    if ds.one_row_per_smiles:
        frame = frame.drop_duplicates("smiles")
    frame = frame.rename(columns=ds.renamed)
    if subset is not None and subset < len(frame):
        frame = frame.sample(n=subset, random_state=seed)
    units = {ds.renamed.get(column, column): unit for column, unit in ds.units.items()}
    return Table(ds.name, frame.reset_index(drop=True), units, str(file), dropped, sha256, verified)
