"""The `amala` command line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table as RichTable

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="amala: autonomous active-learning discovery of amorphous battery electrolytes.")
data_app = typer.Typer(no_args_is_help=True, help="Datasets: fetch and inspect published data.")
app.add_typer(data_app, name="data")
console = Console()
err = Console(stderr=True)


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _load(config: Path):
    from amala.loop.config import ConfigError, load_config

    try:
        return load_config(config)
    except ConfigError as exc:
        _fail(str(exc))


def _store_for(campaign: str | None, db: str | None):
    """The store holding a campaign: --db, $AMALA_DB_URL, or runs/<campaign>/amala.db."""
    from amala.loop.store import Store

    url = db or os.environ.get("AMALA_DB_URL")
    if url is None:
        path = Path("runs") / (campaign or "") / "amala.db"
        if not path.is_file():
            _fail(f"no database for campaign {campaign!r} at {path}; pass --db URL or set AMALA_DB_URL")
        url = f"sqlite:///{path}"
    return Store(url)


def _stores(campaign: str | None, db: str | None):
    from amala.loop.store import Store

    if campaign is None and db is None and not os.environ.get("AMALA_DB_URL"):
        return [Store(f"sqlite:///{p}") for p in sorted(Path("runs").glob("*/amala.db"))]
    return [_store_for(campaign, db)]


def _campaign_row(campaign: str, db: str | None):
    store = _store_for(campaign, db)
    row = store.campaign(campaign)
    if row is None:
        _fail(f"campaign {campaign!r} is not in {store.url}")
    return store, row


@app.command()
def validate(config: Path = typer.Argument(..., help="campaign YAML")):
    """Check a campaign config; print the first problem in one line."""
    cfg = _load(config)
    console.print(f"{config}: ok (campaign {cfg.name!r}, {cfg.acquisition.strategy} on {cfg.surrogate.kind}, "
                  f"budget {cfg.budget.max_evaluations} evaluations)")


@app.command()
def run(config: Path = typer.Argument(..., help="campaign YAML"),
        iterations: Optional[int] = typer.Option(None, help="stop after this many batches (resume later)"),
        progress: bool = typer.Option(True, help="show a progress bar")):
    """Run a campaign as a Prefect flow, or resume it from its database."""
    from amala.flows.campaign_flow import campaign_flow
    from amala.oracles.datasets import DatasetError

    cfg = _load(config)
    try:
        from amala.oracles.datasets import resolve_path

        if cfg.data is not None:
            resolve_path(cfg.data.dataset, cfg.data.path)  # fail in one line before Prefect starts
    except DatasetError as exc:
        _fail(str(exc))
    try:
        result = campaign_flow(str(config), max_iterations=iterations, progress=progress and sys.stderr.isatty())
    except (DatasetError, ValueError) as exc:
        _fail(str(exc).splitlines()[0])
    best = "—" if result["best"] is None else f"{result['best']:.4f}"
    console.print(f"campaign {cfg.name}: {result['stop']}; {result['evaluations']} evaluations, best {best}",
                  soft_wrap=True)
    console.print(f"database: {result['database']}  ·  report: amala report {cfg.name}")


@app.command()
def status(campaign: Optional[str] = typer.Argument(None, help="campaign name (default: all under runs/)"),
           db: Optional[str] = typer.Option(None, help="SQLAlchemy URL of the store")):
    """Where campaigns stand: evaluations, failures, best value, last batch."""
    stores = _stores(campaign, db)
    table = RichTable("campaign", "status", "evaluations", "failed", "batches", "best objective", "last batch (UTC)")
    for store in stores:
        for row in store.campaigns():
            if campaign and row.name != campaign:
                continue
            evaluations = store.evaluations(row.id)
            iterations = store.iterations(row.id)
            values = [e.objective for _, e in evaluations if e.objective is not None]
            objective = row.config.get("objective", {})
            best = (max if objective.get("direction", "maximize") == "maximize" else min)(values) if values else None
            transform = objective.get("transform", "none")
            label = objective.get("property", "") if transform == "none" else f"{transform} {objective.get('property')}"
            budget = row.config.get("budget", {}).get("max_evaluations", "?")
            table.add_row(row.name, row.status, f"{len(evaluations)}/{budget}",
                          str(sum(e.status != "ok" for _, e in evaluations)), str(len(iterations)),
                          "—" if best is None else f"{best:.4f} ({label})",
                          f"{iterations[-1].created_at:%Y-%m-%d %H:%M}" if iterations else "—")
    if not table.row_count:
        _fail(f"no campaign {campaign!r} found" if campaign else "no campaigns found under runs/")
    Console(width=max(console.width, 130)).print(table)  # never truncate names or numbers


@app.command()
def report(campaign: str = typer.Argument(..., help="campaign name"),
           db: Optional[str] = typer.Option(None, help="SQLAlchemy URL of the store"),
           out: Optional[Path] = typer.Option(None, help="output folder (default runs/<campaign>/report)")):
    """Write the HTML + PNG report of a campaign."""
    from amala.loop.campaign import Campaign
    from amala.loop.config import CampaignConfig
    from amala.loop.objective import Objective
    from amala.loop.report import write_report
    from amala.oracles import datasets

    store, row = _campaign_row(campaign, db)
    cfg = CampaignConfig.model_validate(row.config)
    pool_values = None
    try:
        loaded = Campaign(cfg, store=store)  # gives the objective's unit and, for lookups, the pool
    except datasets.DatasetError:
        loaded = None
    except ValueError as exc:
        _fail(f"campaign {campaign!r}: {str(exc).splitlines()[0]}")
    if loaded is not None:
        objective = loaded.objective
        if loaded.table is not None:
            pool_values = loaded.table.frame[cfg.objective.property].map(objective.transformed).to_numpy()
    else:
        err.print("note: the dataset is not available here, so the report has no random-search baseline",
                  soft_wrap=True)
        objective = Objective(cfg.objective, datasets.spec(cfg.data.dataset).units.get(cfg.objective.property, "?"))
    path = write_report(store, row, objective, out or cfg.work_path / "report", pool_values)
    console.print(f"report: {path}")


@app.command()
def pending(campaign: Optional[str] = typer.Argument(None, help="campaign name (default: all under runs/)"),
            db: Optional[str] = typer.Option(None, help="SQLAlchemy URL of the store")):
    """Batches waiting for approval: each candidate's id, who proposed it, prediction and acquisition value."""
    found = 0
    for store in _stores(campaign, db):
        for row in store.campaigns():
            waiting = store.awaiting_approval(row.id) if (not campaign or row.name == campaign) else None
            if waiting is None:
                continue
            found += 1
            objective = row.config.get("objective", {})
            label = objective.get("property", "objective")
            if objective.get("transform", "none") != "none":
                label = f"{objective['transform']} {label}"
            table = RichTable("rank", "id", "agent", "candidate", f"predicted {label} ± std", "acquisition",
                              title=f"campaign {row.name}: batch {waiting.index} ({waiting.strategy}) waits for "
                                    f"approval since {waiting.created_at:%Y-%m-%d %H:%M} UTC"
                                    + (f"; flow run {waiting.flow_run_id}" if waiting.flow_run_id else ""))
            for iteration, selection, candidate in store.selections(row.id):
                if iteration.id != waiting.id:
                    continue
                predicted = ("—" if selection.predicted_mean is None
                             else f"{selection.predicted_mean:.3f} ± {selection.predicted_std:.3f}")
                acquisition = "—" if selection.acquisition_value is None else f"{selection.acquisition_value:.3g}"
                table.add_row(str(selection.rank), candidate.key, candidate.agent, candidate.representation,
                              predicted, acquisition)
            Console(width=max(console.width, 160)).print(table)
            console.print(f"answer: amala approve {row.name} [--reject ID ...] [--add SMILES|COMPOSITION ...] "
                          "[--batch-size N] [--comment TEXT] [--reject-all]", soft_wrap=True)
    if not found:
        console.print("no batch is waiting for approval" + (f" in campaign {campaign}" if campaign else ""))


