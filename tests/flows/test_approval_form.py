"""The approval form as the Prefect UI gets it, and the per-batch artifacts.

The form's JSON schema (what Prefect stores and the UI draws) hides `via` and draws the batch size
as a plain integer; its description is the ranked batch with predictions; an answer that names an
unknown candidate or adds an invalid SMILES is refused and asked again, never evaluated (checked
on its own, then once through the real flow on a temporary Prefect API). Artifacts: run names,
tags and keys, the batch table with results and units, and that a failing publication is only a
warning."""

import json
import threading
import time

import pytest
import yaml
from prefect._internal.pydantic.v2_schema import create_v2_schema
from prefect.utilities.schema_tools import validate

from amala.flows import artifacts
from amala.flows.approval_gate import FORM
from amala.loop.approval import ApprovalForm, BatchDecision, check_answer, form_answer, form_description
from amala.loop.campaign import Campaign
from amala.loop.config import load_config, parse_config

CONFIG = {
    "name": "gate_form",
    "seed": 5,
    "data": {"dataset": "htpmd", "subset": 300},
    "objective": {"property": "conductivity", "direction": "maximize", "transform": "log10"},
    "oracle": {"kind": "lookup"},
    "budget": {"initial": 8, "max_evaluations": 30},
    "acquisition": {"batch_size": 4},
    "approval": {"mode": "batch", "timeout_seconds": 60, "poll_seconds": 1},
}
INVALID_SMILES = "CC(C[Cu]"


def _schema() -> dict:
    return create_v2_schema(FORM.__name__, model_base=FORM)


def _campaign(folder, **approval) -> Campaign:
    cfg = {**CONFIG, "approval": {**CONFIG["approval"], **approval}}
    path = folder / "gate_form.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return Campaign(load_config(path))


def _modelled_batch(campaign: Campaign):
    """A second batch, chosen by a fitted model: its candidates have predictions and acquisition values."""
    first = campaign.select_batch(campaign.propose())
    campaign.record(first, campaign.evaluate(first))
    return campaign.select_batch(campaign.propose())


# the form as Prefect sends it to the UI -------------------------------------------------------
def test_form_schema_hides_via_and_draws_batch_size_as_integer():
    schema = _schema()
    assert "via" not in schema["properties"]
    assert schema["properties"]["batch_size"] == {"type": "integer", "minimum": 0, "title": "Batch size",
                                                  "description": schema["properties"]["batch_size"]["description"]}
    assert all("anyOf" not in field for field in schema["properties"].values())  # "Property is type None"
    assert schema.get("additionalProperties") is not False  # `amala approve` sends the hidden `via`


def test_server_accepts_terminal_and_ui_answers_and_refuses_bad_types():
    """What the Prefect server checks on resume (the stored schema, its own preprocessing)."""
    schema = _schema()
    cli = BatchDecision(reject=["abc"], by="alice", via="cli").model_dump()  # what `amala approve` sends
    validate(cli, schema, raise_on_error=True)
    assert FORM(**cli).via == "cli" and FORM(**cli).batch_size is None
    ui = {"approve": True, "reject": None, "add": ["", "  "], "batch_size": 0, "comment": None, "by": ""}
    validate({k: v for k, v in ui.items() if v is not None}, schema, raise_on_error=True)
    form = FORM(**ui)
    assert (form.via, form.reject, form.add, form.batch_size, form.comment) == ("ui", [], [], 0, "")
    with pytest.raises(Exception, match="batch_size"):
        validate({"batch_size": -2}, schema, raise_on_error=True)
    assert form_answer(BatchDecision(batch_size=3, via="cli"))["via"] == "cli"


