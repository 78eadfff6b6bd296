"""What `amala status` says about a campaign, read from its store alone (nothing is rebuilt)."""

from __future__ import annotations

from datetime import datetime, timezone

from amala.loop.lease import holder, run_state


def objective_label(config: dict) -> str:
    objective = config.get("objective", {})
    transform = objective.get("transform", "none")
    prop = objective.get("property", "objective")
    return prop if transform == "none" else f"{transform} {prop}"


def best_value(config: dict, values: list[float]) -> float | None:
    """The best stored objective (transformed, natural direction) under the campaign's direction."""
    if not values:
        return None
    return (max if config.get("objective", {}).get("direction", "maximize") == "maximize" else min)(values)


def utc_text(moment) -> str | None:
    """A UNIX time or datetime as 'YYYY-MM-DD HH:MM:SS' in UTC (None stays None)."""
    if moment is None:
        return None
    if isinstance(moment, (int, float)):
        moment = datetime.fromtimestamp(moment, tz=timezone.utc)
    return f"{moment:%Y-%m-%d %H:%M:%S}"


def summary(store, row) -> dict:
    """One campaign's state as plain data (the table and `--json` print the same facts). `state`
    is `interrupted` when the stored status claims a run whose heartbeat has stopped."""
    evaluations = store.evaluations(row.id)
    iterations = store.iterations(row.id)
    values = [e.objective for _, e in evaluations if e.objective is not None]
    held = holder(row)
    return {"campaign": row.name, "state": run_state(row), "stored_status": row.status,
            "evaluations": len(evaluations), "budget": row.config.get("budget", {}).get("max_evaluations"),
            "failed": sum(e.status != "ok" for _, e in evaluations), "batches": len(iterations),
            "best": best_value(row.config, values), "objective": objective_label(row.config),
            "last_batch": utc_text(iterations[-1].created_at) if iterations else None,
            "heartbeat": utc_text(held.heartbeat), "run_owner": held.owner, "database": store.url}
