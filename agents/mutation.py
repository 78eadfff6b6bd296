"""New repeat units by editing good ones: RDKit atom/bond/fragment mutations and crossover.

The classic evolutionary operators on molecular graphs (as in graph-based genetic algorithms,
Jensen 2019), restricted so that the [Cu]/[Au] end markers are never touched: an edit changes
the repeat unit's chemistry, never where the chain continues. Crossover cuts two parents at an
acyclic single bond on their backbone (the path from [Cu] to [Au]) and joins the [Cu] half of one
to the [Au] half of the other. Every product goes through `validity.ProposalFilter`, which also
counts what was rejected and why.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from rdkit import Chem

from amala.agents.protocol import Agent, Proposal, ProposalContext
from amala.core.candidate import Candidate
from amala.core.plugins import AgentSpec, Quota
from amala.core.polymer import END_MARKERS
from amala.core.representations import Representation
from amala.core.validity import ProposalFilter


class MutationSpec(AgentSpec):
    kind: Literal["mutation"] = "mutation"
    n: Quota = 64

SWAP_ELEMENTS = (6, 7, 8, 16)  # C, N, O, S
INSERTS = (6, 8, 7)  # CH2, O, NH
SUBSTITUENTS = ("F", "C", "O", "C#N", "C(=O)O", "OC")


def _editable(mol: Chem.Mol) -> list[int]:
    return [a.GetIdx() for a in mol.GetAtoms() if a.GetSymbol() not in END_MARKERS]


def _finish(rw: Chem.RWMol) -> str | None:
    try:
        mol = rw.GetMol()
        Chem.SanitizeMol(mol)
        return Chem.MolToSmiles(mol)
    except (Chem.rdchem.MolSanitizeException, RuntimeError, ValueError):
        return None


def swap_atom(mol: Chem.Mol, rng: np.random.Generator) -> str | None:
    rw = Chem.RWMol(mol)
    atom = rw.GetAtomWithIdx(int(rng.choice(_editable(mol))))
    atom.SetAtomicNum(int(rng.choice(SWAP_ELEMENTS)))
    atom.SetNoImplicit(False)
    atom.SetNumExplicitHs(0)
    atom.SetIsAromatic(atom.GetIsAromatic() and atom.GetAtomicNum() in (6, 7))
    return _finish(rw)


def insert_atom(mol: Chem.Mol, rng: np.random.Generator) -> str | None:
    bonds = [b for b in mol.GetBonds() if b.GetBondType() == Chem.BondType.SINGLE and not b.IsInRing()
             and b.GetBeginAtom().GetSymbol() not in END_MARKERS and b.GetEndAtom().GetSymbol() not in END_MARKERS]
    bonds = bonds or [b for b in mol.GetBonds() if b.GetBondType() == Chem.BondType.SINGLE and not b.IsInRing()]
    if not bonds:
        return None
    bond = bonds[int(rng.integers(len(bonds)))]
    u, v = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
    rw = Chem.RWMol(mol)
    rw.RemoveBond(u, v)
    w = rw.AddAtom(Chem.Atom(int(rng.choice(INSERTS))))
    rw.AddBond(u, w, Chem.BondType.SINGLE)
    rw.AddBond(w, v, Chem.BondType.SINGLE)
    return _finish(rw)


def delete_atom(mol: Chem.Mol, rng: np.random.Generator) -> str | None:
    """Remove a side atom, or a backbone atom whose two neighbours are then joined."""
    candidates = [i for i in _editable(mol) if mol.GetAtomWithIdx(i).GetDegree() in (1, 2)
                  and not mol.GetAtomWithIdx(i).IsInRing()]
    if not candidates or mol.GetNumAtoms() <= 4:
        return None
    index = int(rng.choice(candidates))
    neighbours = [n.GetIdx() for n in mol.GetAtomWithIdx(index).GetNeighbors()]
    rw = Chem.RWMol(mol)
    if len(neighbours) == 2:
        if rw.GetBondBetweenAtoms(*neighbours) is not None:
            return None
        rw.AddBond(neighbours[0], neighbours[1], Chem.BondType.SINGLE)
    rw.RemoveAtom(index)
    return _finish(rw)


def add_substituent(mol: Chem.Mol, rng: np.random.Generator) -> str | None:
    sites = [i for i in _editable(mol) if mol.GetAtomWithIdx(i).GetTotalNumHs() > 0]
    if not sites:
        return None
    site = int(rng.choice(sites))
    group = Chem.MolFromSmiles(str(rng.choice(SUBSTITUENTS)))
    combined = Chem.RWMol(Chem.CombineMols(mol, group))
    combined.AddBond(site, mol.GetNumAtoms(), Chem.BondType.SINGLE)
    return _finish(combined)


def _halves(mol: Chem.Mol, rng: np.random.Generator) -> tuple[Chem.Mol, Chem.Mol] | None:
    """(the [Cu] side, the [Au] side) of a cut at a random acyclic single bond on the backbone;
    the cut ends carry a dummy atom with map number 1."""
    cu, au = (next(a.GetIdx() for a in mol.GetAtoms() if a.GetSymbol() == s) for s in END_MARKERS)
    path = Chem.GetShortestPath(mol, cu, au)
    bonds = [mol.GetBondBetweenAtoms(a, b) for a, b in zip(path, path[1:])]
    bonds = [b for b in bonds if b.GetBondType() == Chem.BondType.SINGLE and not b.IsInRing()
             and b.GetBeginAtom().GetSymbol() not in END_MARKERS and b.GetEndAtom().GetSymbol() not in END_MARKERS]
    if not bonds:  # a cut next to a marker would hand over a bare marker, not a half
        return None
    cut = Chem.FragmentOnBonds(mol, [bonds[int(rng.integers(len(bonds)))].GetIdx()], dummyLabels=[(0, 0)])
    for atom in cut.GetAtoms():
        if atom.GetAtomicNum() == 0:
            atom.SetAtomMapNum(1)
    pieces = Chem.GetMolFrags(cut, asMols=True, sanitizeFrags=False)
    side = {s: next(p for p in pieces if any(a.GetSymbol() == s for a in p.GetAtoms())) for s in END_MARKERS}
    return side["Cu"], side["Au"]


def crossover(first: Chem.Mol, second: Chem.Mol, rng: np.random.Generator) -> str | None:
    a, b = _halves(first, rng), _halves(second, rng)
    if a is None or b is None:
        return None
    try:
        child = Chem.molzip(Chem.CombineMols(a[0], b[1]))
        Chem.SanitizeMol(child)
        return Chem.MolToSmiles(child)
    except (Chem.rdchem.MolSanitizeException, RuntimeError, ValueError):
        return None


MUTATIONS = (swap_atom, insert_atom, delete_atom, add_substituent)


class MutationAgent(Agent):
    """Mutates and crosses the campaign's best evaluated repeat units (or a seed pool at the start)."""

    Spec = MutationSpec
    representations = (Representation.SMILES,)
    needs_dataset = True  # the dataset's molecules seed the first generation

    @classmethod
    def from_spec(cls, spec: MutationSpec, pool=None, representation="smiles", workdir=None) -> MutationAgent:
        return cls(seeds=pool, n=spec.n, name=spec.name or "mutation")

    def __init__(self, seeds: list[str] | None = None, n: int = 50, parents: int = 20, crossover_rate: float = 0.3,
                 name: str = "mutation"):
        self.seeds, self.n, self.parents, self.crossover_rate, self.name = seeds or [], n, parents, crossover_rate, name
        self.last_rejections: dict[str, int] = {}

    def _parents(self, context: ProposalContext) -> list[str]:
        best = sorted(context.evaluated, key=lambda cv: cv[1], reverse=True)[:self.parents]
        return [c.representation for c, _ in best if c.kind == Representation.SMILES] or self.seeds[:self.parents]

    def propose(self, context: ProposalContext, n: int | None = None) -> Proposal:
        wanted = n or self.n
        parents = [Chem.MolFromSmiles(s) for s in self._parents(context)]
        parents = [p for p in parents if p is not None]
        if not parents:
            return Proposal()
        rng = context.rng(self.name)
        gate = ProposalFilter(context.known_keys)
        found: list[Candidate] = []
        for _ in range(20 * wanted):
            if len(found) >= wanted:
                break
            first = parents[int(rng.integers(len(parents)))]
            if len(parents) > 1 and rng.random() < self.crossover_rate:
                second = parents[int(rng.integers(len(parents)))]
                smiles, how = crossover(first, second, rng), "crossover"
            else:
                operator = MUTATIONS[int(rng.integers(len(MUTATIONS)))]
                smiles, how = operator(first, rng), operator.__name__
            if smiles is None:
                gate.rejected["edit not chemically valid"] += 1
                continue
            found += gate([smiles], self.name, metadata={"operator": how, "parent": Chem.MolToSmiles(first)})
        self.last_rejections = dict(gate.rejected)
        return Proposal(found)
