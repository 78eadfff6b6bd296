"""What the read-only commands (`status`, `pending`, `report`) know about a campaign, from its
store alone: where its database is, its objective with unit, its best value. Nothing is rebuilt:
no dataset, agent, oracle or surrogate is loaded, and nothing is written. This is the one place
these facts are resolved, so every command says the same.

The objective's unit (and, for dataset campaigns, the pool's objective values behind the report's
random-search baseline) come from the oracle and dataset, which a reader must not load. The
campaign therefore records them when it runs (`record_objective`, an `objective` event); an older
database without that event falls back to the unit stored with its evaluations, else says
"unit unknown".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from amala.core.settings import settings
from amala.loop import known_campaigns
from amala.loop.lease import holder, run_state

OBJECTIVE_EVENT = "objective"  # event kind holding the objective's unit and pool values
UNKNOWN_UNIT = "unit unknown"


class CampaignNotFound(LookupError):
    """No database (or no campaign in it) for what the user named; the message is one line."""


# --- where a campaign's database is ------------------------------------------------------------

def _is_file(path: Path) -> bool:
    """Path.is_file, and False for a name the OS refuses to look up (longer than NAME_MAX): a
    campaign name is typed by a person, and a 5,000-character one is simply not a campaign."""
    try:
        return path.is_file()
    except OSError:
        return False


def is_config_file(target: str | None) -> bool:
    return bool(target) and target.endswith((".yaml", ".yml")) and _is_file(Path(target))


def locate(target: str | None, db: str | None = None) -> tuple[str | None, str | None]:
    """(campaign name, database URL) for a campaign named by name or by its config file.

    A config file is read for its name and its own database (its `database`, else
    `<workdir>/amala.db`); a name is looked up as: --db, $AMALA_DB_URL, ./runs/<name>/amala.db,
    then the location `amala run` recorded for it (from any folder). The URL is None when nothing
    is known."""
    if is_config_file(target):
        from amala.loop.config import load_config

        cfg = load_config(Path(target))  # ConfigError: one line naming the file and key
        return cfg.name, db or cfg.database_url
    url = db or settings().db_url
    if url is not None or not target:
        return target, url
    path = Path("runs") / target / "amala.db"
    if _is_file(path):
        return target, f"sqlite:///{path}"
    return target, known_campaigns.database_of(target)


def every_database() -> list[str]:
    """Databases of all campaigns this user can see: ./runs/*/amala.db and those `amala run` recorded."""
    urls = [known_campaigns.absolute_url(f"sqlite:///{p}") for p in sorted(Path("runs").glob("*/amala.db"))]
    urls += [entry["database"] for entry in known_campaigns.known().values()]
    return [url for url in dict.fromkeys(urls) if sqlite_file(url) is None or sqlite_file(url).is_file()]


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory ones)."""
    if not url.startswith("sqlite:///") or url == "sqlite:///:memory:":
        return None
    return Path(url.removeprefix("sqlite:///"))


def open_existing(url: str):
    """The store at `url` for reading; a SQLite file that does not exist is not created."""
    from amala.loop.store import Store

    path = sqlite_file(url)
    if path is not None and not path.is_file():
        raise CampaignNotFound(f"no database at {path}")
    return Store(url)


def workdir_of(row) -> Path:
    """The campaign's work folder: the config's when it exists here, else where `amala run` recorded it."""
    configured = Path(row.config.get("workdir") or Path("runs") / row.name)
    recorded = known_campaigns.known().get(row.name, {}).get("workdir")
    return Path(recorded) if recorded and not configured.is_dir() else configured


# --- the objective ----------------------------------------------------------------------------

@dataclass(frozen=True)
class StoredObjective:
    """The campaign's objective as stored: enough for labels, ranking and the report's baseline.
    Has the attributes `amala.loop.objective.Objective` reads from a spec and those the report uses."""

    property: str
    direction: str = "maximize"
    transform: str = "none"
    unit: str | None = None  # None: neither recorded nor found with any evaluation
    pool: tuple[float, ...] | None = None  # transformed objective of every dataset row (random baseline)

    @property
    def sign(self) -> int:
        return 1 if self.direction == "maximize" else -1

    @property
    def label(self) -> str:
        """'log10 conductivity [log10(S/cm)]', or '... [unit unknown]' for an old database."""
        if self.unit is None:
            name = self.property if self.transform == "none" else f"{self.transform} {self.property}"
            return f"{name} [{UNKNOWN_UNIT}]"
        from amala.loop.objective import Objective

        return Objective(self, self.unit).label


def _from_config(config: dict, unit: str | None, pool=None) -> StoredObjective:
    spec = config.get("objective") or {}
    return StoredObjective(spec.get("property", "objective"), spec.get("direction", "maximize"),
                           spec.get("transform", "none"), unit, None if pool is None else tuple(pool))


def stored_objective(store, row, evaluations=None) -> StoredObjective:
    """The objective of a stored campaign: unit and pool as the campaign recorded them, else the
    unit measured with its evaluations (pass them when already read), else unknown."""
    recorded = _recorded(store, row.id)
    prop = (row.config.get("objective") or {}).get("property")
    if recorded and recorded.get("property") == prop:
        return _from_config(row.config, recorded.get("unit"), recorded.get("pool"))
    for _, e in evaluations if evaluations is not None else store.evaluations(row.id):
        unit = (e.values or {}).get(prop, {}).get("unit")
        if unit:
            return _from_config(row.config, unit)
    return _from_config(row.config, None)


def _recorded(store, campaign_id: int) -> dict | None:
    events = [e for e in store.events(campaign_id) if e.kind == OBJECTIVE_EVENT]
    return events[-1].data if events else None


def record_objective(store, campaign_id: int, objective, table=None, others=()) -> None:
    """Called by a running campaign: store the objective's unit and, when it has a dataset, the
    pool's transformed objective values, so the read-only commands need neither oracle nor dataset.
    `others`: a multi-objective campaign's further objectives and constrained properties, recorded with their
    units and, with a dataset, the pool's rows of every one (transformed; NaN where a value cannot be), which
    the report's random-search hypervolume needs. Written only when it differs from what is recorded (a
    resume adds nothing)."""
    pool = None
    if table is not None and objective.property in table.frame:
        pool = sorted(_transformed(objective, table.frame[objective.property]))
    data = {"property": objective.property, "transform": objective.transform, "unit": objective.unit,
            "pool": pool}
    if others:
        data["others"] = [{"property": o.property, "transform": o.transform, "unit": o.unit} for o in others]
        targets = [objective, *others]
        if table is not None and all(t.property in table.frame for t in targets):
            data["pool_rows"] = [[_one(t, v) for t, v in zip(targets, row)]
                                 for row in table.frame[[t.property for t in targets]].itertuples(index=False)]
    if _recorded(store, campaign_id) != data:
        store.log(campaign_id, OBJECTIVE_EVENT, f"objective {objective.label}", data=data)


def _one(objective, value) -> float | None:
    """One transformed value, None where it cannot be (JSON has no NaN)."""
    value = objective.value_of(value)
    return value if value is not None and math.isfinite(value) else None


def recorded_outputs(store, campaign_id: int) -> dict | None:
    """What `record_objective` stored for the report (units and pool rows of every modelled output)."""
    return _recorded(store, campaign_id)


def _transformed(objective, values) -> list[float]:
    """The finite transformed values (those that cannot be transformed left out)."""
    return [v for v in (_one(objective, value) for value in values) if v is not None]


def best_value(config: dict, values: list[float]) -> float | None:
    """The best stored objective (transformed, natural direction) under the campaign's direction."""
    if not values:
        return None
    return (max if config.get("objective", {}).get("direction", "maximize") == "maximize" else min)(values)


