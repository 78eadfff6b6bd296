"""Statuses and approval states are enums in code and the same plain strings in the database."""

from sqlalchemy import text

from amala.agents import Candidate
from amala.core.polymer import canonical_smiles
from amala.loop.approval import BatchDecision
from amala.loop.states import Approval, CampaignStatus, IterationStatus
from amala.loop.store import SelectedCandidate, Store

A = Candidate(canonical_smiles("[Cu]OCCOC(=O)[Au]"), agent="pool")
B = Candidate(canonical_smiles("[Cu]CCOCC[Au]"), agent="pool")


def _raw(store, sql):
    with store.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(sql))]


def test_stored_values_are_the_old_strings_and_read_back_equal_to_the_enums(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/amala.db")
    cid = store.open_campaign("c", {}).id
    batch = store.record_selection(cid, "random", [SelectedCandidate(A), SelectedCandidate(B)])
    store.request_approval(cid, batch, None)
    assert _raw(store, "select status from campaign") == [("awaiting approval",)]
    assert _raw(store, "select status, approval from iteration") == [("selected", "pending")]
    assert store.awaiting_approval(cid).approval == Approval.PENDING

    decision = BatchDecision(reject=[B.key], by="ann", via="cli")
    assert decision.action == Approval.EDITED == "edited"
    store.record_decision(cid, batch, decision, [B.key], [], {})
    assert _raw(store, "select status from campaign") == [("running",)]
    assert _raw(store, "select approval from iteration") == [("edited",)]
    assert sorted(_raw(store, "select approval from selection")) == [("approved",), ("rejected",)]
    assert _raw(store, "select action from decision") == [("edited",)]
    assert type(_raw(store, "select action from decision")[0][0]) is str

    store.set_status(cid, CampaignStatus.FINISHED, "done")
    assert _raw(store, "select status from campaign") == [("finished",)]
    assert _raw(store, "select data from event where kind = 'status'") == [('{"status": "finished"}',)]


def test_enum_values_are_the_documented_strings():
    assert [s.value for s in CampaignStatus] == ["running", "awaiting approval", "finished", "stopped", "interrupted"]
    assert [s.value for s in IterationStatus] == ["selected", "evaluated", "rejected"]
    assert f"{Approval.REJECTED}" == "rejected"  # messages show the value, not the member name
