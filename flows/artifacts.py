"""What a campaign's flow runs show in the Prefect UI: a readable run name, tags, and per batch a
table artifact (what was chosen, predicted and measured) and a summary artifact (best so far, how
to build the report).

Without this every run is a random "mighty-camel" under one flow, and a person must open a
terminal to see what a batch did. Publishing is a courtesy: an API hiccup here must never fail
the run, so every Prefect call is guarded and a failure is only a warning.
"""

from __future__ import annotations

import logging
import math
import re
from typing import Any

from amala.loop.approval import fmt_number, fmt_prediction, md_code, md_text
from amala.loop.campaign import Campaign
from amala.loop.config import CampaignConfig
from amala.loop.states import Approval
from amala.loop.store import Batch


def _logger():
    """The run logger inside a run (the line reaches the UI), the module logger outside one."""
    try:
        from prefect import get_run_logger

        return get_run_logger()
    except Exception:
        return logging.getLogger(__name__)


def run_name(config: CampaignConfig, batch: int | None = None) -> str:
    """A flow run's name: the campaign, and the batch it starts with when known."""
    return config.name if batch is None else f"{config.name} · batch {batch}"


def run_tags(config: CampaignConfig) -> list[str]:
    """Tags to filter a campaign's runs by in the UI (campaign, representation, oracle)."""
    return ["amala", f"campaign:{config.name}", f"representation:{config.representation}",
            f"oracle:{config.oracle.kind}"]


def artifact_key(name: str, *parts: Any) -> str:
    """A Prefect artifact key (lowercase letters, digits and dashes only) from a campaign name."""
    text = "-".join([name, *map(str, parts)]).lower()
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", text)).strip("-") or "amala"


def next_batch_index(campaign: Campaign) -> int:
    """The batch a run starts with: the one left waiting, else the next to select."""
    pending = campaign.pending_batch()
    return pending.index if pending is not None else campaign.store.next_iteration_index(campaign.id)


def label_run(campaign: Campaign) -> str | None:
    """Name and tag the current flow run after the campaign (call once, early in the run); tags
    already on the run (a deployment's) are kept. Returns the new name (None outside a run or when
    the API refused), which from then on is also what `prefect.runtime.flow_run.name` and the
    run's log lines say."""
    from prefect import get_client
    from prefect.context import FlowRunContext
    from prefect.runtime import flow_run

    if not flow_run.id:
        return None
    name = run_name(campaign.config, next_batch_index(campaign))
    try:
        with get_client(sync_client=True) as client:
            current = client.read_flow_run(flow_run.id)
            tags = list(dict.fromkeys([*(current.tags or []), *run_tags(campaign.config)]))
            client.update_flow_run(flow_run.id, name=name, tags=tags)
    except Exception as exc:  # a name is a courtesy, never a reason to fail the run
        _logger().warning("could not name the flow run after campaign %s: %s", campaign.config.name, exc)
        return None
    context = FlowRunContext.get()
    if context is not None and context.flow_run is not None:
        context.flow_run.name = name
    return name


def _result(values: dict, prop: str, unit: str) -> str:
    """A measured property as 'value ± std unit' (the unit the oracle reported, else the objective's)."""
    measured = values.get(prop) or {}
    value, std = measured.get("value"), measured.get("std")
    if value is None:
        return "—"
    text = f"{value:.4g}" + (f" ± {std:.2g}" if isinstance(std, (int, float)) and math.isfinite(std) else "")
    return f"{text} {measured.get('unit') or unit}".strip()


def batch_rows(campaign: Campaign, batch: Batch) -> list[dict[str, Any]]:
    """Every candidate selected for the batch (rejected ones too), in rank order, with the model's
    prediction, the acquisition value, the result with its unit, and its status or reason."""
    prop, unit = campaign.objective.property, campaign.objective.unit
    results = {c.key: e for c, e in campaign.store.evaluations(campaign.id) if e.iteration_id == batch.iteration_id}
    rows = []
    for iteration, selection, candidate in campaign.store.selections(campaign.id):
        if iteration.id != batch.iteration_id:
            continue
        evaluation = results.get(candidate.key)
        if selection.approval == Approval.REJECTED:
            status = "rejected at approval"
        elif evaluation is None:
            status = "waiting for a result"
        else:
            status = evaluation.status if evaluation.status == "ok" else f"{evaluation.status}: {evaluation.reason}"
        rows.append({"rank": selection.rank, "id": candidate.key, "representation": candidate.representation,
                     "agent": candidate.agent,
                     "predicted ± std": fmt_prediction(selection.predicted_mean, selection.predicted_std),
                     "acquisition": fmt_number(selection.acquisition_value),
                     f"{prop} [{unit}]": "—" if evaluation is None else _result(evaluation.values, prop, unit),
                     "status": status})
    return rows


def _code_cells(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ids and representations as inline code: the UI renders table cells as Markdown, where a
    SMILES like `O[C](=O)[Au]` would otherwise become a link."""
    return [{k: md_code(v) if k in ("id", "representation") else v for k, v in row.items()} for row in rows]


def batch_markdown(campaign: Campaign, batch: Batch, summary: Any, rows: list[dict[str, Any]]) -> str:
    """The batch in words: counts, best so far with its unit, the table, how to build the report."""
    cfg, label = campaign.config, campaign.objective.label
    best = getattr(summary, "best", None)
    best_text = "— (no successful evaluation yet)" if best is None else f"**{best:.4g}** ({md_text(label)})"
    report = (cfg.work_path / "report" / "report.html").resolve()
    lines = [f"## Campaign `{cfg.name}`, batch {batch.index}",
             f"{getattr(summary, 'n_ok', '?')} ok, {getattr(summary, 'n_failed', '?')} failed, "
             f"{getattr(summary, 'waiting', 0)} waiting; {getattr(summary, 'n_evaluations', '?')} evaluations "
             f"in all (budget {cfg.budget.max_evaluations}).", "",
             f"Best so far: {best_text}", "",
             "| " + " | ".join(rows[0]) + " |" if rows else "(no candidates)",
             "|" + "---|" * len(rows[0]) if rows else ""]
    for row in _code_cells(rows):
        lines.append("| " + " | ".join(md_text(v) if k not in ("id", "representation") else v
                                       for k, v in row.items()) + " |")
    lines += ["", f"Report: `amala report {cfg.name}` writes [{report}](file://{report})."]
    return "\n".join(lines)


def publish_batch(campaign: Campaign, batch: Batch, summary: Any) -> bool:
    """Publish a recorded batch as Prefect artifacts: the table (key `<campaign>-batch-<n>`) and
    the summary (key `<campaign>-summary`, one version per batch, so its latest is the current
    best). Returns False, after a warning, when anything went wrong; never raises."""
    try:
        from prefect.artifacts import create_markdown_artifact, create_table_artifact

        rows = batch_rows(campaign, batch)
        name = campaign.config.name
        create_table_artifact(_code_cells(rows), key=artifact_key(name, "batch", batch.index),
                              description=f"campaign {name}, batch {batch.index}: selected candidates and results "
                                          f"(predicted: {campaign.objective.label})")
        create_markdown_artifact(batch_markdown(campaign, batch, summary, rows), key=artifact_key(name, "summary"),
                                 description=f"campaign {name} after batch {batch.index}")
        return True
    except Exception as exc:
        _logger().warning("could not publish the Prefect artifacts of batch %s: %s: %s",
                          getattr(batch, "index", "?"), type(exc).__name__, exc)
        return False
