"""The declared protocols between the campaign and its plug-ins: an agent's `Proposal` (events and
model version included) is stored exactly once; an oracle's `mode` decides how its work is handed
over and its notes reach the log once; a one-fidelity surrogate refuses fidelity labels; and the
one validity gate serves generators and hand-written additions alike; the representations have one
home."""

from typing import get_args

import pytest
import torch

from amala.agents import Candidate, Proposal
from amala.core import datasets
from amala.core.polymer import canonical_smiles
from amala.core.representations import Representation, RepresentationName, pool_column
from amala.core.validity import ProposalFilter
from amala.loop.campaign import Campaign, check_additions
from amala.loop.config import parse_config
from amala.loop.store import Store
from amala.oracles.tables.lookup import LookupOracle


@pytest.fixture(scope="module")
def table(synthetic_data_dir):
    return datasets.load("htpmd", synthetic_data_dir / "htpmd.csv", subset=40, seed=1)


def _campaign(table, oracle=None):
    config = parse_config({"name": "protocols", "budget": {"initial": 6, "max_evaluations": 12},
                           "acquisition": {"batch_size": 3, "strategy": "greedy"}})
    return Campaign(config, store=Store("sqlite://"), table=table, oracle=oracle)


class ToyAgent:
    """Returns new weights once (first call) and an event with every proposal."""

    name = "toy"

    def __init__(self, representations):
        self.representations, self.calls = list(representations), 0

    def propose(self, context, n=None):
        self.calls += 1
        fresh = [Candidate(r, agent=self.name) for r in self.representations if r not in context.known_keys]
        version = {"kind": "toy", "n_train": 7, "call": self.calls} if self.calls == 1 else None
        return Proposal(fresh[:2], [("warning", f"toy: call {self.calls}")], version)


def test_a_proposals_events_and_model_version_are_stored_exactly_once(table):
    campaign = _campaign(table)
    toy = ToyAgent(list(table.frame.smiles[:3]))
    campaign.agents.append(toy)
    before = dict(vars(toy))
    first = campaign.propose()
    assert {c.key for c in first} >= {Candidate(r).key for r in table.frame.smiles[:2]}
    campaign.propose()  # the second proposal has an event but no new weights
    events = [(e.level, e.message) for e in campaign.store.events(campaign.id) if e.kind == "agent"]
    assert events == [("warning", "toy: call 1"), ("warning", "toy: call 2")]
    [version] = campaign.store.model_versions(campaign.id)
    assert version.kind == "toy" and version.n_train == 7 and version.details["call"] == 1
    assert version.iteration == 0
    assert vars(toy) == {**before, "calls": 2}  # the campaign wrote nothing into the agent


class BatchLookup(LookupOracle):
    """A lookup that takes whole batches and says how big each was."""

    mode = "per_batch"

    def __init__(self, table):
        super().__init__(table)
        self.batches, self._said = [], []

    def evaluate(self, candidates):
        self.batches.append(len(candidates))
        self._said.append(("info", f"batch of {len(candidates)}"))
        return super().evaluate(candidates)

    def drain_notes(self):
        said, self._said = self._said, []
        return said


class CountingLookup(LookupOracle):
    mode = "per_candidate"

    def __init__(self, table):
        super().__init__(table)
        self.batches = []

    def evaluate(self, candidates):
        self.batches.append(len(candidates))
        return super().evaluate(candidates)


def test_the_oracles_mode_decides_how_work_is_handed_over_and_notes_are_logged_once(table):
    batch_oracle = BatchLookup(table)
    campaign = _campaign(table, batch_oracle)
    first = campaign.step()
    campaign.step()
    assert batch_oracle.batches == [6, 3] and first.n_ok == 6
    notes = [e.message for e in campaign.store.events(campaign.id) if e.kind == "oracle"]
    assert notes == ["batch of 6", "batch of 3"]

    one_by_one = CountingLookup(table)
    campaign = _campaign(table, one_by_one)
    campaign.step()
    assert one_by_one.batches == [1] * 6 and one_by_one.drain_notes() == []  # the protocol's default
    assert not [e for e in campaign.store.events(campaign.id) if e.kind == "oracle"]


def test_one_fidelity_surrogates_refuse_fidelity_and_temperature_labels():
    from amala.models.composition_gp import CompositionFeaturizer, CompositionGP
    from amala.models.random_forest import RandomForest

    X, y = torch.rand(4, 3, dtype=torch.float64), torch.rand(4, dtype=torch.float64)
    forest = RandomForest(None, n_estimators=3)
    assert forest.fidelities is False
    with pytest.raises(ValueError, match="surrogate random_forest: models one fidelity"):
        forest.fit(X, y, high=torch.tensor([True, False, False, False]))
    # the composition GP has two fidelities (tests/models/test_composition_gp.py) but one temperature
    composition_gp = CompositionGP(CompositionFeaturizer(["Li2O", "SiO2"]))
    for surrogate in (forest, composition_gp):
        with pytest.raises(ValueError, match=f"surrogate {surrogate.name}: models one temperature"):
            surrogate.fit(X, y, temperature_K=torch.full((4,), 300.0))
    forest = RandomForest(None, n_estimators=3).fit(X, y, high=torch.zeros(4, dtype=torch.bool))  # all low: fine
    assert forest.predict(X)[0].shape == (4,)


def test_one_gate_for_generators_and_hand_written_additions(table):
    known = {Candidate(canonical_smiles("[Cu]CCO[Au]")).key}
    texts = ["[Cu]OCC[Au]", "[Cu]CCO[Au]", "OCC[Au]", " ", "[Cu]CCCO[Au]", "[Au]OCCC[Cu]"]
    gate = ProposalFilter(known, already="already proposed in this campaign")
    accepted = gate(texts, "someone", metadata={"added_by": "someone"})
    added, refused = check_additions(_campaign(table).config, known, texts, by="someone")
    new = [canonical_smiles(t) for t in ("[Cu]OCC[Au]", "[Cu]CCCO[Au]")]
    assert [c.representation for c in added] == [c.representation for c in accepted] == new
    assert refused == gate.refused and list(refused) == ["[Cu]CCO[Au]", "OCC[Au]", " ", "[Au]OCCC[Cu]"]
    assert refused["[Au]OCCC[Cu]"] == "already proposed in this campaign"  # earlier in the same list
    assert gate.rejected == {"already known": 2, "end markers": 1, "empty": 1}
    assert added[0].agent == "human:someone" and added[0].metadata == {"added_by": "someone"}
    long = ProposalFilter(max_chars=10)
    assert long(["[Cu]CCCCCCCCO[Au]"], "llm") == []
    assert long.refused == {"[Cu]CCCCCCCCO[Au]": "longer than 10 characters"}


def test_representations_have_one_home_and_equal_their_plain_names():
    assert get_args(RepresentationName) == tuple(r.value for r in Representation)  # the config's setting
    assert Representation.COMPOSITION == "composition" and "smiles" in {Representation.SMILES}  # stored data, YAML
    assert f"{Representation.FORMULATION}" == "formulation"
    assert [pool_column(r) for r in Representation] == ["smiles", "composition", "formulation"]
    assert Candidate("x", kind=Representation.COMPOSITION).key == Candidate("x", kind="composition").key
