"""`amala approve`: a person's answer to the batch a campaign waits on.

The answer goes to the paused flow run when one waits for it; otherwise it is stored, and the next
`amala run` evaluates the batch as answered.
"""

from __future__ import annotations

from typing import Optional

import typer

from amala.flows.cli.app import app, console, fail
from amala.flows.cli.campaigns import CAMPAIGN_HELP, campaign_row, validated_config


def _resume_waiting_run(flow_run_id: str, decision, campaign: str) -> bool:
    """Hand the decision to the paused flow run; False if no run is paused for it any more. The
    run's own Prefect API (a temporary one that `amala run` recorded) is used when it answers, so
    no second temporary server has to start."""
    from uuid import UUID

    from prefect.exceptions import ObjectNotFound
    from prefect.flow_runs import NotPausedError, resume_flow_run
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from amala.loop import known_campaigns

    url = PREFECT_API_URL.value() or known_campaigns.known().get(campaign, {}).get("api_url")
    updates = {PREFECT_API_URL: url} if url and _answers(url) else {}
    try:
        with temporary_settings(updates=updates):
            resume_flow_run(UUID(flow_run_id), run_input=decision.model_dump())
    except (NotPausedError, ObjectNotFound):
        return False
    return True


def _answers(api_url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{api_url.rstrip('/')}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@app.command()
def approve(campaign: str = typer.Argument(..., help=CAMPAIGN_HELP),
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
    from amala.loop.campaign import apply_decision, check_additions, top_up_needed

    store, row = campaign_row(campaign, db)
    campaign = row.name  # also when named by its config file
    waiting = store.awaiting_approval(row.id)
    if waiting is None:
        fail(f"campaign {campaign}: no batch is waiting for approval (see `amala pending`)")
    cfg = validated_config(row)
    batch = store.pending_batch(row.id)
    in_batch = {c.key for c in batch.candidates}
    by_rank = {str(rank): c.key for rank, c in enumerate(batch.candidates)}  # `amala pending` shows both
    reject = [by_rank.get(key, key) if key not in in_batch else key for key in reject]
    for key in reject:
        if key not in in_batch:
            fail(f"--reject {key}: not a candidate of batch {batch.index} (ids: `amala pending {campaign}`)")
    added, refused = check_additions(cfg, store.known_keys(row.id), add)
    for text, reason in refused.items():
        fail(f"--add {text!r}: {reason}")
    decision = BatchDecision(approve=not reject_all, reject=reject, add=add, batch_size=batch_size,
                             comment=comment, by=by or getpass.getuser(), via="cli")
    if waiting.flow_run_id and _resume_waiting_run(waiting.flow_run_id, decision, campaign):
        console.print(f"campaign {campaign}: batch {batch.index} {decision.action}; flow run {waiting.flow_run_id} "
                      "goes on with it", soft_wrap=True)
        return
    # no run waits: store the decision here; only a batch made larger needs the models (to choose the rest)
    offline = decision.model_copy(update={"via": "store"})
    if top_up_needed(batch, decision, len(added)):
        from amala.loop.campaign import Campaign

        try:
            result = Campaign(cfg, store=store).review(batch, offline)
        except ValueError as exc:
            fail(f"campaign {campaign!r}: {str(exc).splitlines()[0]}")
    else:
        result = apply_decision(cfg, store, row.id, batch, offline)
    size = 0 if result is None else len(result.candidates)
    console.print(f"campaign {campaign}: batch {batch.index} {decision.action} ({size} to evaluate); no run was "
                  f"waiting, so the next `amala run` evaluates it", soft_wrap=True)
