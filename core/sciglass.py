"""SciGlass's Li-containing oxide(-halide) glasses with measured conductivity, as amala compositions.

Where the table comes from. SciGlass (EPAM Systems; ODbL) has no pinned download of its own; the PyPI
wheel `glasspy==0.4.0` ships a copy of it (`glasspy/data/datafiles/select_SciGK.csv.zip`, the property
table, and `select_Gcomp.csv.zip`, the compositions). A wheel on a package registry is a stable source with
a published sha256, so `amala data fetch sciglass_li_oxide` downloads that wheel (its sha256 pinned; no
glasspy code is installed or run), and `derive` turns it into the table, deterministically:

- glasses with a compound containing Li (compounds listed at 0 mol% do not count), and none containing S,
  Se, Te or N (sulfides, selenides, tellurides and LiPON-type glasses are not oxide glasses);
- with at least one resistivity value (RO20/RO100/RO150/RO300, log10 ρ in Ω·cm, or TK100C), none of them
  entered with the wrong sign (negative log10 ρ);
- log10 σ [S/cm] = −log10 ρ at 293/373/423/573 K; `ea_eV_fit`: the Arrhenius slope of log10 σ against 1/T
  over the temperatures below Tg − 20 K (≥ 2 points; all of them without a Tg), in eV.

The result is the 5,704-row `sciglass_li_oxide_glasses.csv` whose sha256 is pinned below (the same bytes as
the team's shared copy, with pandas 3.1). `read` then turns its compound names into amala's composition
representation (mole fractions, canonical spelling), refusing rows one reason at a time and counting them.

Units: conductivities log10(S/cm); temperatures K (Tg in °C, as SciGlass gives it); Ea eV.
"""

from __future__ import annotations

import io
import math
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pooch

from amala.core.composition import InvalidComposition, canonical_composition, component_elements
from amala.core.datasets import DatasetError, Table, retrieve

NAME = "sciglass_li_oxide"
FILE = "sciglass/sciglass_li_oxide_glasses.csv"  # under the data folder
WHEEL_URL = ("https://files.pythonhosted.org/packages/e5/2e/9e4da8af1dca53494ceb0ecb64e6e69735abceb6f9506b617332"
             "4ccb8905/glasspy-0.4.0-py3-none-any.whl")
WHEEL_SHA256 = "ebc0590b8bc99be1729ca3ff3be314bfd6d098d3d8efbb12f1c280f86ed1a8e6"
SHA256 = "ce0960799610789b75ad86df8bbfeae8b2d01bfc9a95ab4f042bdf520437e6cc"  # of the derived CSV
LICENSE = "ODbL (SciGlass, EPAM Systems), via the glasspy 0.4.0 wheel"
CITATION = ("SciGlass database (EPAM Systems, ODbL), as shipped in glasspy 0.4.0 (D. R. Cassar, "
            "github.com/drcassar/glasspy); cite the source papers of the rows used (author, year)")
MIN_ROWS = 5000
RESISTIVITY_K = {"RO20": 293.15, "RO100": 373.15, "RO150": 423.15, "RO300": 573.15}
SIGMA_COLUMNS = {round(T): f"log10_sigma_S_cm_{round(T)}K" for T in RESISTIVITY_K.values()}
UNITS = {**{column: "log10(S/cm)" for column in SIGMA_COLUMNS.values()}, "ea_eV_fit": "eV", "tg_C": "degC"}
K_B_EV = 8.617333e-5  # eV/K, to the digits the pinned table was computed with
NOT_OXIDE = {"S", "Se", "Te", "N"}
SUM_TOLERANCE = 0.5  # mol%: a row's compounds must sum to 100 within this
_ELEMENT = re.compile(r"[A-Z][a-z]?")

# per composition, as campaigns and oracles see it (`load_table`): property -> unit
PROPERTIES = {**{f"log10_conductivity_{T}K": "log10(S/cm)" for T in SIGMA_COLUMNS}, "ea": "eV", "tg": "degC"}
_SOURCE_COLUMN = {**{f"log10_conductivity_{T}K": c for T, c in SIGMA_COLUMNS.items()}, "ea": "ea_eV_fit",
                  "tg": "tg_C"}

__all__ = ["PROPERTIES", "GlassTable", "SciGlassError", "aggregate", "derive", "fetch", "load_table", "pool_for",
           "read", "read_row"]


class SciGlassError(DatasetError):
    """A SciGlass file or row amala cannot use; the message names it in one line."""


# --- the derivation -------------------------------------------------------------------------------

def _wheel_table(wheel: Path, name: str) -> pd.DataFrame:
    with zipfile.ZipFile(wheel) as outer:
        inner = zipfile.ZipFile(io.BytesIO(outer.read(f"glasspy/data/datafiles/select_{name}.csv.zip")))
        with inner.open(inner.namelist()[0]) as handle:
            return pd.read_csv(handle, sep="\t", low_memory=False)