# the form's content and the check of its answers ----------------------------------------------
def test_description_shows_the_ranked_batch_with_predictions(data_env):
    campaign = _campaign(data_env)
    batch = _modelled_batch(campaign)
    text = form_description(campaign, batch)
    assert len(batch.candidates) == 4
    for rank, candidate in enumerate(batch.candidates):
        line = next(line for line in text.splitlines() if candidate.key in line)
        assert line.startswith(f"| {rank} |") and f"`{candidate.representation}`" in line
        assert " ± " in line and "initial design" not in line
    assert "log10 conductivity [log10(S/cm)]" in text and "refused" not in text
    assert "`stop` applies" in text and "amala approve gate_form" in text
    again = form_description(campaign, batch, {INVALID_SMILES: "not a valid SMILES"}, seconds_left=12)
    assert again.startswith("**⚠ The last answer was refused") and "not a valid SMILES" in again
    assert "within 12 s" in again


def test_check_answer_refuses_unknown_ids_and_invalid_smiles(data_env):
    campaign = _campaign(data_env)
    batch = campaign.select_batch(campaign.propose())
    fresh = next(s for s in campaign.table.frame.smiles if campaign.check_additions([s])[0])
    decision, refused = check_answer(campaign, batch, ApprovalForm(reject=["0000000000000000", "1"],
                                                                     add=[INVALID_SMILES, fresh]))
    assert decision is None and set(refused) == {"0000000000000000", INVALID_SMILES}
    assert "not a candidate of batch 0" in refused["0000000000000000"]

    second = batch.candidates[1].key  # rank 1 and its id name the same candidate: rejected once
    form = ApprovalForm(reject=["1", second, "3"], add=[fresh], batch_size=0, by=" ", comment="ok", via="cli")
    decision, refused = check_answer(campaign, batch, form)
    assert refused == {} and decision.reject == [second, batch.candidates[3].key]
    assert (decision.add, decision.batch_size, decision.via, decision.by) == ([fresh], None, "cli", "anonymous")
    assert decision.action == "edited"
    decision, _ = check_answer(campaign, batch, ApprovalForm(via="store", batch_size=5))  # only the CLI sets via
    assert (decision.via, decision.batch_size) == ("ui", 5)


# once through the real flow -------------------------------------------------------------------
def _paused_description(client, run_id, seen: set, seconds=60) -> str:
    """The description of the next pause of the run (a pause key not seen before)."""
    from prefect.input.actions import read_flow_run_input

    deadline = time.time() + seconds
    while time.time() < deadline:
        state = client.read_flow_run(run_id).state
        if state.is_paused() and state.state_details.pause_key not in seen:
            seen.add(state.state_details.pause_key)
            return read_flow_run_input(state.state_details.run_input_keyset["description"], flow_run_id=run_id)
        time.sleep(0.3)
    raise AssertionError("the flow run did not pause for approval")


@pytest.mark.flow
def test_ui_answer_with_bad_input_is_asked_again_then_applied(data_env, prefect_server):
    from prefect import get_client
    from prefect.flow_runs import resume_flow_run

    from amala.flows.campaign_flow import campaign_flow

    campaign = _campaign(data_env)
    cfg = campaign.config.model_dump(mode="json")
    result = {}
    thread = threading.Thread(target=lambda: result.update(campaign_flow(cfg, max_iterations=1)), daemon=True)
    thread.start()
    with get_client(sync_client=True) as client:
        deadline = time.time() + 60
        while (row := campaign.store.awaiting_approval(campaign.id)) is None or row.flow_run_id is None:
            assert time.time() < deadline, "no batch waits for approval"
            time.sleep(0.3)
        run_id, seen = row.flow_run_id, set()
        batch = campaign.pending_batch()
        first = _paused_description(client, run_id, seen)
        assert all(c.key in first and c.representation in first for c in batch.candidates)

        resume_flow_run(run_id, run_input={"reject": ["0000000000000000"], "add": [INVALID_SMILES]})  # as the UI
        again = _paused_description(client, run_id, seen)
        assert "refused" in again and "0000000000000000" in again and INVALID_SMILES in again
        assert campaign.n_evaluations() == 0 and campaign.store.awaiting_approval(campaign.id) is not None

        resume_flow_run(run_id, run_input={"reject": ["0"], "by": "dana"})
    thread.join(60)
    assert not thread.is_alive() and result["evaluations"] == 7
    [(decision, _)] = campaign.store.decisions(campaign.id)
    assert (decision.by, decision.via, decision.action, decision.rejected) == ("dana", "ui", "edited",
                                                                                [batch.candidates[0].key])
    refusals = [e for e in campaign.store.events(campaign.id) if "answer refused" in e.message]
    assert len(refusals) == 1 and refusals[0].level == "warning"
    with get_client(sync_client=True) as client:  # the run is named, tagged, and left its batch's artifacts
        run = client.read_flow_run(run_id)
        published = {a.key for a in client.read_artifacts(artifact_filter=_run_artifacts(run_id))}
    assert run.name == "gate_form · batch 0" and {"campaign:gate_form", "representation:smiles"} <= set(run.tags)
    assert published == {"gate-form-batch-0", "gate-form-summary"}


