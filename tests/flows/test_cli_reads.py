"""The read-only commands read the store and nothing else (issue 11). `amala report`, `status` and
`pending` on a campaign whose agent is a GPT with a missing checkpoint must not load the dataset,
build an agent or train anything, and must leave the database byte for byte as it was; `status`
finds a campaign's database from its config wherever its `workdir` is; `approve` with no run
waiting stores a decision that needs no model without building the campaign."""

import hashlib
import json
import sqlite3
import time

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from amala.core.candidate import Candidate
from amala.core.evaluation import Evaluation, Measurement
from amala.flows.cli import app
from amala.loop.config import load_config
from amala.loop.objective import Objective
from amala.loop.status import record_objective
from amala.loop.store import SelectedCandidate, Store

CONFIG = {"name": "gen", "seed": 2, "data": {"dataset": "htpmd"},
          "objective": {"property": "conductivity", "direction": "maximize", "transform": "log10"},
          "agents": [{"kind": "gpt", "n": 4, "epochs": 1}], "oracle": {"kind": "lookup"},
          "approval": {"mode": "batch"}, "budget": {"initial": 3, "max_evaluations": 20}}


def _campaign(tmp_path, table, record: bool = True, **overrides):
    """A GPT campaign as a run leaves it: one evaluated batch and one waiting for approval, its
    workdir outside ./runs, the GPT's checkpoint never written. Returns (config path, config)."""
    checkpoint = tmp_path / "ckpt" / "missing"
    config = {**CONFIG, "workdir": str(tmp_path / "data" / "gen"), **overrides}
    config["agents"] = [{**config["agents"][0], "checkpoint": str(checkpoint)}]
    path = tmp_path / "gen.yaml"
    path.write_text(yaml.safe_dump(config))
    cfg = load_config(path)
    store = Store(cfg.database_url)
    row = store.open_campaign(cfg.name, cfg.model_dump(mode="json"))
    if record:  # what a run of this version stores for the readers
        record_objective(store, row.id, Objective(cfg.objective, table.units["conductivity"]), table)
    smiles = list(table.frame.smiles[:6])
    first = [Candidate(s, kind="smiles", agent="gpt") for s in smiles[:3]]
    batch = store.record_selection(row.id, "random (initial design)", [SelectedCandidate(c) for c in first])
    store.record_evaluations(row.id, batch, [
        Evaluation(c.key, "lookup", "htpmd", "ok", {"conductivity": Measurement(1e-4 * (i + 1), "S/cm")})
        for i, c in enumerate(first)], lambda e: float(np.log10(e.values["conductivity"].value)))
    second = [Candidate(s, kind="smiles", agent="gpt") for s in smiles[3:]]
    waiting = store.record_selection(row.id, "qlognei", [SelectedCandidate(c, -3.5, 0.2, -1.0) for c in second])
    store.request_approval(row.id, waiting, None)
    store.engine.dispose()  # the last connection closes: SQLite moves its write-ahead log into the file
    return path, cfg


def _snapshot(db_file):
    """The database file's bytes and mtime, and the row count of every table."""
    with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True) as connection:
        tables = [t for (t,) in connection.execute("select name from sqlite_master where type='table'")]
        counts = {t: connection.execute(f'select count(*) from "{t}"').fetchone()[0] for t in tables}
    connection.close()
    return hashlib.sha256(db_file.read_bytes()).hexdigest(), db_file.stat().st_mtime_ns, counts


@pytest.fixture
def nothing_heavy(monkeypatch):
    """Loading the dataset or pre-training the GPT fails the test (the old report did both)."""
    from amala.agents import smiles_gpt
    from amala.core import datasets
    from amala.loop import campaign

    def forbidden(what):
        def fail(*args, **kwargs):
            raise AssertionError(f"a read-only command called {what}")
        return fail

    monkeypatch.setattr(datasets, "load", forbidden("datasets.load"))
    monkeypatch.setattr(smiles_gpt, "pretrained", forbidden("smiles_gpt.pretrained"))
    monkeypatch.setattr(campaign.Campaign, "__init__", forbidden("Campaign()"))


