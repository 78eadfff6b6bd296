"""`amala deploy` and `amala serve`: campaigns on a schedule (`amala.flows.deployments`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from amala.flows.cli.app import app, console, fail


@app.command()
def deploy(config: Path = typer.Argument(..., help="campaign YAML"),
           cron: str = typer.Option(..., help='when runs start, e.g. "0 22 * * *" (22:00 every day)'),
           until: Optional[str] = typer.Option(None, help="stop each run at this time of day, e.g. 07:00"),
           iterations: Optional[int] = typer.Option(None, min=1, help="stop each run after this many batches"),
           timezone: str = typer.Option("UTC", help="time zone of --cron and --until, e.g. Europe/Berlin"),
           name: Optional[str] = typer.Option(None, help="deployment name (default: the campaign's)")):
    """Schedule a campaign: a Prefect deployment whose runs resume it; `amala serve` runs them."""
    from amala.flows.campaign_flow import wall_clock_deadline
    from amala.flows.deployments import deploy as register
    from amala.loop.config import ConfigError

    try:
        wall_clock_deadline(until, timezone)
        deployment_id = register(config, cron, until=until, iterations=iterations, timezone=timezone, name=name)
    except (ConfigError, ValueError, KeyError) as exc:
        fail(str(exc).strip("'\""))
    limits = ", ".join(x for x in (f"until {until}" if until else "", f"{iterations} batches" if iterations else "")
                       if x)
    console.print(f"deployment {deployment_id}: {config} on cron {cron!r} ({timezone})"
                  + (f", each run stops at {limits}" if limits else "")
                  + "; start `amala serve` in this folder to run it", soft_wrap=True)


@app.command()
def serve():
    """Run every scheduled amala campaign (see `amala deploy`) in this process until interrupted."""
    from prefect import serve as prefect_serve

    from amala.flows.deployments import registered

    deployments = registered()
    if not deployments:
        fail("no amala deployments to serve; create one with `amala deploy CONFIG --cron ...`")
    console.print(f"serving {len(deployments)} campaign deployment(s): {', '.join(d.name for d in deployments)}")
    prefect_serve(*deployments)
