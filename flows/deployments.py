"""Campaigns on a schedule: a Prefect deployment of the campaign flow per campaign config.

`amala deploy` registers one (cron schedule, wall-clock limit, batch limit); `amala serve` runs
every amala deployment the Prefect API knows, in this process, until stopped (a Prefect worker is
not needed). Each scheduled run resumes the campaign from its database and stops between batches
at its limit; the run's summary line goes to the campaign's event log.
"""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from prefect import get_client
from prefect.client.schemas.filters import FlowFilter, FlowFilterName
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron

from amala.flows.campaign_flow import campaign_flow
from amala.loop.config import load_config


def campaign_deployment(config: str | Path, cron: str, until: str | None = None, iterations: int | None = None,
                        timezone: str = "UTC", name: str | None = None) -> RunnerDeployment:
    """The deployment of one campaign config (validated first, so a bad one fails here, not at 22:00)."""
    path = Path(config).resolve()
    cfg = load_config(path)
    try:
        schedule = Cron(cron, timezone=timezone)
    except ValueError as exc:
        raise ValueError(f"--cron {cron!r} / --timezone {timezone!r}: {str(exc).splitlines()[0]}") from None
    parameters = {"config": str(path), "max_iterations": iterations, "until": until, "timezone": timezone}
    return campaign_flow.to_deployment(
        name=name or cfg.name, schedule=schedule, parameters=parameters, tags=["amala", f"campaign:{cfg.name}"],
        description=f"amala campaign {cfg.name} ({path}); each run resumes it and stops at its limits")


def deploy(config: str | Path, cron: str, **options) -> UUID:
    return campaign_deployment(config, cron, **options).apply()


def registered() -> list[RunnerDeployment]:
    """Every amala-campaign deployment on the Prefect API, rebuilt so this process can serve it."""
    with get_client(sync_client=True) as client:
        rows = client.read_deployments(flow_filter=FlowFilter(name=FlowFilterName(any_=[campaign_flow.name])))
    served = []
    for row in rows:
        p = row.parameters
        cron = next((s.schedule.cron for s in row.schedules if hasattr(s.schedule, "cron")), None)
        if cron is None or not Path(p.get("config", "")).is_file():
            continue
        served.append(campaign_deployment(p["config"], cron, p.get("until"), p.get("max_iterations"),
                                          p.get("timezone") or "UTC", name=row.name))
    return served
