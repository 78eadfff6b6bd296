"""SMILES tokens, the small GPT (trains a few steps and samples), and PolyGen's metrics on a hand-made set."""

import pytest

from amala.agents.generation_metrics import evaluate, sa_score
from amala.agents.registry import ProposalContext
from amala.agents.smiles_gpt import GPTAgent, SmilesGPT
from amala.agents.smiles_tokenizer import SmilesTokenizer, TokenizationError, split
from amala.core.polymer import canonical_smiles

POOL = ["[Cu]CCOCC(=O)N[Au]", "[Au]c1ccc(cc1)OCCS[Cu]", "[Cu]COC(=O)C(C)(C)N[Au]", "[Cu]CC(F)(F)OCCO[Au]",
        "[Cu]CCCCOC(=O)[Au]", "[Cu]OCCOCCO[Au]", "[Cu]C(Cl)COC(=O)C[Au]", "[Cu]CC(C#N)OCC[Au]"]


def test_tokens_are_chemical_and_round_trip():
    assert split("[Cu]C(Cl)Br[Au]") == ["[Cu]", "C", "(", "Cl", ")", "Br", "[Au]"]
    assert split("c1ccc2ccccc2c1%10")[-1] == "%10"
    tokenizer = SmilesTokenizer.fit(POOL)
    for s in POOL:
        ids = tokenizer.encode(s, "<high>")
        assert ids[1] == tokenizer.id("<high>") and tokenizer.decode(ids) == s
    with pytest.raises(TokenizationError):
        split("C!C")


def test_gpt_trains_a_few_steps_samples_and_reloads(tmp_path):
    gpt = SmilesGPT.for_smiles(POOL, seed=0, layers=2, heads=2, width=32)
    losses = gpt.train(POOL * 8, epochs=30, batch_size=16, lr=3e-3)
    assert losses[-1] < 0.6 * losses[0]  # it learns the pool's token statistics
    samples = gpt.sample(20, seed=1)
    assert len(samples) == 20 and all(isinstance(s, str) for s in samples)
    again = SmilesGPT.load(gpt.save(tmp_path / "gpt"))  # a checkpoint, no download
    assert again.sample(5, seed=1) == gpt.sample(5, seed=1)
    agent = GPTAgent(gpt, n=5, condition="<any>")
    proposal = agent.propose(ProposalContext(iteration=0, seed=0))
    proposals = proposal.candidates
    assert len(proposals) == 5  # the trained model gives 5 valid new units among its 3 x 5 samples
    assert all(p.agent == "gpt" and p.kind == "smiles" for p in proposals)
    assert all(canonical_smiles(p.representation) == p.representation for p in proposals)  # checked and canonical
    assert len({p.key for p in proposals}) == 5
    rejected = sum(agent.last_rejections.values())
    [(_, message)] = proposal.events
    assert rejected <= 15 - 5 and message.startswith("gpt: 15 sampled, 5 accepted")
    assert proposal.model_version["pretrained"]  # the weights behind these proposals: returned once, with them
    # the same samples again (same seed), now with the first proposals known: none comes back
    proposal = agent.propose(ProposalContext(iteration=0, seed=0, known_keys={p.key for p in proposals}))
    again = proposal.candidates
    assert proposal.model_version is None  # no new weights since
    assert not {p.key for p in again} & {p.key for p in proposals}
    assert agent.last_rejections["already known"] >= 5  # every sample is accepted or counted with its reason
    assert len(again) + sum(agent.last_rejections.values()) <= 15


def test_polygen_metrics_on_a_hand_made_set():
    training = POOL[:4]
    samples = [POOL[0], POOL[0], POOL[4], POOL[5], "C1CC", "OCC[Au]"]  # 4 valid, 3 unique, 2 novel
    metrics = evaluate(samples, training)
    assert metrics["validity"] == pytest.approx(4 / 6)
    assert metrics["uniqueness"] == pytest.approx(3 / 4)
    assert metrics["novelty"] == pytest.approx(2 / 3)
    assert metrics["synthesizability"] == 1.0  # small aliphatic repeat units are easy
    assert 0 < metrics["similarity"] <= 1 and 0 < metrics["diversity"] < 1
    assert sa_score("[Cu]CCOCC(=O)N[Au]") < sa_score("[Cu]C12C3C4C1C5C2C3C45[Au]")  # cubane is harder
