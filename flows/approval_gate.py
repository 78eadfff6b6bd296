"""The approval gate: a selected batch waits for a person before anything is evaluated.

The flow run pauses with `ApprovalForm` as Prefect run input whose description is the ranked
batch table, so the Prefect UI shows what is being approved next to the form, and `amala approve`
fills the same form from a terminal. Every answer is checked (`check_answer`) before anything
happens: a refused one pauses the run again with the reasons on top of the form, until a valid
answer comes or the campaign's approval timeout (counted from the first ask) runs out; then the
timeout policy decides. A valid answer is applied by `Campaign.review` (a task).
"""

from __future__ import annotations

import itertools
import math
import time

from prefect import get_client, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input.run_input import run_input_subclass_from_type
from prefect.runtime import flow_run
from prefect.states import Running
from pydantic import ValidationError

from amala.flows.notifications import notify
from amala.loop.approval import ApprovalForm, BatchDecision, check_answer, form_description, timeout_decision
from amala.loop.campaign import Campaign, Stop
from amala.loop.store import Batch

FORM = run_input_subclass_from_type(ApprovalForm)  # the form as Prefect run input (what the UI draws)


@task(name="review", cache_policy=NO_CACHE)
def review_task(campaign: Campaign, batch: Batch, decision: BatchDecision) -> Batch | None:
    return campaign.review(batch, decision)


def approval_gate(campaign: Campaign, batch: Batch) -> tuple[Batch | None, Stop | None]:
    """Pause the flow run until a person answers the batch validly (terminal or Prefect UI form).

    Returns the batch to evaluate (None: rejected), or a Stop when nobody answered and the policy
    is to stop; the batch then keeps waiting in the store, and the next run asks again."""
    spec = campaign.config.approval
    run_id = str(flow_run.id) if flow_run.id else None
    campaign.store.request_approval(campaign.id, batch, run_id)
    notify(campaign, "approval", f"batch {batch.index} ({len(batch.candidates)} candidates) waits for approval: "
                                 f"amala pending {campaign.config.name}", iteration=batch.index)
    get_run_logger().warning(
        "batch %d (%d candidates) waits for approval: the form of this flow run in the Prefect UI shows it (or "
        "`amala pending %s`; answer with `amala approve %s`); after %g s without a valid answer: %s",
        batch.index, len(batch.candidates), campaign.config.name, campaign.config.name, spec.timeout_seconds,
        spec.on_timeout)
    decision = ask(campaign, batch, time.monotonic() + spec.timeout_seconds)
    if decision is None:
        return _on_timeout(campaign, batch)
    return review_task(campaign, batch, decision), None


def ask(campaign: Campaign, batch: Batch, deadline: float) -> BatchDecision | None:
    """Ask until a valid answer comes, re-asking with the reasons after each refused one; None
    when the deadline (a monotonic time) passes first. Each ask is a pause with its own key: Prefect
    returns the stored answer of a pause key it has already seen instead of pausing again."""
    refused: dict[str, str] = {}
    for attempt in itertools.count():  # bounded by the deadline: every ask waits at least a second
        left = deadline - time.monotonic()
        if left < 1:
            return None
        form = FORM.with_initial_data(description=form_description(campaign, batch, refused, left))
        try:
            answer = pause_flow_run(wait_for_input=form, timeout=math.ceil(left),
                                    poll_interval=max(1, round(campaign.config.approval.poll_seconds)),
                                    key=f"approve-batch-{batch.index}-{attempt}")
        except FlowPauseTimeout:
            return None
        except ValidationError as exc:  # an answer the form's own types refuse
            refused = {".".join(map(str, e["loc"])) or "answer": e["msg"] for e in exc.errors()}
        else:
            decision, refused = check_answer(campaign, batch, answer)
            if decision is not None:
                return decision
        _log_refusal(campaign, batch, refused)


def _log_refusal(campaign: Campaign, batch: Batch, refused: dict[str, str]) -> None:
    """A refused answer is visible in the form (asked again), the run log and the event log."""
    reasons = "; ".join(f"{text!r}: {reason}" for text, reason in refused.items())
    get_run_logger().warning("batch %d: answer refused, asking again (nothing evaluated): %s", batch.index, reasons)
    campaign.store.log(campaign.id, "approval", f"iteration {batch.index}: answer refused, asked again: {reasons}",
                       level="warning", data={"refused": refused})


def _on_timeout(campaign: Campaign, batch: Batch) -> tuple[Batch | None, Stop | None]:
    """No valid answer in time: the run goes on under the campaign's timeout policy."""
    spec = campaign.config.approval
    with get_client(sync_client=True) as client:  # a pause that timed out leaves the run paused or failed
        client.set_flow_run_state(flow_run.id, Running(), force=True)
    if not campaign.needs_approval(batch):  # answered in the store meanwhile (`amala approve`, no run seen)
        return campaign.pending_batch(), None
    decision = timeout_decision(spec.on_timeout, spec.timeout_seconds)
    if decision is None:
        return None, Stop(f"batch {batch.index} is waiting for approval (no valid answer within "
                          f"{spec.timeout_seconds:g} s); answer it with `amala approve`, then re-run", final=False)
    return review_task(campaign, batch, decision), None