def _compositions(gcomp: pd.DataFrame) -> list[dict[str, float]]:
    """Gcomp's `Composition` is one quoted string of fields separated by \\x7f, four per compound: name,
    molar mass, wt%, mol%. The mol% of each compound above 0."""
    out = []
    for text in gcomp["Composition"]:
        fields = text[1:-1].split("\x7f")
        amounts = {fields[4 * k]: float(fields[4 * k + 3]) for k in range(len(fields) // 4)}
        out.append({name: value for name, value in amounts.items() if value > 0})
    return out


def _arrhenius(sigmas: list[tuple[float, float]], tg_C: float) -> tuple[float, int]:
    """(Ea in eV, points used) from (T in K, log10 σ) pairs below Tg − 20 K; NaN below two points."""
    if math.isfinite(tg_C):
        sigmas = [(T, s) for T, s in sigmas if T < tg_C + 273.15 - 20]
    if len(sigmas) < 2:
        return math.nan, len(sigmas)
    T, log_sigma = np.array(sigmas).T
    slope = np.polyfit(1 / T, log_sigma, 1)[0]
    return float(-slope * np.log(10) * K_B_EV), len(sigmas)


def derive(wheel: str | Path) -> pd.DataFrame:
    """The table (columns of `sciglass_li_oxide_glasses.csv`, rows in SciGlass's order) from the wheel."""
    properties, gcomp = _wheel_table(Path(wheel), "SciGK"), _wheel_table(Path(wheel), "Gcomp")
    gcomp["amounts"] = _compositions(gcomp)
    elements = [set(_ELEMENT.findall("".join(amounts))) for amounts in gcomp["amounts"]]
    gcomp = gcomp[[("Li" in found) and not (found & NOT_OXIDE) for found in elements]]
    rows = properties.merge(gcomp[["Kod", "GlasNo", "amounts"]], left_on=["KOD", "GLASNO"],
                            right_on=["Kod", "GlasNo"])
    rows = rows[rows[[*RESISTIVITY_K, "TK100C"]].notna().any(axis=1)]
    rows = rows[~(rows[list(RESISTIVITY_K)] < 0).any(axis=1)]  # a resistivity entered with the wrong sign
    table = pd.DataFrame({
        "sciglass_kod": rows["KOD"], "sciglass_glasno": rows["GLASNO"],
        "composition_mol_percent": [";".join(f"{k}:{v:g}" for k, v in sorted(a.items())) for a in rows["amounts"]],
        "components": ["-".join(sorted(a)) for a in rows["amounts"]],
        "tg_C": rows["TG"]})
    for column, T in RESISTIVITY_K.items():
        table[SIGMA_COLUMNS[round(T)]] = -rows[column]
    table["tk100_C"] = rows["TK100C"]
    fits = [_arrhenius([(T, -row[c]) for c, T in RESISTIVITY_K.items() if math.isfinite(row[c])], row["TG"])
            for _, row in rows.iterrows()]
    table["ea_eV_fit"] = [ea for ea, _ in fits]
    table["n_temperatures_below_tg"] = [n for _, n in fits]
    table["author"], table["year"] = rows["Author"], rows["Year"]
    return table.reset_index(drop=True)


def fetch(dest_dir: Path, url: str = WHEEL_URL, timeout: float = 300) -> tuple[Path, bool]:
    """Download the pinned wheel (refused unless its sha256 is the pinned one), derive the table into
    `dest_dir/FILE` (atomically). Returns (path, whether its bytes are the pinned table's): another pandas
    may format a float differently, which is said, not refused (the source's bytes were checked)."""
    dest = Path(dest_dir) / FILE
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            wheel = retrieve(url, f"sha256:{WHEEL_SHA256}", "glasspy-0.4.0.whl", tmp, timeout)
        except ValueError as exc:  # pooch: hash mismatch
            raise SciGlassError(f"{url}: not the pinned glasspy 0.4.0 wheel ({exc}); download refused") from None
        except OSError as exc:
            raise SciGlassError(f"could not download {url}: {exc}") from exc
        partial = dest.with_suffix(".partial")
        derive(wheel).to_csv(partial, index=False)
        partial.replace(dest)
    return dest, pooch.file_hash(str(dest), alg="sha256") == SHA256


# --- reading it as compositions -------------------------------------------------------------------

def read_row(text: str) -> dict[str, float]:
    """SciGlass's `Li2O:33.3;SiO2:66.7` (mol%) as mole fractions; one-line refusal of an unknown compound
    (not a chemical formula of real elements), a negative or non-numeric amount, or amounts that do not
    sum to 100 ± 0.5 mol% (an incomplete analysis: renormalising would invent a glass)."""
    amounts = {}
    for item in str(text).split(";"):
        name, _, value = item.partition(":")
        try:
            component_elements(name)
        except InvalidComposition:
            raise SciGlassError(f"unknown compound {name!r}") from None
        try:
            amount = float(value)
        except ValueError:
            raise SciGlassError(f"{name}: amount {value!r} is not a number") from None
        if not math.isfinite(amount) or amount < 0:
            raise SciGlassError(f"{name}: negative or non-finite amount {value}")
        amounts[name] = amounts.get(name, 0.0) + amount
    total = sum(amounts.values())
    if abs(total - 100) > SUM_TOLERANCE:
        raise SciGlassError(f"amounts sum to {total:g} mol%, not 100 ± {SUM_TOLERANCE:g}")
    return {name: value / total for name, value in amounts.items()}


@dataclass
class GlassTable:
    """SciGlass rows as amala compositions: `frame` has `composition` (canonical spelling) and the
    measured columns; `dropped` counts the refused rows per reason, `examples` one message per reason."""

    frame: pd.DataFrame
    units: dict[str, str]
    source: str
    sha256: str
    verified: bool
    dropped: dict[str, int] = field(default_factory=dict)
    examples: dict[str, str] = field(default_factory=dict)


def _reason(message: str) -> str:
    if message.startswith("unknown compound"):
        return "unknown compound"
    if "sum to" in message:
        return "amounts not summing to 100 ± 0.5 mol%"
    return "negative or non-numeric amount"


def read(path: str | Path) -> GlassTable:
    """The table at `path` (a fetched or shared copy, or a subset in its columns), each row's composition
    read by `read_row`; refused rows are dropped and counted per reason, nothing else is changed."""
    path = Path(path)
    if not path.is_file():
        raise SciGlassError(f"dataset {NAME!r} not found at {path}: run `amala data fetch {NAME}` or set "
                            "AMALA_DATA_DIR / data.path to a local copy")
    try:
        raw = pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise SciGlassError(f"{path}: not a readable CSV ({exc})") from None
    needed = ["composition_mol_percent", *UNITS, "author", "year"]
    missing = [c for c in needed if c not in raw.columns]
    if missing:
        raise SciGlassError(f"{path}: missing column(s) {missing} for dataset {NAME!r}")
    compositions, dropped, examples = [], {}, {}
    for k, text in enumerate(raw["composition_mol_percent"]):
        try:
            compositions.append(canonical_composition(read_row(text)))
        except SciGlassError as exc:
            reason = _reason(str(exc))
            dropped[reason] = dropped.get(reason, 0) + 1
            examples.setdefault(reason, f"{path.name} row {k + 2}: {exc}")
            compositions.append(None)
    frame = raw.assign(composition=compositions).dropna(subset=["composition"]).reset_index(drop=True)
    for column in UNITS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    sha256 = pooch.file_hash(str(path), alg="sha256")
    return GlassTable(frame, dict(UNITS), str(path), sha256, sha256 == SHA256, dropped, examples)


# --- one row per composition: what a campaign looks up -----------------------------------------------

def aggregate(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per composition (`read`'s frame in): each property the **median** of the rows that have it
    (repeat measurements of one glass scatter by about half a decade, and a median is not pulled by one
    outlying paper), `<property>_std` their standard deviation (NaN below two values), `<property>_n`
    their count; `sources`: the distinct source papers (author year), `n_sources` their count."""
    out = {"composition": [], "sources": [], "n_sources": []}
    for prop in PROPERTIES:
        out.update({prop: [], f"{prop}_std": [], f"{prop}_n": []})
    for composition, rows in frame.groupby("composition", sort=True):
        out["composition"].append(composition)
        papers = sorted({f"{a} {int(y)}" if pd.notna(y) else str(a) for a, y in zip(rows["author"], rows["year"])})
        out["sources"].append("; ".join(papers))
        out["n_sources"].append(len(papers))
        for prop, column in _SOURCE_COLUMN.items():
            values = rows[column].dropna().to_numpy(dtype=float)
            out[prop].append(float(np.median(values)) if values.size else math.nan)
            out[f"{prop}_std"].append(float(values.std(ddof=1)) if values.size > 1 else math.nan)
            out[f"{prop}_n"].append(int(values.size))
    return pd.DataFrame(out)


def load_table(path: str | Path, subset: int | None = None, seed: int = 0) -> Table:
    """The table as campaigns use it (`datasets.load("sciglass_li_oxide")`): one row per composition
    (`aggregate`), `composition` the pool column; `dropped` holds one message per refused row."""
    glass = read(path)
    frame = aggregate(glass.frame)
    if subset is not None and subset < len(frame):
        frame = frame.sample(n=subset, random_state=seed).reset_index(drop=True)
    dropped = [f"{reason}: {n} row(s), e.g. {glass.examples[reason]}" for reason, n in glass.dropped.items()]
    return Table(NAME, frame, dict(PROPERTIES), glass.source, dropped, glass.sha256, glass.verified)


def pool_for(table: Table, prop: str) -> Table:
    """The compositions with a measured `prop`: a lookup campaign's pool (a candidate without the value
    could only fail, and a benchmark's top set is defined over these)."""
    if prop not in table.frame.columns:
        return table
    kept = table.frame[table.frame[prop].notna()].reset_index(drop=True)
    return Table(table.name, kept, table.units, table.source, table.dropped, table.sha256, table.verified)
