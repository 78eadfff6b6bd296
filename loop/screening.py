"""A virtual screen of formulations: train the formulation surrogate on measured conductivities, then
rank an unlabelled library (ChemArr's PolyInfo x 8 lithium salts) by its predicted conductivity.

Why a screen and not a campaign: nothing is evaluated. Every number it writes is a *prediction* of
`models.formulation_ensemble` (level of theory in every row: its fingerprint and graph networks averaged
with its forest), with its mixture standard deviation, its networks' Arrhenius parameters (Ea, log10 A) and
how far each polymer is from what the model was trained on (`nearest_training_similarity`: the largest
Tanimoto similarity, Morgan bits r=2, between the polymer and a training polymer; near 0 means the
prediction is an extrapolation).

Training rows are the measured formulations that pass the project's validity rules
(`agents.formulation.load_formulations`: a charge-balanced lithium salt, molality below 20 mol/kg),
every measured temperature kept (the Arrhenius readout learns the temperature dependence).
The library's formulations are scored at `temperature_C`, whatever temperature the table lists.

    amala screen configs/chemarr_screen.yaml      # -> runs/<name>/screen.csv, screen.json, screen.png

The CSV keeps each salt's SMILES (with its common name, LiTFSI..., in `salt_name` when it has one); the
printed table and the figure show the name.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch
from pydantic import Field, ValidationError, field_validator

from amala.core import datasets
from amala.core.formulation import CELSIUS_TO_K, load_formulations, salt_name
from amala.core.plugins import Float, Int, Spec, Text
from amala.loop.config import CampaignConfig, ConfigError, _one_line, _read_yaml
from amala.models.formulation_ensemble import FormulationEnsemble, FormulationEnsembleSpec

SCREEN_KEYS = ("train", "library")  # keys a screen config may have and a campaign config never has
UNITS = {"molality": "mol/kg", "log10_sigma": "log10(S/cm)", "sigma": "S/cm", "Ea": "eV", "log10_A": "log10(S/cm)",
         "temperature": "K"}


class TableRef(Spec):
    dataset: Text
    path: Text | None = None  # local copy; default: $AMALA_DATA_DIR/<the dataset's file>
    mw_unit: Literal["g/mol", "log10(g/mol)"] = "g/mol"


class ScreenConfig(Spec):
    name: Text
    seed: Int = Field(0, ge=0, le=2**32 - 1)
    workdir: Text | None = None  # default: runs/<name>
    train: TableRef = TableRef(dataset="chemarr")
    library: TableRef = TableRef(dataset="chemarr_screen", mw_unit="log10(g/mol)")
    surrogate: FormulationEnsembleSpec = FormulationEnsembleSpec()
    temperature_C: Float = Field(25.0, gt=-CELSIUS_TO_K, le=400, description="degC at which the library is scored")
    top: Int = Field(20, ge=1, le=100_000, description="rows printed (the CSV has every formulation)")
    chunk: Int = Field(4096, ge=1, le=1_000_000, description="formulations featurised and scored at a time")

    @field_validator("name", mode="before")
    @classmethod
    def _folder_name(cls, value):
        """The name is the folder runs/<name>, as a campaign's: the campaign rule, whole string matched (a
        pydantic `pattern` matches anywhere, so '../x' passed it and wrote to ./x)."""
        return CampaignConfig._folder_name(value)

    @property
    def work_path(self) -> Path:
        return Path(self.workdir or Path("runs") / self.name)


def load_screen_config(path: str | Path) -> ScreenConfig:
    """Read and validate a screening YAML; every problem is one `ConfigError` line naming the file."""
    try:
        return ScreenConfig.model_validate(_read_yaml(Path(path)) or {})
    except ValidationError as exc:
        raise ConfigError(_one_line(exc, str(path))) from None


def is_screen_config(path: str | Path) -> bool:
    """Whether a YAML file is a screen config (it names `train` or `library`), so `amala validate` can take
    both kinds; a file that cannot be read is not one (the campaign loader then says why)."""
    try:
        data = _read_yaml(Path(path))
    except ConfigError:
        return False
    return isinstance(data, dict) and any(key in data for key in SCREEN_KEYS)


def check_screen(cfg: ScreenConfig) -> list[str]:
    """What a screen would otherwise find only after minutes of training, one line per problem naming the
    key, creating nothing: both tables' files are there and the work folder can be written (the campaign
    preflight's rule, `amala.loop.preflight._directory`)."""
    from amala.core.settings import SettingsError, settings
    from amala.loop.preflight import _directory

    try:
        settings()
    except SettingsError as exc:
        return [str(exc)]  # AMALA_DATA_DIR locates the tables
    problems = []
    for key, ref in (("train", cfg.train), ("library", cfg.library)):
        field = f"{key}.path" if ref.path else f"{key}.dataset"
        try:
            datasets.resolve_path(ref.dataset, ref.path)
        except datasets.DatasetError as exc:
            problems.append(f"{field}: {str(exc).removeprefix('data.dataset: ')}")
        except (OSError, ValueError) as exc:
            problems.append(f"{field}: {ref.path!r} cannot be read ({exc})")
    return problems + _directory("workdir", cfg.work_path)


