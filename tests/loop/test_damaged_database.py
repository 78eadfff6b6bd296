"""A damaged campaign database is never written to, and hides no other campaign.

The reliability trial overwrote 4 KB in the middle of a campaign's SQLite file: `amala run` then
stored a whole batch into it (exit 0), `pending` said nothing waited, and only `status`/`report`
failed, with a Python exception name. Now every store runs SQLite's quick integrity check when it
opens an existing file and refuses a damaged one in one line that names it and says how to recover;
`status` and `pending` skip it with a warning and show the other campaigns."""

from __future__ import annotations

import hashlib
import json

import pytest
import yaml
from typer.testing import CliRunner

from amala.flows.cli import app
from amala.loop.store import DatabaseDamaged, Store


def _campaign_database(path, name: str):
    store = Store(f"sqlite:///{path}")
    campaign_id = store.open_campaign(name, {"budget": {"max_evaluations": 10}}).id
    for i in range(1500):  # ~300 KB: a file as big as a short campaign's
        store.log(campaign_id, "run", f"event {i} " + "x" * 120)
    store.engine.dispose()
    return path


def _damage(path) -> str:
    with open(path, "r+b") as handle:
        handle.seek(200_000)
        handle.write(b"\xab" * 4096)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_damaged_file_is_refused_in_one_line_naming_it(tmp_path):
    path = _campaign_database(tmp_path / "amala.db", "c")
    assert path.stat().st_size > 204_800
    before = _damage(path)
    with pytest.raises(DatabaseDamaged) as refused:
        Store(f"sqlite:///{path}")
    message = str(refused.value)
    assert "\n" not in message and str(path) in message and ".recover" in message
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_run_writes_nothing_into_a_damaged_database(tmp_path, synthetic_htpmd, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AMALA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AMALA_DB_URL", raising=False)
    path = _campaign_database(tmp_path / "shared.db", "other")
    before = _damage(path)
    config = tmp_path / "new.yaml"
    config.write_text(yaml.safe_dump({"name": "new", "data": {"dataset": "htpmd", "path": str(synthetic_htpmd)},
                                      "database": f"sqlite:///{path}",
                                      "budget": {"initial": 4, "max_evaluations": 4}}))
    result = CliRunner().invoke(app, ["run", str(config), "--no-progress"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "is damaged" in lines[0] and str(path) in lines[0], result.output
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_status_and_pending_show_the_other_campaigns(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AMALA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AMALA_DB_URL", raising=False)
    (tmp_path / "runs" / "good").mkdir(parents=True)
    (tmp_path / "runs" / "bad").mkdir(parents=True)
    _campaign_database(tmp_path / "runs" / "good" / "amala.db", "good")
    _damage(_campaign_database(tmp_path / "runs" / "bad" / "amala.db", "bad"))
    (tmp_path / "home").mkdir()
    for index in ("[1, 2]", '{"x": 5, "y": {"database": 3}}', "\x00\xff garbage"):  # a damaged index too
        (tmp_path / "home" / "campaigns.json").write_text(index)
        status = CliRunner().invoke(app, ["status", "--json"])
        assert status.exit_code == 0, status.output
        rows = [json.loads(line) for line in status.output.splitlines() if line.startswith("{")]
        assert [row["campaign"] for row in rows] == ["good"], status.output
        assert "skipped" in status.output and "is damaged" in status.output
        pending = CliRunner().invoke(app, ["pending"])
        assert pending.exit_code == 0 and "no batch is waiting for approval" in pending.output, pending.output
