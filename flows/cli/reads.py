"""`amala status`, `report` and `pending`: commands that only read campaigns, from their databases alone
(nothing is loaded or trained, and any folder will do: `amala.flows.cli.campaigns`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table as RichTable

from amala.flows.cli.app import app, console, err, fail
from amala.flows.cli.campaigns import CAMPAIGN_HELP, campaign_row, named, stores


@app.command()
def status(campaign: Optional[str] = typer.Argument(None, help=CAMPAIGN_HELP + " (default: all known)"),
           db: Optional[str] = typer.Option(None, help="SQLAlchemy URL of the store"),
           as_json: bool = typer.Option(False, "--json", help="one JSON object per campaign, one per line")):
    """Where campaigns stand: state, evaluations, failures, best value, last batch, last sign of life."""
    from amala.loop.status import summary

    name, found = stores(campaign, db)
    rows = [summary(store, row) for store in found for row in store.campaigns() if not name or row.name == name]
    if not rows:
        fail(f"no campaign {named(name)} found" if name else "no campaigns found (under ./runs or run from "
             "this account)")
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    table = RichTable("campaign", "status", "evaluations", "failed", "batches", "best objective", "last batch (UTC)",
                      "last heartbeat (UTC)")
    for r in rows:
        best = "—" if r["best"] is None else f"{r['best']:.4f} ({r['objective']})"
        table.add_row(*(str(x) for x in (r["campaign"], r["state"], f"{r['evaluations']}/{r['budget']}",
                                         r["failed"], r["batches"], best, r["last_batch"] or "—",
                                         r["heartbeat"] or "—")))
    Console(width=max(console.width, 150), markup=False).print(table)  # never truncate names or numbers


@app.command()
def report(campaign: str = typer.Argument(..., help=CAMPAIGN_HELP),
           db: Optional[str] = typer.Option(None, help="SQLAlchemy URL of the store"),
           out: Optional[Path] = typer.Option(None, help="output folder (default <workdir>/report)")):
    """Write the HTML + PNG report of a campaign, from its database alone (nothing is loaded or trained)."""
    from amala.loop.report.html import write_report
    from amala.loop.status import stored_objective, workdir_of

    store, row = campaign_row(campaign, db)
    objective = stored_objective(store, row)
    if objective.pool is None and (row.config.get("data") or None) is not None:
        err.print("note: this database has no record of the dataset's values, so the report has no random-search "
                  "baseline (a run with this amala version records them)", soft_wrap=True)
    if objective.unit is None:
        err.print(f"note: the unit of {objective.property} is not recorded in this database (unit unknown)",
                  soft_wrap=True)
    path = write_report(store, row, objective, out or workdir_of(row) / "report", objective.pool)
    console.print(f"report: {path}")


@app.command()
def pending(campaign: Optional[str] = typer.Argument(None, help=CAMPAIGN_HELP + " (default: all known)"),
            db: Optional[str] = typer.Option(None, help="SQLAlchemy URL of the store"),
            as_json: bool = typer.Option(False, "--json", help="one JSON object per waiting batch, one per line")):
    """Batches waiting for approval: each candidate's id, who proposed it, prediction and acquisition value."""
    from amala.loop.status import stored_objective

    name, opened = stores(campaign, db)
    found = 0
    for store in opened:
        for row in store.campaigns():
            waiting = store.awaiting_approval(row.id) if (not name or row.name == name) else None
            if waiting is None:
                continue
            found += 1
            label = stored_objective(store, row).label
            rows = [{"rank": sel.rank, "id": cand.key, "agent": cand.agent, "candidate": cand.representation,
                     "predicted": sel.predicted_mean, "predicted_std": sel.predicted_std,
                     "acquisition": sel.acquisition_value}
                    for iteration, sel, cand in store.selections(row.id) if iteration.id == waiting.id]
            if as_json:
                print(json.dumps({"campaign": row.name, "batch": waiting.index, "strategy": waiting.strategy,
                                  "objective": label, "since": f"{waiting.created_at:%Y-%m-%d %H:%M:%S}",
                                  "flow_run_id": waiting.flow_run_id, "candidates": rows}))
                continue
            table = RichTable("rank", "id", "agent", "candidate", f"predicted {label} ± std", "acquisition",
                              title=f"campaign {row.name}: batch {waiting.index} ({waiting.strategy}) waits for "
                                    f"approval since {waiting.created_at:%Y-%m-%d %H:%M} UTC"
                                    + (f"; flow run {waiting.flow_run_id}" if waiting.flow_run_id else ""))
            for r in rows:
                predicted = "—" if r["predicted"] is None else f"{r['predicted']:.3f} ± {r['predicted_std']:.3f}"
                acquisition = "—" if r["acquisition"] is None else f"{r['acquisition']:.3g}"
                table.add_row(str(r["rank"]), r["id"], r["agent"], r["candidate"], predicted, acquisition)
            Console(width=max(console.width, 160), markup=False).print(table)
            console.print(f"answer: amala approve {row.name} [--reject ID ...] [--add SMILES|COMPOSITION ...] "
                          "[--batch-size N] [--comment TEXT] [--reject-all]")
    if not found and not as_json:
        console.print("no batch is waiting for approval" + (f" in campaign {name}" if name else ""))
