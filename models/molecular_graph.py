"""Polymer repeat units as molecular graphs for message passing, cached per canonical SMILES.

A graph neural network needs the molecule itself, not a hashed fingerprint: atoms with their
element, degree, charge, hydrogens, aromaticity, hybridisation and ring membership, and bonds with
their order, conjugation and ring membership (the chemprop feature set, trimmed to what polymer
electrolytes contain). A repeat unit is a period of a chain, so by default it is closed into a
ring at its [Cu]/[Au] end markers (as HTP-MD's own network does): each end then passes messages to
its real neighbour in the chain. In the open form the markers stay as their own atom types. Each
bond becomes two directed edges, as the directed message passing of `dmpnn` needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

ELEMENTS = ["C", "N", "O", "F", "Si", "P", "S", "Cl", "Br", "I", "B", "Cu", "Au"]  # others share one slot
HYBRIDISATION = ["SP", "SP2", "SP3"]
BONDS = ["SINGLE", "DOUBLE", "TRIPLE", "AROMATIC"]
# RDKit is imported where molecules are parsed, not here: built graphs are plain tensors, so a
# GraphBank can be trained on (e.g. on a GPU machine) where RDKit is not installed
# (tests/test_import_order.py imports and trains the GNN with RDKit blocked).


def _one_hot(value, choices) -> list[float]:
    return [float(value == c) for c in choices] + [float(value not in choices)]


def atom_features(atom) -> list[float]:
    return (_one_hot(atom.GetSymbol(), ELEMENTS) + _one_hot(atom.GetDegree(), [0, 1, 2, 3, 4])
            + _one_hot(atom.GetFormalCharge(), [-1, 0, 1]) + _one_hot(atom.GetTotalNumHs(), [0, 1, 2, 3])
            + _one_hot(str(atom.GetHybridization()), HYBRIDISATION)
            + [float(atom.GetIsAromatic()), float(atom.IsInRing())])


def bond_features(bond) -> list[float]:
    return _one_hot(str(bond.GetBondType()), BONDS) + [float(bond.GetIsConjugated()), float(bond.IsInRing())]


ATOM_DIM = (len(ELEMENTS) + 1) + 6 + 4 + 5 + (len(HYBRIDISATION) + 1) + 2
BOND_DIM = (len(BONDS) + 1) + 2


@dataclass(frozen=True)
class MolGraph:
    atoms: torch.Tensor  # (n_atoms, ATOM_DIM)
    bonds: torch.Tensor  # (n_edges, BOND_DIM), one row per directed edge
    source: torch.Tensor  # (n_edges,) atom each directed edge leaves
    target: torch.Tensor  # (n_edges,) atom it enters; edges 2k and 2k+1 are each other's reverse
    descriptors: torch.Tensor | None = None  # (n_descriptors,) raw whole-molecule descriptors, if asked for


def close_ring(mol):
    """The repeat unit as one period of its chain: the atoms that carried [Cu] and [Au] bonded to
    each other and the markers removed, so that message passing sees each end's real neighbour
    (as HTP-MD's own PolymerNet does). Left unchanged when both markers sit on one atom or the two
    ends are already bonded (a ring of the markers' neighbours cannot be closed then)."""
    from rdkit import Chem

    ends = {a.GetSymbol(): a for a in mol.GetAtoms() if a.GetSymbol() in ("Cu", "Au")}
    if set(ends) != {"Cu", "Au"} or ends["Cu"].GetDegree() != 1 or ends["Au"].GetDegree() != 1:
        return mol
    a, b = (ends[m].GetNeighbors()[0].GetIdx() for m in ("Cu", "Au"))
    if a == b or mol.GetBondBetweenAtoms(a, b) is not None:
        return mol
    editable = Chem.RWMol(mol)
    editable.AddBond(a, b, Chem.BondType.SINGLE)
    for idx in sorted((ends["Cu"].GetIdx(), ends["Au"].GetIdx()), reverse=True):
        editable.RemoveAtom(idx)
    ring = editable.GetMol()
    try:
        Chem.SanitizeMol(ring)
    except Exception:  # noqa: BLE001 - e.g. aromaticity that no longer holds: keep the open form
        return mol
    return ring


def mol_graph(smiles: str, descriptors: bool = False, periodic: bool = False) -> MolGraph:
    from rdkit import Chem

    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"molecular graph: RDKit cannot parse {smiles!r}")
    extra = None
    if descriptors:  # of the repeat unit as written, markers included (see `descriptors`), ring or not
        from amala.models.descriptors import molecule_descriptors

        extra = molecule_descriptors(mol)
    if periodic:
        mol = close_ring(mol)
    atoms = torch.tensor([atom_features(a) for a in mol.GetAtoms()], dtype=torch.float32)
    source, target, bonds = [], [], []
    for bond in mol.GetBonds():
        u, v, f = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx(), bond_features(bond)
        source += [u, v]
        target += [v, u]
        bonds += [f, f]
    return MolGraph(atoms, torch.tensor(bonds, dtype=torch.float32).reshape(-1, BOND_DIM),
                    torch.tensor(source, dtype=torch.long), torch.tensor(target, dtype=torch.long), extra)


@dataclass(frozen=True)
class GraphBatch:
    """Several graphs as one disconnected graph; `molecule` maps each atom to its graph."""
    atoms: torch.Tensor
    bonds: torch.Tensor
    source: torch.Tensor
    target: torch.Tensor
    reverse: torch.Tensor  # index of each directed edge's reverse
    molecule: torch.Tensor
    n_molecules: int
    descriptors: torch.Tensor | None = None  # (n_molecules, n_descriptors), raw

    def to(self, device) -> "GraphBatch":
        return GraphBatch(*(t.to(device) for t in (self.atoms, self.bonds, self.source, self.target, self.reverse,
                                                   self.molecule)), self.n_molecules,
                          None if self.descriptors is None else self.descriptors.to(device))


def collate(graphs: Sequence[MolGraph]) -> GraphBatch:
    atom_offset, edge_offset = 0, 0
    sources, targets, reverses, molecules = [], [], [], []
    for i, g in enumerate(graphs):
        n_edges = len(g.source)
        sources.append(g.source + atom_offset)
        targets.append(g.target + atom_offset)
        reverses.append(torch.arange(n_edges).reshape(-1, 2).flip(1).reshape(-1) + edge_offset)
        molecules.append(torch.full((len(g.atoms),), i, dtype=torch.long))
        atom_offset += len(g.atoms)
        edge_offset += n_edges
    descriptors = None
    if graphs and all(g.descriptors is not None for g in graphs):
        descriptors = torch.stack([g.descriptors for g in graphs])
    return GraphBatch(torch.cat([g.atoms for g in graphs]), torch.cat([g.bonds for g in graphs]),
                      torch.cat(sources), torch.cat(targets), torch.cat(reverses), torch.cat(molecules), len(graphs),
                      descriptors)


class GraphBank:
    """Every graph a campaign has seen, built once; models address them by row number, which is
    also what they hand to BoTorch as the candidate's input (one column). Repeat units are closed
    into one period of their chain (`close_ring`) unless `periodic` is off: on HTP-MD this lowers
    the ensemble's cross-validated MAE (docs/benchmarks/gnn-ensemble-cv.md). With `descriptors`, each graph also
    carries its molecule's RDKit descriptors (see `descriptors`)."""

    def __init__(self, descriptors: bool = False, periodic: bool = True):
        self.descriptors, self.periodic = descriptors, periodic
        self.graphs: list[MolGraph] = []
        self.rows: dict[str, int] = {}

    def encode(self, smiles: Sequence[str]) -> torch.Tensor:
        for s in smiles:
            if s not in self.rows:
                self.rows[s] = len(self.graphs)
                self.graphs.append(mol_graph(s, self.descriptors, self.periodic))
        return torch.tensor([[self.rows[s]] for s in smiles], dtype=torch.float64).reshape(-1, 1)

    def describe(self) -> dict:
        return {"kind": "molecular_graph", "atom_features": ATOM_DIM, "bond_features": BOND_DIM,
                "periodic": self.periodic, "rdkit_descriptors": self.descriptors, "graphs": len(self.graphs)}

    @property
    def n_descriptors(self) -> int:
        return 0 if not self.graphs or self.graphs[0].descriptors is None else len(self.graphs[0].descriptors)

    def batch(self, rows: Sequence[int], device="cpu") -> GraphBatch:
        batch = collate([self.graphs[int(r)] for r in rows])
        return batch if str(device) == "cpu" else batch.to(device)
