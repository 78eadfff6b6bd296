"""Where each campaign lives, so `amala status NAME` works from any folder.

`amala run` records each campaign's database URL (SQLite paths made absolute), work folder and
config file in a small JSON file in the user's data folder ($AMALA_HOME, else
$XDG_DATA_HOME/amala, else ~/.local/share/amala). Commands that only read a campaign look it up
there when it is not under ./runs. The file is a convenience index, never the source of truth: a
campaign's state is only in its database.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from sqlalchemy.engine import make_url

from amala.core.settings import settings


def home() -> Path:
    configured = settings().home  # AMALA_HOME
    if configured:
        return configured
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "amala"


def index_path() -> Path:
    return home() / "campaigns.json"


def absolute_url(url: str) -> str:
    """A SQLite URL with an absolute path (other databases are left as they are)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return url
    return parsed.set(database=str(Path(parsed.database).expanduser().resolve())).render_as_string(hide_password=False)


def known() -> dict[str, dict]:
    """name -> {"database", "workdir", "config"}; an unreadable index counts as empty, and an entry
    that is not a campaign's (a damaged or hand-edited file) is left out, so it hides no other."""
    try:
        entries = json.loads(index_path().read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(entries, dict):
        return {}
    return {name: entry for name, entry in entries.items()
            if isinstance(entry, dict) and isinstance(entry.get("database"), str)}


def remember(name: str, database_url: str, workdir: Path, config: Path | None, api_url: str | None = None) -> None:
    """Record (or update) a campaign's location, and the Prefect API its current run talks to
    (so `amala approve` reaches a run's temporary API); written atomically, never fatal."""
    entries = known()
    entries[name] = {"database": absolute_url(database_url), "workdir": str(Path(workdir).resolve()),
                     "config": str(Path(config).resolve()) if config else None, "api_url": api_url}
    try:
        index_path().parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=index_path().parent, delete=False, suffix=".tmp") as out:
            json.dump(entries, out, indent=1, sort_keys=True)
        os.replace(out.name, index_path())
    except OSError:
        pass  # a read-only home: commands still find campaigns under ./runs or with --db


def database_of(name: str) -> str | None:
    entry = known().get(name)
    return entry["database"] if entry else None
