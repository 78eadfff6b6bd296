"""Mutation and crossover of repeat units keep exactly one [Cu] and one [Au]; the filter counts rejections."""

import numpy as np
import pytest
from rdkit import Chem

from amala.agents.mutation import MUTATIONS, MutationAgent, crossover
from amala.agents.registry import ProposalContext
from amala.core.polymer import canonical_smiles
from amala.core.validity import ProposalFilter

PARENTS = ["[Cu]CCOCC(=O)N[Au]", "[Au]c1ccc(cc1)OCCS[Cu]", "[Cu]COC(=O)C(C)(C)N[Au]", "[Cu]CC(F)(F)OCCO[Au]"]


def _markers(smiles):
    mol = Chem.MolFromSmiles(smiles)
    return sorted(a.GetSymbol() for a in mol.GetAtoms() if a.GetSymbol() in ("Cu", "Au"))


@pytest.mark.parametrize("operator", MUTATIONS, ids=lambda f: f.__name__)
def test_every_mutation_keeps_both_end_markers_and_changes_the_molecule(operator):
    rng = np.random.default_rng(0)
    produced = 0
    for parent in PARENTS:
        for _ in range(10):
            child = operator(Chem.MolFromSmiles(parent), rng)
            if child is None:
                continue
            produced += 1
            assert _markers(child) == ["Au", "Cu"]
            assert canonical_smiles(child)  # a valid repeat unit by the project's one rule
    assert produced >= 10


def test_crossover_joins_the_cu_half_of_one_parent_to_the_au_half_of_the_other():
    rng = np.random.default_rng(1)
    children = {crossover(Chem.MolFromSmiles(PARENTS[0]), Chem.MolFromSmiles(PARENTS[1]), rng) for _ in range(20)}
    children.discard(None)
    assert children and all(_markers(c) == ["Au", "Cu"] for c in children)
    for child in children:  # [Cu]-C as in the first parent (where [Cu] sits on S), [Au] on the second's ring
        mol = Chem.MolFromSmiles(child)
        neighbour = {a.GetSymbol(): a.GetNeighbors()[0] for a in mol.GetAtoms() if a.GetSymbol() in ("Cu", "Au")}
        assert neighbour["Cu"].GetSymbol() == "C" and neighbour["Au"].GetIsAromatic(), child


def test_agent_proposes_new_valid_candidates_and_reports_rejections():
    known = {c.key for c in ProposalFilter()(PARENTS, "pool")}
    agent = MutationAgent(seeds=PARENTS, n=25)
    proposals = agent.propose(ProposalContext(iteration=0, seed=3, known_keys=known)).candidates
    assert len(proposals) == 25 and len({c.key for c in proposals}) == 25
    assert not {c.key for c in proposals} & known
    assert all(c.agent == "mutation" and c.metadata["operator"] for c in proposals)
    again = MutationAgent(seeds=PARENTS, n=25).propose(ProposalContext(iteration=0, seed=3, known_keys=known))
    again = again.candidates
    assert [c.key for c in again] == [c.key for c in proposals]  # seeded: reproducible


def test_filter_rejects_with_reasons_and_dedups():
    gate = ProposalFilter()
    accepted = gate(["[Cu]CCO[Au]", "OCC[Au]", "[Cu]C(C[Au]", "[Cu]CCO[Au]", "[Au]OCC[Cu]", "[Cu]=CC[Au]"], "t")
    assert [c.representation for c in accepted] == [canonical_smiles("[Cu]CCO[Au]")]
    assert gate.rejected == {"end markers": 2, "not a valid molecule": 1, "already known": 2}