def _resume_waiting_run(flow_run_id: str, decision) -> bool:
    """Hand the decision to the paused flow run; False if no run is paused for it any more."""
    from uuid import UUID

    from prefect.exceptions import ObjectNotFound
    from prefect.flow_runs import NotPausedError, resume_flow_run

    try:
        resume_flow_run(UUID(flow_run_id), run_input=decision.model_dump())
    except (NotPausedError, ObjectNotFound):
        return False
    return True


@app.command()
def approve(campaign: str = typer.Argument(..., help="campaign name"),
            reject: list[str] = typer.Option([], "--reject", help="candidate id or rank to leave out (repeatable)"),
            add: list[str] = typer.Option([], "--add", help="candidate to add: SMILES or composition (repeatable)"),
            batch_size: Optional[int] = typer.Option(None, min=1, help="keep this many candidates"),
            comment: str = typer.Option("", help="why (stored with the decision)"),
            reject_all: bool = typer.Option(False, "--reject-all", help="reject the whole batch"),
            by: Optional[str] = typer.Option(None, help="who decides (default: your user name)"),
            db: Optional[str] = typer.Option(None, help="SQLAlchemy URL of the store")):
    """Answer the batch a campaign waits on: approve it, or edit it (reject, add, resize), or reject it."""
    import getpass

    from amala.loop.approval import BatchDecision
    from amala.loop.campaign import Campaign
    from amala.loop.config import CampaignConfig

    store, row = _campaign_row(campaign, db)
    waiting = store.awaiting_approval(row.id)
    if waiting is None:
        _fail(f"campaign {campaign}: no batch is waiting for approval (see `amala pending`)")
    try:
        loaded = Campaign(CampaignConfig.model_validate(row.config), store=store)
    except ValueError as exc:
        _fail(f"campaign {campaign!r}: {str(exc).splitlines()[0]}")
    batch = store.pending_batch(row.id)
    in_batch = {c.key for c in batch.candidates}
    by_rank = {str(rank): c.key for rank, c in enumerate(batch.candidates)}  # `amala pending` shows both
    reject = [by_rank.get(key, key) if key not in in_batch else key for key in reject]
    for key in reject:
        if key not in in_batch:
            _fail(f"--reject {key}: not a candidate of batch {batch.index} (ids: `amala pending {campaign}`)")
    _, refused = loaded.check_additions(add)
    for text, reason in refused.items():
        _fail(f"--add {text!r}: {reason}")
    decision = BatchDecision(approve=not reject_all, reject=reject, add=add, batch_size=batch_size,
                             comment=comment, by=by or getpass.getuser(), via="cli")
    if waiting.flow_run_id and _resume_waiting_run(waiting.flow_run_id, decision):
        console.print(f"campaign {campaign}: batch {batch.index} {decision.action}; flow run {waiting.flow_run_id} "
                      "goes on with it", soft_wrap=True)
        return
    result = loaded.review(batch, decision.model_copy(update={"via": "store"}))
    size = 0 if result is None else len(result.candidates)
    console.print(f"campaign {campaign}: batch {batch.index} {decision.action} ({size} to evaluate); no run was "
                  f"waiting, so the next `amala run` evaluates it", soft_wrap=True)


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
        _fail(str(exc).strip("'\""))
    limits = ", ".join(x for x in (f"until {until}" if until else "", f"{iterations} batches" if iterations else "") if x)
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
        _fail("no amala deployments to serve; create one with `amala deploy CONFIG --cron ...`")
    console.print(f"serving {len(deployments)} campaign deployment(s): {', '.join(d.name for d in deployments)}")
    prefect_serve(*deployments)


