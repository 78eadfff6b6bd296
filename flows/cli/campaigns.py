"""How a command finds a campaign: its config file, its database, its row in it.

Commands that only read a campaign (`status`, `pending`, `report`) open its database and nothing
else, and find it by name from any folder (`amala.loop.known_campaigns`). Each failure is one line.
"""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from amala.flows.cli.app import err, fail

CAMPAIGN_HELP = "campaign name, or its config YAML (then its own database: `database`, else <workdir>/amala.db)"


def named(name: str) -> str:
    """A campaign name as typed, quoted, cut to 80 characters (a pasted 5,000-character one stays readable)."""
    return repr(name) if len(name) <= 80 else f"{name[:80]!r}..."


def load(config: Path):
    from amala.loop.config import ConfigError, load_config

    try:
        return load_config(config)
    except ConfigError as exc:
        fail(str(exc))


def open_store(url: str, create: bool = False):
    """The store at `url`; a SQLite file that is not there is an error (read-only commands never
    create one), unless `create` (a run)."""
    from amala.loop.status import CampaignNotFound, open_existing
    from amala.loop.store import DatabaseDamaged, Store

    try:
        return Store(url) if create else open_existing(url)
    except (CampaignNotFound, DatabaseDamaged) as exc:
        fail(str(exc))
    except Exception as exc:  # a bad URL, a missing driver, an unreadable file
        fail(f"cannot open the database {url}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")


def _open_or_warn(url: str):
    """The store at `url`, or None after one warning line saying why it is skipped (a damaged or
    unreadable database among several must not hide the others from `status` and `pending`)."""
    from amala.loop.status import open_existing

    try:
        return open_existing(url)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:400]
        err.print(f"[yellow]warning:[/yellow] skipped {escape(url)}: {escape(first)}", highlight=False)
        return None


def _locate(target: str | None, db: str | None) -> tuple[str | None, str | None]:
    """(name, database URL) of a campaign named by name or config file (`amala.loop.status.locate`)."""
    from amala.core.settings import SettingsError
    from amala.loop.config import ConfigError
    from amala.loop.status import locate

    try:
        return locate(target, db)
    except (ConfigError, SettingsError) as exc:  # a bad config file, a bad AMALA_DB_URL
        fail(str(exc))


def stores(campaign: str | None, db: str | None):
    """The stores to read and the campaign name to keep (None: every campaign in them)."""
    from amala.loop.status import every_database

    name, url = _locate(campaign, db)
    if name is None and url is None:  # every campaign: one database that cannot be read hides no other
        return None, [store for url in every_database() if (store := _open_or_warn(url)) is not None]
    if url is None:
        fail(f"no database for campaign {named(name)} (not under ./runs and not run from this account); "
             "pass --db URL or set AMALA_DB_URL")
    return name, [open_store(url)]


def validated_config(row):
    """The campaign's stored config, validated; a database written under older rules fails in
    one line naming the key instead of a pydantic traceback."""
    from pydantic import ValidationError

    from amala.loop.config import _one_line, stored_config

    try:
        return stored_config(row.config)
    except ValidationError as exc:
        fail(_one_line(exc, f"campaign {row.name} (stored config)"))


def campaign_row(campaign: str, db: str | None):
    name, [store] = stores(campaign, db)
    row = store.campaign(name)
    if row is None:
        fail(f"campaign {named(name)} is not in {store.url}")
    return store, row
