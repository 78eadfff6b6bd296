"""One run at a time per campaign, and a status that tells a dead run from a live one."""

from __future__ import annotations

import time

import pytest
import yaml
from typer.testing import CliRunner

from amala.flows.cli import app
from amala.loop.lease import CampaignBusy, RunLease, run_state
from amala.loop.store import Store


def _campaign(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'amala.db'}")
    row = store.open_campaign("leased", {"budget": {"max_evaluations": 10}})
    return store, row.id


def test_a_second_run_is_refused_while_the_first_is_alive(tmp_path):
    store, campaign_id = _campaign(tmp_path)
    first = RunLease(store, campaign_id, "leased", ttl=30, beat=0.1).acquire()
    try:
        with pytest.raises(CampaignBusy, match=r"campaign leased is already being run by .*:\d+:"):
            RunLease(store, campaign_id, "leased", ttl=30).acquire()
        before = store.campaign("leased").heartbeat
        time.sleep(0.4)
        assert store.campaign("leased").heartbeat > before  # the heartbeat thread renews it
    finally:
        first.release()
    second = RunLease(store, campaign_id, "leased", ttl=30).acquire()  # released: free at once
    assert second.previous is None
    second.release()


def test_a_run_that_died_is_reported_interrupted_and_taken_over(tmp_path):
    store, campaign_id = _campaign(tmp_path)
    dead = RunLease(store, campaign_id, "leased", ttl=0.5, beat=60).acquire()  # never beats again: "killed"
    dead._stop.set()
    store.set_status(campaign_id, "running", "run started")
    assert run_state(store.campaign("leased"), ttl=0.5) == "running"
    time.sleep(0.7)
    assert run_state(store.campaign("leased"), ttl=0.5) == "interrupted"
    heir = RunLease(store, campaign_id, "leased", ttl=0.5).acquire()
    assert heir.previous is not None and heir.previous.owner == dead.owner
    dead.release()  # the dead run's late release must not free the heir's lease
    assert store.campaign("leased").run_owner == heir.owner
    heir.release()


def test_amala_run_refuses_in_one_line_while_another_run_holds_the_campaign(tmp_path, synthetic_htpmd,
                                                                          monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AMALA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AMALA_DB_URL", raising=False)
    config = tmp_path / "busy.yaml"
    config.write_text(yaml.safe_dump({"name": "busy", "data": {"dataset": "htpmd", "path": str(synthetic_htpmd)},
                                      "oracle": {"kind": "lookup"}, "budget": {"initial": 4, "max_evaluations": 4}}))
    store = Store(f"sqlite:///{tmp_path / 'runs' / 'busy' / 'amala.db'}")
    row = store.open_campaign("busy", {"budget": {"max_evaluations": 4}})
    lease = RunLease(store, row.id, "busy", ttl=60).acquire()
    try:
        result = CliRunner().invoke(app, ["run", str(config)])
    finally:
        lease.release()
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code == 2 and len(lines) == 1 and "already being run by" in lines[0], result.output
    assert store.count_evaluations(row.id) == 0
