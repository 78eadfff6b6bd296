"""Checks of a valid config against this machine, before anything runs.

pydantic checks a config's shape; what it cannot see - the data file is missing, the database URL
does not parse or its driver is not installed, the work directory cannot be created - would
otherwise surface minutes into `amala run` as a traceback from deep inside Prefect or SQLAlchemy.
`check` finds these up front, one line per problem naming the key, and creates nothing: the work
directory is judged by its nearest existing parent, so `amala validate` leaves no folders behind.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from amala.core.redaction import redact
from amala.core.representations import Representation
from amala.core.settings import SettingsError, settings
from amala.loop.config import CampaignConfig
from amala.oracles.registry import ORACLES


def check(cfg: CampaignConfig) -> list[str]:
    """Every problem found, one line each naming the key (empty when the campaign can start)."""
    try:
        settings()
    except SettingsError as exc:
        return [str(exc)]  # the other checks read these variables (AMALA_DATA_DIR, AMALA_DB_URL)
    problems = [*_data(cfg), *_database(cfg), *_directory("workdir", cfg.work_path), *_local_models(cfg)]
    problems += (_dataset(cfg) or _objective_values(cfg)) if not problems else []
    problems += _potential(cfg) + _generator(cfg)
    return problems


def _data(cfg: CampaignConfig) -> list[str]:
    """The dataset file `amala run` would read (same rule as `amala.core.datasets.resolve_path`)."""
    if cfg.data is None:
        return []
    from amala.core.datasets import DatasetError, resolve_path

    key = "data.path" if cfg.data.path else "data.dataset"
    try:
        resolve_path(cfg.data.dataset, cfg.data.path)
    except DatasetError as exc:
        return [_keyed(key, exc)]
    except (OSError, ValueError) as exc:
        return [f"{key}: {cfg.data.path!r} cannot be read ({exc})"]
    return []


def _keyed(key: str, exc: Exception) -> str:
    """A data error as one line naming its key: its own (`data.temperature_gap_K=...`) or `key`."""
    message = " ".join(str(exc).split())
    return message if message.startswith("data.") else f"{key}: {message}"


def _dataset(cfg: CampaignConfig) -> list[str]:
    """The table `amala run` would load, loaded (a file that is no table, columns the dataset must
    have, too few rows), and the properties the config asks of it: `run` would otherwise refuse them
    only inside the Prefect flow, after creating the campaign's database."""
    if cfg.data is None:
        return []
    from amala.core import datasets

    key = "data.path" if cfg.data.path else "data.dataset"
    try:
        with warnings.catch_warnings():  # `run` says it once, when it loads the table for the campaign
            warnings.simplefilter("ignore", datasets.UnverifiedCopy)
            table = datasets.load(cfg.data.dataset, cfg.data.path, cfg.data.subset, cfg.seed)
    except datasets.DatasetError as exc:
        return [_keyed(key, exc)]
    except (OSError, ValueError, UnicodeError) as exc:  # pandas' ParserError is a ValueError
        first = (" ".join(str(exc).split()) or type(exc).__name__)[:200]
        return [f"{key}: {str(cfg.data.path or cfg.data.dataset)[:200]!r} cannot be read as the {cfg.data.dataset} "
                f"table ({first})"]
    if cfg.representation == Representation.FORMULATION:  # the campaign's pool: one row per formulation
        from amala.oracles.tables.formulation_lookup import formulation_table

        try:
            table = formulation_table(table, max_gap_K=cfg.data.temperature_gap_K)
        except ValueError as exc:
            return [_keyed(key, exc)]
    if len(table.frame) == 0:
        return [f"{key}: no rows of {table.name!r} are left to campaign over (data.temperature_gap_K, data.subset)"]
    offered = ORACLES[cfg.oracle.kind].offered
    if offered is None:  # the oracle builds no list of what it gives from a table
        return []
    offered = offered(table)
    asked = cfg.oracle.asked_properties() or []
    unknown = [p for p in asked if p not in offered]
    where = f"oracle kind {cfg.oracle.kind} on dataset {table.name!r} (it gives {sorted(offered)})"
    if unknown:
        return [f"oracle.properties: {unknown} not given by {where}"]
    for key, prop in cfg.output_keys:
        if prop not in offered:
            return [f"{key}: {prop!r} is not given by {where}"]
    return []