# --- status -----------------------------------------------------------------------------------

def utc_text(moment) -> str | None:
    """A UNIX time or datetime as 'YYYY-MM-DD HH:MM:SS' in UTC (None stays None)."""
    if moment is None:
        return None
    if isinstance(moment, (int, float)):
        moment = datetime.fromtimestamp(moment, tz=timezone.utc)
    return f"{moment:%Y-%m-%d %H:%M:%S}"


def summary(store, row) -> dict:
    """One campaign's state as plain data (the table and `--json` print the same facts). `state`
    is `interrupted` when the stored status claims a run whose heartbeat has stopped."""
    evaluations = store.evaluations(row.id)
    iterations = store.iterations(row.id)
    values = [e.objective for _, e in evaluations if e.objective is not None]
    held = holder(row)
    return {"campaign": row.name, "state": run_state(row), "stored_status": row.status,
            "evaluations": len(evaluations), "budget": row.config.get("budget", {}).get("max_evaluations"),
            "failed": sum(e.status != "ok" for _, e in evaluations), "batches": len(iterations),
            "best": best_value(row.config, values), "objective": stored_objective(store, row, evaluations).label,
            "last_batch": utc_text(iterations[-1].created_at) if iterations else None,
            "heartbeat": utc_text(held.heartbeat), "run_owner": held.owner, "database": store.url}
