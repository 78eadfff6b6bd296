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


def test_a_run_whose_lease_was_taken_stores_nothing_more(tmp_path):
    """A run stalled past the ttl (kill -STOP, a suspended laptop) wakes up after another run took
    the campaign over: its next write, whatever it is, is refused and leaves the database as it was."""
    from amala.core.candidate import Candidate
    from amala.loop.store import Batch, LeaseLost, SelectedCandidate

    url = f"sqlite:///{tmp_path / 'amala.db'}"
    stalled, heir_store = Store(url), Store(url)
    campaign_id = stalled.open_campaign("leased", {}).id
    first = RunLease(stalled, campaign_id, "leased", ttl=0.5, beat=60).acquire()
    first._stop.set()  # stalled: no heartbeat
    batch = stalled.record_selection(campaign_id, "random", [SelectedCandidate(Candidate("[Cu]CCO[Au]"))])
    time.sleep(0.7)
    heir = RunLease(heir_store, campaign_id, "leased", ttl=0.5, beat=60).acquire()
    events = len(stalled.events(campaign_id))

    for write in (lambda: stalled.set_status(campaign_id, "running", "woke up"),
                  lambda: stalled.log(campaign_id, "run", "woke up"),
                  lambda: stalled.record_selection(campaign_id, "random",
                                                   [SelectedCandidate(Candidate("[Cu]CCCO[Au]"))]),
                  lambda: stalled.record_evaluations(campaign_id, Batch(batch.iteration_id, batch.index,
                                                                        batch.candidates), [], lambda e: None)):
        with pytest.raises(LeaseLost, match=r"^campaign leased: this run lost its lease to .*; it stored nothing"):
            write()
    assert len(stalled.events(campaign_id)) == events
    assert len(stalled.iterations(campaign_id)) == 1
    assert stalled.campaign("leased").run_owner == heir.owner  # the heir keeps its lease
    heir_store.log(campaign_id, "run", "the heir writes")  # and can write
    first.release()
    heir.release()
    stalled.log(campaign_id, "run", "a store that holds no lease writes as before")


@pytest.mark.flow
@pytest.mark.slow
def test_a_stopped_and_continued_run_stops_once_another_run_took_over(tmp_path, synthetic_htpmd):
    """The reliability trial's case: run A stopped (SIGSTOP) past the ttl, run B takes the campaign
    over and runs a batch, A continues (SIGCONT): A stores nothing more and exits 2 with one line; no
    candidate is evaluated twice and the batches stay whole."""
    import json
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    from pathlib import Path

    amala = str(Path(sys.executable).with_name("amala"))
    config = tmp_path / "lease.yaml"
    config.write_text(yaml.safe_dump({"name": "lease", "data": {"dataset": "htpmd", "path": str(synthetic_htpmd)},
                                      "acquisition": {"strategy": "qlognei", "batch_size": 10},
                                      "budget": {"initial": 10, "max_evaluations": 390}}))
    env = {**os.environ, "AMALA_HOME": str(tmp_path / "home"), "PREFECT_HOME": str(tmp_path / "prefect"),
           "AMALA_LEASE_TTL": "3"}
    env.pop("PREFECT_API_URL", None)
    env.pop("AMALA_DB_URL", None)
    database = tmp_path / "runs" / "lease" / "amala.db"

    def count(sql):
        try:
            with sqlite3.connect(database, timeout=10) as connection:
                return connection.execute(sql).fetchone()[0]
        except sqlite3.Error:
            return 0

    a = subprocess.Popen([amala, "run", str(config), "--no-progress"], cwd=tmp_path, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while count("select count(*) from evaluation") < 20:
        assert a.poll() is None and time.time() < deadline, a.communicate()
        time.sleep(0.1)
    for _ in range(200):  # stopped outside a write: one stopped inside holds SQLite's lock and blocks every writer
        a.send_signal(signal.SIGSTOP)
        try:
            with sqlite3.connect(database, timeout=0.5) as connection:
                connection.execute("BEGIN IMMEDIATE")
                connection.rollback()
            break
        except sqlite3.OperationalError:
            a.send_signal(signal.SIGCONT)
            time.sleep(0.05)
    try:
        time.sleep(4)  # past the ttl
        b = subprocess.run([amala, "run", str(config), "--no-progress", "--iterations", "1"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)
        assert b.returncode == 0, b.stderr[-2000:]
        after_b = count("select count(*) from evaluation")
    finally:
        a.send_signal(signal.SIGCONT)
    out, err = a.communicate(timeout=300)
    assert a.returncode == 2, (a.returncode, err[-2000:])
    assert err.strip().splitlines()[-1].startswith("error: campaign lease: this run lost its lease"), err[-2000:]
    assert count("select count(*) from evaluation") == after_b  # A stored nothing after B took over
    assert count("select count(*) from (select candidate_id, count(*) n from evaluation group by candidate_id "
                 "having n > 1)") == 0
    assert count("select max(n) from (select iteration_id, count(*) n from selection group by iteration_id)") == 10
    status = subprocess.run([amala, "status", "lease", "--json"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=60)
    assert json.loads(status.stdout)["evaluations"] == after_b


def test_two_runs_opening_one_new_campaign_at_the_same_moment(tmp_path):
    """Two `amala run`s started together on a new campaign: the later one used to fail with `table
    campaign already exists`; now both open the store, one campaign row exists, and the lease tells
    the second that the campaign is being run."""
    import threading

    for attempt in range(8):
        url = f"sqlite:///{tmp_path / f'race{attempt}.db'}"
        barrier, outcomes = threading.Barrier(2), []

        def run(url=url, barrier=barrier, outcomes=outcomes):
            barrier.wait()
            try:
                store = Store(url)
                row = store.open_campaign("race", {"budget": {"max_evaluations": 4}})
                RunLease(store, row.id, "race", ttl=30, beat=60).acquire()
                outcomes.append("ran")
            except CampaignBusy as exc:
                outcomes.append(str(exc))
            except Exception as exc:  # anything else is the bug
                outcomes.append(f"{type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes)[0].startswith("campaign race is already being run by"), outcomes
        assert sorted(outcomes)[1] == "ran", outcomes
        assert len(Store(url).campaigns()) == 1
