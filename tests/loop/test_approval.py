"""Human-in-the-loop approval through the real Prefect flow (temporary Prefect API server) on a
300-polymer subset of the synthetic HTP-MD-shaped table (conftest's `data_env`): the flow pauses with the
batch, `amala approve` answers it from the
terminal with a rejection and an addition, and the stored batch, evaluations and decision show
both. The timeout policy is exercised with a short timeout."""

import threading
import time

import pytest
import yaml
from typer.testing import CliRunner

from amala.flows.campaign_flow import campaign_flow
from amala.flows.cli import app
from amala.loop.campaign import Campaign
from amala.loop.config import load_config

pytestmark = pytest.mark.slow

CONFIG = {
    "name": "gate",
    "seed": 5,
    "data": {"dataset": "htpmd", "subset": 300},
    "objective": {"property": "conductivity", "direction": "maximize", "transform": "log10"},
    "oracle": {"kind": "lookup"},
    "budget": {"initial": 8, "max_evaluations": 30},
    "approval": {"mode": "batch", "timeout_seconds": 120, "poll_seconds": 1},
}


def _write(tmp, **approval):
    cfg = {**CONFIG, "approval": {**CONFIG["approval"], **approval}}
    path = tmp / "gate.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _wait_for_pending(campaign_name, seconds=90):
    runner = CliRunner()
    deadline = time.time() + seconds
    while time.time() < deadline:
        out = runner.invoke(app, ["pending", campaign_name])
        if "waits for approval" in out.output:
            return out.output
        time.sleep(0.5)
    raise AssertionError("the flow never paused for approval")


@pytest.mark.flow
def test_paused_flow_is_answered_by_amala_approve(data_env, prefect_server):
    path = _write(data_env)
    result = {}
    thread = threading.Thread(target=lambda: result.update(campaign_flow(str(path), max_iterations=1)), daemon=True)
    thread.start()
    listing = _wait_for_pending("gate")
    assert "awaiting approval" in CliRunner().invoke(app, ["status", "gate"]).output

    campaign = Campaign(load_config(path))
    batch = campaign.pending_batch()
    assert len(batch.candidates) == 8 and batch.candidates[0].key in listing
    dropped = batch.candidates[0]
    extra = next(s for s in campaign.table.frame.smiles if s not in {c.representation for c in batch.candidates})

    runner = CliRunner()
    bad = runner.invoke(app, ["approve", "gate", "--add", "CC[Cu]"])  # no [Au] end: refused, nothing sent
    assert bad.exit_code == 2 and "--add 'CC[Cu]'" in bad.output and "[Au]" in bad.output
    assert campaign.store.awaiting_approval(campaign.id) is not None
    unknown = runner.invoke(app, ["approve", "gate", "--reject", "0000000000000000"])
    assert unknown.exit_code == 2 and "not a candidate of batch 0" in unknown.output

    answer = runner.invoke(app, ["approve", "gate", "--reject", "0", "--add", extra,  # rank 0 = dropped
                                 "--comment", "too close to a known polymer", "--by", "alice"])
    assert answer.exit_code == 0, answer.output
    assert "edited" in answer.output and "goes on" in answer.output
    thread.join(120)
    assert not thread.is_alive() and result["evaluations"] == 8  # 8 selected - 1 rejected + 1 added

    evaluated = {c.representation: c for c, _ in campaign.store.evaluations(campaign.id)}
    assert dropped.representation not in evaluated
    added = [c for c in evaluated.values() if c.agent == "human:alice"]
    assert len(added) == 1 and added[0].provenance == {"added_by": "alice"}
    approvals = {c.key: s.approval for _, s, c in campaign.store.selections(campaign.id)}
    assert approvals[dropped.key] == "rejected" and approvals[added[0].key] == "added"
    assert sorted(approvals.values()).count("approved") == 7
    [(decision, iteration)] = campaign.store.decisions(campaign.id)
    assert (decision.by, decision.via, decision.action, iteration.index) == ("alice", "cli", "edited", 0)
    assert decision.rejected == [dropped.key] and decision.comment == "too close to a known polymer"
    assert "no batch is waiting" in runner.invoke(app, ["pending", "gate"]).output
    assert runner.invoke(app, ["report", "gate"]).exit_code == 0
    html = (data_env / "runs" / "gate" / "report" / "report.html").read_text()
    assert "Approvals (1)" in html and "too close to a known polymer" in html and "alice" in html