# artifacts ------------------------------------------------------------------------------------
def _run_artifacts(run_id):
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    return ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))


def test_run_names_tags_and_artifact_keys():
    cfg = parse_config({**CONFIG, "name": "HTPMD_retro.v2"})
    assert artifacts.run_name(cfg) == "HTPMD_retro.v2" and artifacts.run_name(cfg, 7) == "HTPMD_retro.v2 · batch 7"
    assert artifacts.run_tags(cfg) == ["amala", "campaign:HTPMD_retro.v2", "representation:smiles", "oracle:lookup"]
    assert artifacts.artifact_key(cfg.name, "batch", 7) == "htpmd-retro-v2-batch-7"


def test_batch_artifact_rows_and_markdown(data_env):
    campaign = _campaign(data_env)
    batch = _modelled_batch(campaign)
    campaign.review(batch, BatchDecision(reject=[batch.candidates[0].key], by="eve", via="cli"))
    kept = campaign.pending_batch()
    summary = campaign.record(kept, campaign.evaluate(kept))
    rows = artifacts.batch_rows(campaign, batch)
    assert [r["id"] for r in rows] == [c.key for c in batch.candidates]
    assert rows[0]["status"] == "rejected at approval" and rows[0]["conductivity [S/cm]"] == "—"
    assert all(r["status"] == "ok" and r["conductivity [S/cm]"].endswith(" S/cm") for r in rows[1:])
    assert all(" ± " in r["predicted ± std"] for r in rows)
    text = artifacts.batch_markdown(campaign, batch, summary, rows)
    assert f"**{summary.best:.4g}** (log10 conductivity [log10(S/cm)])" in text
    assert "amala report gate_form" in text and all(f"`{c.representation}`" in text for c in batch.candidates)


@pytest.mark.flow
def test_publish_batch_creates_artifacts_and_never_fails(data_env, prefect_server, monkeypatch, caplog):
    from prefect import flow, get_client
    from prefect.runtime import flow_run

    campaign = _campaign(data_env)
    batch = campaign.select_batch(campaign.propose())
    summary = campaign.record(batch, campaign.evaluate(batch))

    @flow(name="publish")
    def publish() -> tuple[bool, str]:  # as the campaign flow calls it: inside a flow run
        return artifacts.publish_batch(campaign, batch, summary), str(flow_run.id)

    published, run_id = publish()
    assert published is True
    with get_client(sync_client=True) as client:
        found = {a.key: a for a in client.read_artifacts(artifact_filter=_run_artifacts(run_id))}
    assert set(found) == {"gate-form-batch-0", "gate-form-summary"} and found["gate-form-batch-0"].type == "table"
    assert "Best so far" in found["gate-form-summary"].data
    table = json.loads(found["gate-form-batch-0"].data)  # cells are Markdown in the UI: SMILES as code
    assert [r["representation"] for r in table] == [f"`{c.representation}`" for c in batch.candidates]

    def broken(*args, **kwargs):
        raise RuntimeError("API unreachable")

    monkeypatch.setattr("prefect.artifacts.create_table_artifact", broken)
    with caplog.at_level("WARNING"):
        assert publish()[0] is False
    assert "API unreachable" in caplog.text
