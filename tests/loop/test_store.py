import pytest
from sqlalchemy.exc import IntegrityError

from amala.agents import Candidate
from amala.core.polymer import canonical_smiles
from amala.loop.store import SelectedCandidate, Store
from amala.loop.tables import EvaluationRow
from amala.oracles import Evaluation, Measurement

A = Candidate(canonical_smiles("[Cu]OCCOC(=O)[Au]"), agent="pool")
B = Candidate(canonical_smiles("[Cu]CCOCC[Au]"), agent="pool")


def objective(ev):
    return ev.values["conductivity"].value if ev.ok else None


@pytest.fixture
def store(tmp_path):
    return Store(f"sqlite:///{tmp_path}/sub/amala.db")


def _ok(c, v=1e-4):
    return Evaluation(c.key, "lookup", "published", "ok", {"conductivity": Measurement(v, "S/cm")})


def test_selection_keeps_provenance_and_batch_waits_until_evaluated(store):
    cid = store.open_campaign("c", {"a": 1}).id
    batch = store.record_selection(cid, "qlognei", [SelectedCandidate(A, -3.5, 0.2, 0.7), SelectedCandidate(B)],
                                   model={"kind": "gp", "n_train": 50},
                                   timings={"fit": 1.0, "score": 0.1, "select": 0.2})
    assert store.pending_batch(cid).candidates == [A, B]
    it, sel, cand = store.selections(cid)[0]
    got = (cand.agent, sel.predicted_mean, sel.predicted_std, sel.acquisition_value, it.index)
    assert got == ("pool", -3.5, 0.2, 0.7, 0)
    assert store.model_versions(cid)[0].n_train == 50 and it.fit_seconds == 1.0

    failed = Evaluation.failed(B.key, "lookup", "published", "not in table")
    assert store.record_evaluations(cid, batch, [_ok(A), failed], objective) == 2
    assert store.pending_batch(cid) is None
    # storing the same batch again writes nothing: a resume never counts a candidate twice
    assert store.record_evaluations(cid, batch, [_ok(A, 5.0)], objective) == 0
    rows = store.evaluations(cid)
    assert [(c.key, e.status, e.reason) for c, e in rows] == [(A.key, "ok", None), (B.key, "failed", "not in table")]
    assert rows[0][1].values["conductivity"] == {"value": 1e-4, "unit": "S/cm", "std": None}
    assert any(ev.kind == "evaluation_failed" for ev in store.events(cid))


def test_unique_per_candidate_oracle_fidelity_is_enforced_by_the_database(store):
    cid = store.open_campaign("c", {}).id
    batch = store.record_selection(cid, "random", [SelectedCandidate(A)])
    store.record_evaluations(cid, batch, [_ok(A)], objective)
    with store.session() as s, pytest.raises(IntegrityError):
        row = store.evaluations(cid)[0][1]
        s.add(EvaluationRow(candidate_id=row.candidate_id, oracle="lookup", fidelity="published", status="ok"))
        s.commit()


def test_a_failed_write_leaves_nothing_half_done(store):
    cid = store.open_campaign("c", {}).id
    batch = store.record_selection(cid, "random", [SelectedCandidate(A)])
    stranger = _ok(B)  # B was never selected in this campaign
    with pytest.raises(KeyError):
        store.record_evaluations(cid, batch, [_ok(A), stranger], objective)
    assert store.evaluations(cid) == []
    assert store.pending_batch(cid) is not None


def test_reopening_with_changed_config_is_logged(store):
    first = store.open_campaign("c", {"budget": 1})
    again = store.open_campaign("c", {"budget": 2})
    assert first.id == again.id and again.config == {"budget": 2}
    assert any("changed config keys ['budget']" in e.message for e in store.events(first.id))


def test_potentials_an_evaluation_trained_become_model_versions_once(store):
    """An MLIP oracle's committee (its files and held-out errors) is stored with its evaluation, and a
    resume that stores the same evaluation again adds no second model version."""
    cid = store.open_campaign("c", {"a": 1}).id
    batch = store.record_selection(cid, "qlognei", [SelectedCandidate(A)], model={"kind": "gp", "n_train": 5})
    committee = {"kind": "nequip-committee", "n_train": 42, "force_mae_meV_A": [31.0, 33.5, 30.2],
                 "files": ["round/member_0/best.ckpt"]}
    ev = Evaluation(A.key, "nequip-sevennet", "mlip-quick", "ok", {"conductivity": Measurement(1e-4, "S/cm")},
                    potentials=[committee])
    assert store.record_evaluations(cid, batch, [ev], objective) == 1
    assert store.record_evaluations(cid, batch, [ev], objective) == 0
    versions = [v for v in store.model_versions(cid) if v.kind == "nequip-committee"]
    assert [(v.n_train, v.iteration, v.details["force_mae_meV_A"]) for v in versions] == [(42, 0, [31.0, 33.5, 30.2])]
