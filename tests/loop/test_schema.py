"""Schema upgrades through Alembic (amala.loop.schema): a database written by the release before
Alembic (tests/data/store_0_1_0.db, made by tests/data/make_store_0_1_0.py with commit 4fa3fae)
and databases of each older schema open with every row intact; a new database is created at head;
the migrations build exactly the tables `amala.loop.tables` declares."""

import shutil
import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlmodel import SQLModel

from amala.loop import schema
from amala.loop.store import Store

RELEASE_DB = Path(__file__).parents[1] / "data" / "store_0_1_0.db"
TABLES = ["campaign", "candidate", "model_version", "iteration", "selection", "evaluation", "decision", "event"]


def _rows(path: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(path) as db:
        return {t: db.execute(f'SELECT * FROM "{t}" ORDER BY id').fetchall() for t in TABLES
                if db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (t,)).fetchone()}


def _revision(path: Path) -> str | None:
    with create_engine(f"sqlite:///{path}").connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _migrate_to(path: Path, revision: str) -> None:
    """A database at an older revision, as a release of that time left it (no version table)."""
    config, _ = schema._scripts()
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        config.attributes.pop("connection")
        connection.exec_driver_sql("DROP TABLE alembic_version")
    engine.dispose()


def test_the_pre_alembic_release_database_upgrades_with_every_row(tmp_path):
    db = tmp_path / "amala.db"
    shutil.copy(RELEASE_DB, db)
    before = _rows(db)
    assert _revision(db) is None and all(before[t] for t in TABLES)  # every kind of row is in the fixture

    store = Store(f"sqlite:///{db}")
    assert _revision(db) == schema.head()
    assert _rows(db) == before  # nothing lost, nothing changed
    campaign = store.campaign("release-0.1.0")
    assert len(store.evaluations(campaign.id)) == len(before["evaluation"]) == 6
    assert [i.index for i in store.iterations(campaign.id)] == [0, 1, 2]
    assert len(store.model_versions(campaign.id)) == len(before["model_version"])
    assert len(store.events(campaign.id)) == len(before["event"])
    assert [d.action for d, _ in store.decisions(campaign.id)] == ["edited"]
    assert len(store.pending_batch(campaign.id).candidates) == 1  # the edited batch still waits, one rejected
    Store(f"sqlite:///{db}")  # opening again at head changes nothing
    assert _rows(db) == before


@pytest.mark.parametrize("revision", ["0001_initial", "0002_evaluation_provenance", "0003_approvals"])
def test_an_older_schema_gains_the_new_columns(tmp_path, revision):
    db = tmp_path / "old.db"
    _migrate_to(db, revision)
    with sqlite3.connect(db) as old:
        old.execute("INSERT INTO campaign (id, name, config, status, created_at, updated_at) "
                    "VALUES (1, 'old', '{\"budget\": 3}', 'finished', '2026-11-01 10:00:00', '2026-11-01 11:00:00')")
        old.execute("INSERT INTO candidate (id, campaign_id, key, kind, representation, agent, created_at) "
                    "VALUES (1, 1, 'k1', 'smiles', '[Cu]CCO[Au]', 'pool', '2026-11-01 10:00:00')")
        old.execute("INSERT INTO iteration (id, campaign_id, \"index\", strategy, status, n_scored, fit_seconds, "
                    "score_seconds, select_seconds, evaluate_seconds, created_at) "
                    "VALUES (1, 1, 0, 'random', 'evaluated', 0, 0, 0, 0, 2.5, '2026-11-01 10:00:00')")
        old.execute("INSERT INTO evaluation (id, candidate_id, iteration_id, oracle, fidelity, status, \"values\", "
                    "objective, cost_seconds, artefacts, created_at) VALUES (1, 1, 1, 'lookup', 'published', 'ok', "
                    "'{\"conductivity\": {\"value\": 0.001, \"unit\": \"S/cm\", \"std\": null}}', -3.0, 0, '{}', "
                    "'2026-11-01 10:00:00')")
    store = Store(f"sqlite:///{db}")
    assert _revision(db) == schema.head()
    (candidate, evaluation), = store.evaluations(1)
    assert evaluation.values["conductivity"]["value"] == 0.001 and evaluation.provenance == {}
    assert candidate.provenance == {} and store.iterations(1)[0].approval == "auto"
    assert store.campaign("old").run_owner is None and store.campaign("old").config == {"budget": 3}


def test_migrations_build_the_declared_tables(tmp_path):
    """From an empty database, the migrations alone give what `amala.loop.tables` declares: a column
    added to a table without a migration fails here."""
    db = tmp_path / "migrated.db"
    _migrate_to(db, "head")
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), SQLModel.metadata) == []
    fresh = Store(f"sqlite:///{tmp_path / 'fresh.db'}").engine
    for table in TABLES:
        migrated = {c["name"]: (str(c["type"]), c["nullable"]) for c in inspect(engine).get_columns(table)}
        assert migrated == {c["name"]: (str(c["type"]), c["nullable"]) for c in inspect(fresh).get_columns(table)}


def test_a_new_store_is_created_at_head(tmp_path):
    Store(f"sqlite:///{tmp_path / 'new.db'}")
    assert _revision(tmp_path / "new.db") == schema.head()
    assert Store("sqlite://").campaigns() == []


def test_a_database_from_a_newer_amala_is_refused_in_one_line(tmp_path):
    db = tmp_path / "future.db"
    Store(f"sqlite:///{db}")
    with sqlite3.connect(db) as future:
        future.execute("UPDATE alembic_version SET version_num = '0099_from_the_future'")
    with pytest.raises(schema.SchemaError, match=r"future.db: schema revision '0099_from_the_future' is not known") \
            as error:
        Store(f"sqlite:///{db}")
    assert "\n" not in str(error.value)


def test_resuming_a_release_database_with_the_same_config_records_no_change(tmp_path):
    """The release stored every kind's keys in its config; the same settings in today's form are not
    a change (no 'resumed with changed config keys' warning, the stored config is left as it was)."""
    from amala.loop.campaign import _current_form
    from amala.loop.config import stored_config

    path = tmp_path / "release.db"
    shutil.copy(RELEASE_DB, path)
    store = Store(f"sqlite:///{path}")
    with sqlite3.connect(path) as db:
        name, = db.execute("SELECT name FROM campaign").fetchone()
    row = store.open_campaign(name, _current_form(_stored(path)), normalize=_current_form)
    assert not [e for e in store.events(row.id) if e.kind == "config"]
    changed = stored_config(_stored(path)).model_dump(mode="json")
    changed["seed"] += 1
    store.open_campaign(name, changed, normalize=_current_form)  # a real change is still recorded, by key
    assert [e.message for e in store.events(row.id) if e.kind == "config"] == ["resumed with changed config keys "
                                                                               "['seed']"]


def _stored(path: Path) -> dict:
    import json

    with sqlite3.connect(path) as db:
        return json.loads(db.execute("SELECT config FROM campaign").fetchone()[0])