def _database(cfg: CampaignConfig) -> list[str]:
    """The URL parses, names a dialect SQLAlchemy has, and that dialect's driver imports; a SQLite
    file's folder can be created."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    key = "AMALA_DB_URL" if settings().db_url else "database"
    raw = cfg.database_url
    try:
        url = make_url(raw)
    except ArgumentError:
        return [f"{key}: {redact(raw)[:120]!r} is not a SQLAlchemy URL (e.g. sqlite:///runs/x/amala.db or "
                "postgresql+psycopg://user@host/db)"]
    try:
        dialect = url.get_dialect()
    except NoSuchModuleError:  # an ArgumentError too: the scheme names no dialect SQLAlchemy knows
        return [f"{key}: no SQLAlchemy dialect {url.drivername!r} (e.g. sqlite, postgresql+psycopg)"]
    shown = url.render_as_string(hide_password=True)
    try:
        (getattr(dialect, "import_dbapi", None) or dialect.dbapi)()
    except ImportError as exc:
        missing = getattr(exc, "name", None) or str(exc)
        return [f"{key}: the driver for {shown!r} is not installed (cannot import {missing}); install the "
                "package that provides it, or name an installed driver in the URL (dialect+driver://)"]
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        from amala.loop.store import DatabaseDamaged, check_integrity

        try:
            check_integrity(Path(url.database))
        except DatabaseDamaged as exc:
            return [f"{key}: {exc}"]
    default = key == "database" and cfg.database is None  # inside the workdir, which is checked on its own
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:" and not default:
        return _directory(key, Path(url.database).parent)
    return []


def _local_models(cfg: CampaignConfig) -> list[str]:
    """A local model's folder (an LLM's): missing, it would only show as a warning in every iteration's log."""
    return [f"agents.{i}.{key}: no model folder at {folder}" for i, agent in enumerate(cfg.agents)
            for key, folder in agent.local_folders().items() if not _is_dir(folder)]


def _potential(cfg: CampaignConfig) -> list[str]:
    """What an oracle that trains a potential (mlip) needs of this machine: a GPU torch can use for
    `device: cuda`, GPAW for the gpaw teacher, and a potential folder that exists or can be created
    (judged without creating it)."""
    if not ORACLES[cfg.oracle.kind].trains_potential:
        return []
    spec, problems = cfg.oracle, []
    if spec.device == "cuda":
        try:
            import torch

            gpu = torch.cuda.is_available()
        except ImportError as exc:
            problems.append(f"oracle.device: cuda, but torch cannot be imported ({exc})")
        else:
            if not gpu:
                problems.append("oracle.device: cuda, but torch sees no CUDA GPU on this machine "
                                "(torch.cuda.is_available() is False); use device: cpu")
    from amala.oracles.mlip.teachers import TEACHERS

    missing = TEACHERS[spec.teacher.kind].install_problem()
    if missing:
        problems.append(f"oracle.teacher.kind: {missing}")
    if spec.potential_folder:
        problems += _directory("oracle.potential_folder", Path(spec.potential_folder))
    return problems


def _generator(cfg: CampaignConfig) -> list[str]:
    """A structure generator the oracle starts its glasses from (`structure: {source: generator}`) must be
    found before the run, or every evaluation would fail with the same reason."""
    structure = getattr(cfg.oracle, "structure", None)
    if structure is None or not structure.generated:
        return []
    from amala.oracles.generator.generator import GenerationFailed, find

    try:
        find(structure.generator, also=(cfg.work_path / "generators",))
    except (GenerationFailed, FileNotFoundError, ValueError) as exc:
        return [f"oracle.structure.generator: {exc}"]
    return []


def _is_dir(path: str | None) -> bool:
    try:
        return bool(path) and Path(path).expanduser().is_dir()
    except (OSError, ValueError):
        return False


def _directory(key: str, path: Path) -> list[str]:
    """A folder that exists and is writable, or whose nearest existing parent is a writable folder
    (so it can be created) - found without creating anything."""
    try:
        target = Path(os.path.abspath(path))
        probe = target
        while not probe.exists():
            probe = probe.parent
        if not probe.is_dir():
            return [f"{key}: cannot create {path}: {probe} is not a directory"]
        if not os.access(probe, os.W_OK | os.X_OK):
            verb = "write in" if probe == target else "create folders in"
            return [f"{key}: cannot {verb} {probe} (no permission)"]
    except (OSError, ValueError) as exc:
        return [f"{key}: {str(path)[:120]!r} is not a usable path ({exc})"]
    return []


def _objective_values(cfg: CampaignConfig) -> list[str]:
    """A log10 objective (or constrained property) over a table property with values <= 0 (HTP-MD's
    transference numbers) would lose those candidates: refuse the config and say which transform works."""
    if cfg.data is None or not ORACLES[cfg.oracle.kind].gives_table_columns:
        return []
    import pandas as pd

    from amala.core.datasets import resolve_path

    targets = list(cfg.all_objectives) + list(cfg.constraints)
    for (key, prop), target in zip(cfg.output_keys, targets):
        if target.transform != "log10":
            continue
        try:
            column = pd.read_csv(resolve_path(cfg.data.dataset, cfg.data.path), usecols=[prop])[prop]
        except (ValueError, OSError, pd.errors.ParserError):
            return []  # a missing column or an unreadable table is reported, with its file, when the data loads
        values = pd.to_numeric(column, errors="coerce")
        bad = int((values <= 0).sum())
        if bad:
            where = key.rsplit(".", 1)[0]
            return [f"{where}.transform: log10 of {prop}, but {bad} of the dataset's {len(values)} values are <= 0 "
                    f"(e.g. {float(values[values <= 0].iloc[0]):g}) and cannot be log10-transformed; use transform: "
                    "none"]
    return []
