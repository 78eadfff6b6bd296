"""`amala validate` and `amala run`: check a config, then run or resume its campaign as a Prefect flow.

`run` parses the config once and opens the campaign's database once: both are handed to the flow.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from amala.flows.cli.app import app, console, err, fail
from amala.flows.cli.campaigns import load, open_store
from amala.oracles.registry import ORACLES


@app.command()
def validate(config: Path = typer.Argument(..., help="campaign or screening YAML")):
    """Check a campaign config and what it names on this machine (data file, database URL and
    driver, work folder); print each problem in one line and create nothing. A screening config
    (`amala screen`; it has `train`/`library`) is checked with the screen's own loader and checks."""
    from amala.loop.config import ConfigError
    from amala.loop.preflight import check
    from amala.loop.screening import check_screen, is_screen_config, load_screen_config

    screen = is_screen_config(config)
    try:
        cfg = load_screen_config(config) if screen else load(config)
    except ConfigError as exc:
        fail(str(exc))
    problems = check_screen(cfg) if screen else check(cfg)
    for problem in problems:
        err.print(f"[red]error:[/red] {escape(f'{config}: {problem}')}", highlight=False)
    if problems:
        raise typer.Exit(2)
    if screen:
        console.print(f"{config}: ok (screen {cfg.name!r}, {cfg.library.dataset} ranked by {cfg.surrogate.kind} "
                      f"trained on {cfg.train.dataset})")
        return
    console.print(f"{config}: ok (campaign {cfg.name!r}, {cfg.acquisition.strategy} on {cfg.surrogate.kind}, "
                  f"budget {cfg.budget.max_evaluations} evaluations)")


@app.command()
def run(config: Path = typer.Argument(..., help="campaign YAML"),
        iterations: Optional[int] = typer.Option(None, min=1, help="stop after this many batches (resume later)"),
        progress: bool = typer.Option(True, help="show a progress bar")):
    """Run a campaign as a Prefect flow, or resume it from its database."""
    cfg = load(config)
    _preflight(cfg)
    store = _announce(cfg)
    from amala.core.datasets import DatasetError
    from amala.flows.prefect_api import PrefectUnavailable, prefect_api
    from amala.loop import known_campaigns
    from amala.loop.lease import CampaignBusy
    from amala.loop.store import LeaseLost

    known_campaigns.remember(cfg.name, cfg.database_url, cfg.work_path, config)
    from prefect.exceptions import TerminationSignal

    previous = _stop_on_sigterm()
    try:
        with prefect_api() as api_url:
            known_campaigns.remember(cfg.name, cfg.database_url, cfg.work_path, config, api_url=api_url)
            from amala.flows.campaign_flow import campaign_flow

            result = campaign_flow(cfg, max_iterations=iterations, progress=progress and sys.stderr.isatty(),
                                   store=store)
    except (PrefectUnavailable, CampaignBusy, LeaseLost, DatasetError, ValueError) as exc:
        fail(str(exc).splitlines()[0])
    except TerminationSignal:  # SIGTERM during the flow run (Prefect's own handler raises this)
        raise KeyboardInterrupt("SIGTERM") from None
    finally:
        import signal

        signal.signal(signal.SIGTERM, previous)
    best = "—" if result["best"] is None else f"{result['best']:.4f}"
    console.print(f"campaign {cfg.name}: {result['stop']}; {result['evaluations']} evaluations, best {best}",
                  markup=False)
    console.print(f"database: {result['database']}  ·  report: amala report {cfg.name}", markup=False)


def _preflight(cfg) -> None:
    """What `run` would otherwise find only after starting Prefect: data path, database URL and
    driver, a writable work folder. The same checks as `amala validate`."""
    from amala.loop.preflight import check

    problems = check(cfg)
    if problems:
        fail(problems[0])


def _announce(cfg):
    """Say before any heavy work whether this is a new campaign, a resume (after an interrupted
    run: when it was cut), or a campaign another live run holds (then refuse, in one line); and
    how long the remaining work should take when the oracle knows its cost. Returns the store it
    opened for the run to use, or None when the database file is not there yet (the campaign
    creates it once it is built, so a config that fails to build leaves no file behind)."""
    from amala.loop.lease import holder, run_state
    from amala.loop.states import CampaignStatus
    from amala.loop.status import sqlite_file

    file = sqlite_file(cfg.database_url)
    new_file = file is not None and not file.exists()
    store = None if new_file else open_store(cfg.database_url, create=True)
    row = None if store is None else store.campaign(cfg.name)
    if row is None:
        console.print(f"campaign {cfg.name}: new; database {cfg.database_url}", markup=False)
    else:
        held = holder(row)
        if held.alive():
            fail(f"campaign {cfg.name} is already being run by {held.owner}; wait for that run to end "
                 "(`amala status`) or stop it, then run again")
        state = run_state(row)
        done = store.count_evaluations(row.id)
        if done >= cfg.budget.max_evaluations:  # said in seconds, without starting Prefect or any model
            console.print(f"campaign {cfg.name}: finished ({done}/{cfg.budget.max_evaluations} evaluations, the "
                          f"budget); nothing to run. Report: amala report {cfg.name}", markup=False)
            raise typer.Exit(0)
        if state == CampaignStatus.FINISHED:
            console.print(f"campaign {cfg.name}: finished earlier ({done} evaluations); checking whether its "
                          "budget or stopping rule still holds", markup=False)
        else:
            cut = ""
            if state == CampaignStatus.INTERRUPTED and held.heartbeat:
                from amala.loop.status import utc_text

                cut = f", interrupted at {utc_text(held.heartbeat)} UTC"
            console.print(f"campaign {cfg.name}: resuming ({done} evaluations stored{cut})", markup=False)
    measured = [] if row is None else [e.cost_seconds for _, e in store.evaluations(row.id)
                                       if e.status == "ok" and e.cost_seconds > 0]
    estimate = _estimate_minutes(cfg, 0 if row is None else store.count_evaluations(row.id), measured)
    if estimate:
        console.print(estimate, markup=False)
    return store


def _estimate_minutes(cfg, done: int, measured: list[float] | None = None) -> str | None:
    """A rough duration for simulation oracles: this campaign's own median cost per evaluation once
    it has some, else the oracle's typical cost for its settings (none is known for the MLIP oracle,
    whose cost depends on how much the potential must still learn: it says nothing until it has measured)."""
    oracle = ORACLES[cfg.oracle.kind]
    if not oracle.simulates:
        return None
    from statistics import median

    per = median(measured) if measured else oracle.expected_seconds(cfg.oracle)
    left = max(cfg.budget.max_evaluations - done, 0)
    if not per or not left:
        return None
    workers = max(1, cfg.execution.workers)
    minutes = per * -(-left // workers) / 60
    source = "this campaign's median so far" if measured else "typical on one idle core"
    return (f"estimate: about {minutes:.0f} min for {left} simulation(s), {workers} at a time "
            f"({cfg.oracle.describe()}, ~{per / 60:.1f} min each, {source}; longer on a busy machine)")


def _stop_on_sigterm():
    """SIGTERM (kill, systemd, a scheduler) stops a run as Ctrl-C does: running simulations are
    killed, the campaign reads `interrupted`, and the temporary Prefect API is shut down."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    return signal.signal(signal.SIGTERM, interrupt)