@app.command()
def benchmark(config: Path = typer.Argument(..., help="campaign YAML (a lookup-oracle campaign)"),
              seeds: str = typer.Option("0-4", help="e.g. 0-4 or 0,2"),
              strategies: Optional[str] = typer.Option(None, help="comma list; default: config's, random, greedy_rf"),
              budget: Optional[int] = typer.Option(None, help="evaluations per run (default: config's)")):
    """Retrospective benchmark: one JSON line per (strategy, seed)."""
    import torch

    from amala.loop import benchmark as bench
    from amala.oracles import datasets

    cfg = _load(config)
    names = strategies.split(",") if strategies else [cfg.acquisition.strategy, "random", "greedy_rf"]
    unknown = [s for s in names if s not in bench.STRATEGIES]
    if unknown:
        _fail(f"--strategies: unknown {unknown} (choose from {sorted(bench.STRATEGIES)})")
    try:
        seed_list = bench.parse_seeds(seeds)
        table = datasets.load(cfg.data.dataset, cfg.data.path, cfg.data.subset, cfg.seed)
    except ValueError as exc:
        _fail(str(exc) if isinstance(exc, datasets.DatasetError) else f"--seeds: cannot parse {seeds!r}")
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    for row, note in bench.run_many(cfg, table, names, seed_list, budget):
        print(json.dumps(row), flush=True)
        err.print(f"{row['strategy']} seed {row['seed']}: {note}", highlight=False, soft_wrap=True)


