"""Scheduled campaigns: `amala deploy` creates a Prefect deployment with a cron schedule on a
temporary Prefect server, `amala serve` can rebuild it, and the wall-clock limit is computed in
the schedule's time zone."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import yaml
from typer.testing import CliRunner

from amala.flows.campaign_flow import wall_clock_deadline
from amala.flows.cli import app

pytestmark = pytest.mark.slow


@pytest.mark.flow
def test_deploy_creates_a_cron_deployment(tmp_path, monkeypatch, prefect_server):
    from prefect import get_client

    from amala.flows.deployments import registered

    monkeypatch.chdir(tmp_path)
    path = tmp_path / "nightly.yaml"
    path.write_text(yaml.safe_dump({"name": "nightly", "data": {"dataset": "htpmd", "subset": 50}}))
    runner = CliRunner()
    out = runner.invoke(app, ["deploy", str(path), "--cron", "0 22 * * *", "--until", "07:00", "--iterations", "3",
                              "--timezone", "Europe/Berlin"])
    assert out.exit_code == 0, out.output
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("amala-campaign/nightly")
    [schedule] = deployment.schedules
    assert schedule.schedule.cron == "0 22 * * *" and schedule.schedule.timezone == "Europe/Berlin"
    assert deployment.parameters == {"config": str(path.resolve()), "max_iterations": 3, "until": "07:00",
                                     "timezone": "Europe/Berlin"}
    assert "campaign:nightly" in deployment.tags
    assert [d.name for d in registered()] == ["nightly"]

    bad = runner.invoke(app, ["deploy", str(path), "--cron", "0 22 * *"])
    assert bad.exit_code == 2 and "--cron" in bad.output
    late = runner.invoke(app, ["deploy", str(path), "--cron", "0 22 * * *", "--until", "7 am"])
    assert late.exit_code == 2 and "until" in late.output


@pytest.mark.flow
def test_served_deployment_runs_resume_the_campaign(data_env, prefect_server):
    """What `amala serve` does, run once: a Prefect Runner picks up the deployment's due runs and
    executes each (in a subprocess); every run resumes the campaign and stops at its batch limit."""
    import asyncio

    from prefect.deployments import run_deployment
    from prefect.runner import Runner

    from amala.flows.deployments import campaign_deployment, registered
    from amala.loop.campaign import Campaign
    from amala.loop.config import load_config

    path = data_env / "night.yaml"
    path.write_text(yaml.safe_dump({"name": "night", "data": {"dataset": "htpmd", "subset": 50},
                                    "acquisition": {"batch_size": 5}, "budget": {"initial": 5, "max_evaluations": 20}}))
    campaign_deployment(path, "0 22 * * *", iterations=1).apply()
    [served] = [d for d in registered() if d.name == "night"]
    for expected in (5, 10):
        run_deployment("amala-campaign/night", timeout=0)  # as the scheduler does at 22:00
        runner = Runner()
        runner.add_deployment(served)
        asyncio.run(runner.start(run_once=True))
        campaign = Campaign(load_config(path))
        assert campaign.n_evaluations() == expected
    runs = [e.message for e in campaign.store.events(campaign.id) if e.kind == "run"]
    assert len(runs) == 2 and all("paused: iteration limit of this run reached (1)" in m for m in runs)


def test_wall_clock_deadline_is_the_next_such_time_in_the_zone():
    zone = ZoneInfo("Europe/Berlin")
    evening = datetime(2026, 11, 25, 22, 5, tzinfo=zone)
    assert datetime.fromtimestamp(wall_clock_deadline("07:00", "Europe/Berlin", evening), zone) == \
        datetime(2026, 11, 26, 7, 0, tzinfo=zone)
    morning = datetime(2026, 11, 26, 6, 0, tzinfo=zone)
    assert wall_clock_deadline("07:00", "Europe/Berlin", morning) - morning.timestamp() == 3600
    assert wall_clock_deadline(None) is None
