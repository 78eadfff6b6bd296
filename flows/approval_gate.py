"""The approval gate: a selected batch waits for a person before anything is evaluated.

The flow run pauses with `BatchDecision` as Prefect run input, so the Prefect UI draws the form and
`amala approve` fills it from a terminal; the answer is applied by `Campaign.review` (a task). When
nobody answers in time, the campaign's timeout policy decides.
"""

from __future__ import annotations

import math

from prefect import get_client, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.runtime import flow_run
from prefect.states import Running

from amala.flows.notifications import notify
from amala.loop.approval import BatchDecision, timeout_decision
from amala.loop.campaign import Campaign, Stop
from amala.loop.store import Batch


@task(name="review", cache_policy=NO_CACHE)
def review_task(campaign: Campaign, batch: Batch, decision: BatchDecision) -> Batch | None:
    return campaign.review(batch, decision)


def approval_gate(campaign: Campaign, batch: Batch) -> tuple[Batch | None, Stop | None]:
    """Pause the flow run until a person answers the batch (terminal or Prefect UI form).

    Returns the batch to evaluate (None: rejected), or a Stop when nobody answered and the policy
    is to stop; the batch then keeps waiting in the store, and the next run asks again."""
    spec, logger = campaign.config.approval, get_run_logger()
    run_id = str(flow_run.id) if flow_run.id else None
    campaign.store.request_approval(campaign.id, batch, run_id)
    notify(campaign, "approval", f"batch {batch.index} ({len(batch.candidates)} candidates) waits for approval: "
                                 f"amala pending {campaign.config.name}", iteration=batch.index)
    logger.warning("batch %d (%d candidates) waits for approval: see `amala pending %s`, answer with "
                   "`amala approve %s` or the form in the Prefect UI; after %g s without an answer: %s",
                   batch.index, len(batch.candidates), campaign.config.name, campaign.config.name,
                   spec.timeout_seconds, spec.on_timeout)
    try:
        answer = pause_flow_run(wait_for_input=BatchDecision, timeout=math.ceil(spec.timeout_seconds),
                                poll_interval=max(1, round(spec.poll_seconds)), key=f"approve-batch-{batch.index}")
        decision = BatchDecision.model_validate(answer.model_dump(include=set(BatchDecision.model_fields)))
    except FlowPauseTimeout:
        with get_client(sync_client=True) as client:  # the run goes on under the timeout policy
            client.set_flow_run_state(flow_run.id, Running(), force=True)
        if not campaign.needs_approval(batch):  # answered in the store meanwhile (`amala approve`, no run seen)
            return campaign.pending_batch(), None
        decision = timeout_decision(spec.on_timeout, spec.timeout_seconds)
        if decision is None:
            return None, Stop(f"batch {batch.index} is waiting for approval (no answer within "
                              f"{spec.timeout_seconds:g} s); answer it with `amala approve`, then re-run", final=False)
    return review_task(campaign, batch, decision), None