def _formulations(ref: TableRef, seed: int) -> tuple[pd.DataFrame, datasets.Table]:
    table = datasets.load(ref.dataset, ref.path, seed=seed)
    return load_formulations(table.frame, mw_unit=ref.mw_unit), table


def _bits(smiles: list[str]):
    from rdkit import Chem
    from rdkit.Chem import rdFingerprintGenerator

    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    return [generator.GetFingerprint(Chem.MolFromSmiles(s)) for s in smiles]


def nearest_similarity(polymers: list[str], training: list[str]) -> dict[str, float]:
    """Per polymer, its largest Tanimoto similarity to a training polymer (1.0: it was trained on)."""
    from rdkit import DataStructs

    train = _bits(training)
    return {p: float(max(DataStructs.BulkTanimotoSimilarity(fp, train)))
            for p, fp in zip(polymers, _bits(polymers))}


def run_screen(cfg: ScreenConfig, progress=None) -> tuple[pd.DataFrame, dict]:
    """Train, score every library formulation at `cfg.temperature_C`, and write screen.csv / screen.json
    (and screen.png) under the work folder. Returns the ranked frame and the provenance. A missing table
    or a work folder that cannot be written is refused first (`check_screen`), not after training."""
    problems = check_screen(cfg)
    if problems:
        raise ConfigError(f"screen {cfg.name}: {problems[0]}")
    started = time.perf_counter()
    measured, train_table = _formulations(cfg.train, cfg.seed)
    measured = measured[np.isfinite(measured.log10_sigma_S_cm)]
    if len(measured) < 2 or measured.polymer.nunique() < 2:
        raise ValueError(f"screen {cfg.name}: train table {train_table.source} has {len(measured)} usable "
                         "measurements; the surrogate needs at least 2 polymers")
    library, library_table = _formulations(cfg.library, cfg.seed)
    library = library.drop_duplicates("formulation").reset_index(drop=True)
    if library.empty:
        raise ValueError(f"screen {cfg.name}: library {library_table.source} has no valid formulation")
    model = FormulationEnsemble.from_spec(cfg.surrogate, None, seed=cfg.seed)
    X = model.table(list(measured.polymer), list(measured.salt), list(measured.molality), list(measured.mw))
    model.fit(X, torch.tensor(measured.log10_sigma_S_cm.to_numpy()),
              temperature_K=torch.tensor(measured.temperature_K.to_numpy()))
    trained = time.perf_counter()
    T = cfg.temperature_C + CELSIUS_TO_K
    parts = []
    chunks = range(0, len(library), cfg.chunk)
    for start in (progress(chunks) if progress else chunks):
        rows = library.iloc[start:start + cfg.chunk]
        x = model.table(list(rows.polymer), list(rows.salt), list(rows.molality), list(rows.mw))
        mean, std = model.predict(x, temperature_K=T)
        params, params_std = model.arrhenius(x)
        parts.append(np.column_stack([mean.numpy(), std.numpy(), params[:, 1].numpy(), params_std[:, 1].numpy(),
                                      params[:, 0].numpy(), params_std[:, 0].numpy()]))
    scores = np.vstack(parts)
    similarity = nearest_similarity(sorted(set(library.polymer)), sorted(set(measured.polymer)))
    graphs = f" + {cfg.surrogate.graph_members} graph networks" if cfg.surrogate.graph_members else ""
    blend = f" + a {cfg.surrogate.forest_trees}-tree forest" if cfg.surrogate.forest_trees else ""
    level = (f"prediction: formulation_ensemble ({cfg.surrogate.members} networks{graphs}{blend}) trained on "
             f"{len(measured)} measured conductivities ({train_table.name}); not a measurement")
    names = {salt: salt_name(salt) or "" for salt in set(library.salt)}  # "": no common name, the SMILES is shown
    frame = pd.DataFrame({
        "formulation": library.formulation, "polymer": library.polymer, "salt": library.salt,
        "salt_name": library.salt.map(names),
        "molality_mol_kg": library.molality, "temperature_K": T,
        "log10_sigma_S_cm": scores[:, 0], "log10_sigma_std": scores[:, 1], "sigma_S_cm": 10.0 ** scores[:, 0],
        "Ea_eV": scores[:, 2], "Ea_std_eV": scores[:, 3], "log10_A_S_cm": scores[:, 4], "log10_A_std": scores[:, 5],
        "nearest_training_similarity": library.polymer.map(similarity).round(3),
        "polymer_in_training": library.polymer.isin(set(measured.polymer)),
        "level_of_theory": level,
    }).sort_values("log10_sigma_S_cm", ascending=False, kind="stable").reset_index(drop=True)
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    about = {
        "name": cfg.name, "level_of_theory": level, "temperature_K": T, "units": UNITS,
        "train": {"dataset": train_table.name, "source": train_table.source, "sha256": train_table.sha256,
                  "verified": train_table.verified, "measurements": len(measured),
                  "polymers": int(measured.polymer.nunique()), "salts": int(measured.salt.nunique()),
                  "dropped_rows": measured.attrs.get("dropped", {})},
        "library": {"dataset": library_table.name, "source": library_table.source, "sha256": library_table.sha256,
                    "formulations": len(library), "polymers": int(library.polymer.nunique()),
                    "dropped_rows": library.attrs.get("dropped", {})},
        "model": model.describe(), "seed": cfg.seed,
        "seconds": {"train": round(trained - started, 1), "total": round(time.perf_counter() - started, 1)},
    }
    work = cfg.work_path
    work.mkdir(parents=True, exist_ok=True)
    frame.to_csv(work / "screen.csv", index=False)
    (work / "screen.json").write_text(json.dumps(about, indent=2, default=str))
    _figure(frame, about, work / "screen.png")
    return frame, about


def _figure(frame: pd.DataFrame, about: dict, path: Path) -> None:
    """Predicted log10 sigma against its std, one colour per salt: where the promising and the
    uncertain formulations are."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for salt, rows in frame.groupby("salt", sort=True):
        label = rows.salt_name.iloc[0] or salt[:40]
        ax.scatter(rows.log10_sigma_std, rows.log10_sigma_S_cm, s=6, alpha=0.5, label=label)
    ax.set_xlabel("ensemble std of log10 σ (log10 S/cm)")
    ax.set_ylabel(f"predicted log10 σ at {about['temperature_K']:.2f} K (log10 S/cm)")
    ax.set_title(f"{about['name']}: {len(frame)} formulations (predictions, not measurements)", fontsize=9)
    if frame.salt.nunique() <= 12:
        ax.legend(fontsize=6, markerscale=2, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