@pytest.mark.flow
def test_timeout_policies_stop_then_answer_offline_then_approve(data_env, prefect_server):
    path = _write(data_env, timeout_seconds=2, on_timeout="stop")
    stopped = campaign_flow(str(path), max_iterations=2)
    assert not stopped["final"] and "waiting for approval" in stopped["stop"] and stopped["evaluations"] == 0
    campaign = Campaign(load_config(path))
    assert campaign.store.awaiting_approval(campaign.id).index == 0

    # Nobody is waiting now: the answer is stored, and the next run evaluates the resized batch.
    runner = CliRunner()
    answer = runner.invoke(app, ["approve", "gate", "--batch-size", "5", "--by", "bob"])
    assert answer.exit_code == 0 and "next `amala run`" in answer.output, answer.output
    path = _write(data_env, timeout_seconds=2, on_timeout="approve")
    resumed = campaign_flow(str(path), max_iterations=2)  # batch 0 as answered; batch 1 approved by timeout
    assert resumed["evaluations"] == 5 + 10  # batch_size default 10
    decisions = [(d.by, d.via, d.action, d.batch_size) for d, _ in campaign.store.decisions(campaign.id)]
    assert decisions == [("bob", "store", "edited", 5), ("timeout policy", "timeout", "approved", None)]

    path = _write(data_env, timeout_seconds=2, on_timeout="reject")
    rejected = campaign_flow(str(path), max_iterations=1)
    assert rejected["evaluations"] == 15
    last = campaign.store.iterations(campaign.id)[-1]
    assert (last.status, last.approval) == ("rejected", "rejected")


def test_review_resizes_and_validates_without_prefect(data_env):
    """Campaign.review on its own: a larger batch is topped up by the acquisition function, a smaller
    one keeps the best-ranked candidates (additions first), and bad or duplicate additions and ids
    outside the batch are refused with reasons."""
    from amala.loop.approval import BatchDecision

    campaign = Campaign(load_config(_write(data_env)))
    batch = campaign.select_batch(campaign.propose())
    grown = campaign.review(batch, BatchDecision(batch_size=11, by="carol", via="cli"))
    assert len(grown.candidates) == 11 and grown.candidates[:8] == batch.candidates
    approvals = [s.approval for _, s, _ in campaign.store.selections(campaign.id)]
    assert approvals == ["approved"] * 11

    campaign.record(grown, campaign.evaluate(grown))  # evaluate it, then answer the next (model-chosen) batch
    second = campaign.select_batch(campaign.propose())
    known = grown.candidates[0].representation
    fresh = next(s for s in campaign.table.frame.smiles if campaign.check_additions([s])[0])
    decision = BatchDecision(batch_size=3, add=[fresh, known, "[Cu]C[Au]C"], reject=["0000000000000000"], by="carol")
    kept = campaign.review(second, decision)
    assert [c.representation for c in kept.candidates] == [c.representation for c in second.candidates[:2]] + [fresh]
    [(row, _)] = [(d, it) for d, it in campaign.store.decisions(campaign.id) if it.index == second.index]
    assert row.action == "edited" and len(row.rejected) == len(second.candidates) - 2
    assert row.refused[known] == "already proposed in this campaign" and "[Au]" in row.refused["[Cu]C[Au]C"]
    assert row.refused["0000000000000000"] == "not a candidate of this batch"