@app.command(name="generate-eval")
def generate_eval(samples: int = typer.Option(1000, help="SMILES to sample"),
                  checkpoint: Optional[Path] = typer.Option(None, help="load this GPT checkpoint folder if it "
                                                            "exists, else train one and save it there"),
                  epochs: int = typer.Option(35, help="training epochs over the pool (35 gave >= 90% valid "
                                                      "samples, BENCHMARKS.md)"),
                  data: Optional[Path] = typer.Option(None, help="HTP-MD CSV (default: the dataset cache)"),
                  seed: int = typer.Option(0)):
    """Train (or load) the SMILES GPT on HTP-MD, sample, and print PolyGen's six metrics as JSON."""
    import time

    from rich.progress import Progress

    from amala.agents.generation_metrics import evaluate
    from amala.agents.smiles_gpt import SmilesGPT
    from amala.oracles import datasets

    try:
        pool = list(datasets.load("htpmd", data).frame.smiles)
    except datasets.DatasetError as exc:
        _fail(str(exc).splitlines()[0])
    start = time.perf_counter()
    if checkpoint is not None and (checkpoint / "config.json").is_file():
        gpt = SmilesGPT.load(checkpoint)
        trained = 0.0
    else:
        gpt = SmilesGPT.for_smiles(pool, seed=seed)
        steps = epochs * -(-len(pool) // 64)
        with Progress(console=err, transient=True) as bar:
            task = bar.add_task("training the SMILES GPT", total=steps)
            gpt.train(pool, epochs=epochs, seed=seed, progress=lambda step, loss: bar.update(task, completed=step))
        trained = time.perf_counter() - start
        if checkpoint is not None:
            gpt.save(checkpoint)
    metrics = evaluate(gpt.sample(samples, seed=seed + 1), pool, seed=seed)
    console.print_json(json.dumps({**metrics, "training_seconds": round(trained, 1), "epochs": epochs}))


@data_app.command("fetch")
def data_fetch(name: str = typer.Argument(..., help="dataset name, e.g. htpmd"),
               url: Optional[str] = typer.Option(None, help="override the download address (a mirror)"),
               dest: Optional[Path] = typer.Option(None, help="folder (default $AMALA_DATA_DIR or ~/.cache/amala)")):
    """Download a published dataset into the cache and verify it."""
    from amala.oracles import datasets

    try:
        spec = datasets.spec(name)
        console.print(f"fetching {name} from {url or spec.url} ({spec.license}; cite: {spec.citation})")
        path = datasets.fetch(name, url=url, dest_dir=dest)
    except datasets.DatasetError as exc:
        _fail(str(exc))
    table = datasets.load(name, path)
    console.print(f"{name}: {len(table.frame)} rows verified -> {path}")


if __name__ == "__main__":
    app()