def test_report_status_pending_of_a_gpt_campaign_neither_train_nor_write(data_env, synthetic_table, nothing_heavy,
                                                                         monkeypatch):
    monkeypatch.setenv("AMALA_HOME", str(data_env / "home"))
    path, cfg = _campaign(data_env, synthetic_table)
    db_file = cfg.work_path / "amala.db"
    before = _snapshot(db_file)
    time.sleep(0.05)  # an mtime written now would differ
    runner, start = CliRunner(), time.perf_counter()
    results = {command: runner.invoke(app, [command, str(path)]) for command in ("report", "status", "pending")}
    seconds = time.perf_counter() - start
    for command, result in results.items():
        assert result.exit_code == 0, (command, result.output)
    assert _snapshot(db_file) == before
    assert not (data_env / "ckpt").exists() and not (cfg.work_path / "checkpoints").exists()
    assert seconds < 60, f"read-only commands took {seconds:.0f} s"

    page = (cfg.work_path / "report" / "report.html").read_text()
    assert "log10 conductivity [log10(S/cm)]" in page  # the unit the run recorded, not rebuilt from the oracle
    assert "random-search baseline" not in results["report"].output  # the recorded pool gives it
    assert "log10 conductivity [log10(S/cm)]" in results["status"].output and "3/20" in results["status"].output
    assert "batch 1 (qlognei) waits for approval" in results["pending"].output
    [waiting] = [json.loads(line) for line in runner.invoke(app, ["pending", str(path), "--json"]).output.splitlines()]
    assert waiting["objective"] == "log10 conductivity [log10(S/cm)]" and len(waiting["candidates"]) == 3


def test_an_older_database_reports_the_unit_of_its_evaluations_or_says_unknown(data_env, synthetic_table,
                                                                               nothing_heavy):
    path, cfg = _campaign(data_env, synthetic_table, record=False)
    result = CliRunner().invoke(app, ["report", str(path)])
    assert result.exit_code == 0, result.output
    assert "no random-search baseline" in result.output
    assert "log10 conductivity [log10(S/cm)]" in (cfg.work_path / "report" / "report.html").read_text()

    empty = Store(f"sqlite:///{data_env / 'old.db'}")  # an old campaign with nothing evaluated yet
    empty.open_campaign("old", cfg.model_dump(mode="json") | {"name": "old"})
    result = CliRunner().invoke(app, ["status", "old", "--db", empty.url, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["objective"] == "log10 conductivity [unit unknown]"


def test_status_finds_the_database_of_a_config_whose_workdir_is_elsewhere(data_env, synthetic_table, monkeypatch):
    monkeypatch.setenv("AMALA_HOME", str(data_env / "home"))  # no campaign recorded by `amala run`
    path, cfg = _campaign(data_env, synthetic_table)
    elsewhere = data_env / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    result = CliRunner().invoke(app, ["status", str(path), "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert found["campaign"] == "gen" and found["evaluations"] == 3
    assert found["database"] == f"sqlite:///{data_env / 'data' / 'gen' / 'amala.db'}"
    assert not (elsewhere / "runs").exists()  # nothing was created where the command ran
    missing = CliRunner().invoke(app, ["status", "--db", f"sqlite:///{elsewhere / 'none.db'}"])
    assert missing.exit_code == 2 and "no database at" in missing.output
    assert not (elsewhere / "none.db").exists()  # a reader never creates a database


def test_approve_without_a_waiting_run_stores_a_smaller_batch_without_building_the_campaign(
        data_env, synthetic_table, nothing_heavy):
    path, cfg = _campaign(data_env, synthetic_table)
    result = CliRunner().invoke(app, ["approve", str(path), "--batch-size", "2", "--by", "dana"])
    assert result.exit_code == 0 and "(2 to evaluate)" in result.output, result.output
    store = Store(cfg.database_url)
    [(decision, iteration)] = store.decisions(store.campaign("gen").id)
    assert (decision.by, decision.via, decision.action, decision.batch_size, iteration.index) == \
        ("dana", "store", "edited", 2, 1)
