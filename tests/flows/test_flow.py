"""End to end through the real Prefect flow (a temporary Prefect API server), on a 300-polymer
subset of the synthetic HTP-MD-shaped table (conftest's `data_env`): run, get interrupted mid-batch, resume,
and never evaluate a candidate twice."""

import collections

import pytest
import yaml
from typer.testing import CliRunner

from amala.flows.campaign_flow import campaign_flow
from amala.flows.cli import app
from amala.loop.campaign import Campaign
from amala.loop.config import load_config

pytestmark = [pytest.mark.slow, pytest.mark.flow]

CONFIG = {
    "name": "e2e",
    "seed": 3,
    "data": {"dataset": "htpmd", "subset": 300},
    "objective": {"property": "conductivity", "direction": "maximize", "transform": "log10"},
    "oracle": {"kind": "lookup", "properties": ["conductivity", "li_diffusivity"]},
    "acquisition": {"strategy": "qlognei", "batch_size": 5, "prescreen": 100, "mc_samples": 64},
    "budget": {"initial": 20, "max_evaluations": 40},
}


def _evaluated_keys(campaign):
    return [c.key for c, _ in campaign.store.evaluations(campaign.id)]


def test_campaign_runs_resumes_and_never_evaluates_twice(data_env, prefect_server):
    path = data_env / "e2e.yaml"
    path.write_text(yaml.safe_dump(CONFIG))

    first = campaign_flow(str(path), max_iterations=2)  # initial design + one model-chosen batch
    assert first["evaluations"] == 25 and not first["final"]

    # A crash after selection, before evaluation: the batch is stored but has no results.
    crashed = Campaign(load_config(path))
    pending = crashed.select_batch(crashed.propose())
    assert crashed.pending_batch().index == pending.index == 2

    resumed = campaign_flow(str(path), max_iterations=1)  # resumes the pending batch first
    assert resumed["evaluations"] == 30
    campaign = Campaign(load_config(path))
    keys = _evaluated_keys(campaign)
    assert len(keys) == len(set(keys)) == 30
    iterations = campaign.store.iterations(campaign.id)
    assert [i.index for i in iterations] == [0, 1, 2] and all(i.status == "evaluated" for i in iterations)
    assert collections.Counter(i.strategy for i in iterations) == {"random (initial design)": 1, "qlognei": 2}

    # provenance of a model-chosen candidate
    _, selection, candidate = campaign.store.selections(campaign.id)[-1]
    assert candidate.agent == "pool" and selection.predicted_std > 0 and selection.acquisition_value is not None
    assert campaign.store.model_versions(campaign.id)[-1].n_train == 25

    final = campaign_flow(str(path))  # to the budget
    assert final["final"] and final["evaluations"] == 40
    assert len(set(_evaluated_keys(Campaign(load_config(path))))) == 40

    runner = CliRunner()
    status = runner.invoke(app, ["status", "e2e"])
    assert status.exit_code == 0 and "40/40" in status.output and "finished" in status.output
    report = runner.invoke(app, ["report", "e2e"])
    assert report.exit_code == 0, report.output
    html = (data_env / "runs" / "e2e" / "report" / "report.html").read_text()
    assert (data_env / "runs" / "e2e" / "report" / "best_so_far.png").stat().st_size > 1000
    assert "<svg" in html and "conductivity [S/cm]" in html and "li_diffusivity [cm^2/s]" in html
    assert (data_env / "runs" / "e2e" / "report" / "prediction_vs_result.png").stat().st_size > 1000


def test_oracle_task_retries_a_transient_error(data_env, prefect_server, monkeypatch):
    from amala.oracles.registry import TransientOracleError
    from amala.oracles.tables.lookup import LookupOracle

    calls = {"n": 0, "broken": None}
    real = LookupOracle.evaluate

    def flaky(self, candidates):
        calls["n"] += 1
        if calls["n"] == 1:
            raise TransientOracleError("queue busy")
        if calls["broken"] in (None, candidates[0].key):  # one candidate whose evaluation always raises
            calls["broken"] = candidates[0].key
            raise TransientOracleError("node lost")
        return real(self, candidates)

    monkeypatch.setattr(LookupOracle, "evaluate", flaky)
    config = {**CONFIG, "name": "flaky", "budget": {"initial": 10, "max_evaluations": 10},
              "oracle": {**CONFIG["oracle"], "retries": 1, "retry_delay_seconds": 0}}
    path = data_env / "flaky.yaml"
    path.write_text(yaml.safe_dump(config))
    result = campaign_flow(str(path))  # one task per candidate: 10 calls + 1 retry (which then fails for good)
    assert calls["n"] == 11 and result["evaluations"] == 10 and result["final"]
    campaign = Campaign(load_config(path))
    failed = [(c.key, e.reason) for c, e in campaign.store.evaluations(campaign.id) if e.status == "failed"]
    assert failed == [(calls["broken"], "evaluation failed after 1 retries: TransientOracleError: node lost")]
