"""Polymer repeat units as molecular graphs for message passing, cached per canonical SMILES.

A graph neural network needs the molecule itself, not a hashed fingerprint: atoms with their
element, degree, charge, hydrogens, aromaticity, hybridisation and ring membership, and bonds with
their order, conjugation and ring membership (the chemprop feature set, trimmed to what polymer
electrolytes contain). The [Cu]/[Au] end markers stay in the graph as their own atom types: they
tell the network where the chain continues. Each bond becomes two directed edges, as the
directed message passing of `dmpnn` needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

ELEMENTS = ["C", "N", "O", "F", "Si", "P", "S", "Cl", "Br", "I", "B", "Cu", "Au"]  # others share one slot
HYBRIDISATION = ["SP", "SP2", "SP3"]
BONDS = ["SINGLE", "DOUBLE", "TRIPLE", "AROMATIC"]
# RDKit is imported where molecules are parsed, not here: built graphs are plain tensors, so a
# GraphBank can be trained on (e.g. on a GPU machine) where RDKit is not installed.


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


def mol_graph(smiles: str) -> MolGraph:
    from rdkit import Chem

    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"molecular graph: RDKit cannot parse {smiles!r}")
    atoms = torch.tensor([atom_features(a) for a in mol.GetAtoms()], dtype=torch.float32)
    source, target, bonds = [], [], []
    for bond in mol.GetBonds():
        u, v, f = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx(), bond_features(bond)
        source += [u, v]
        target += [v, u]
        bonds += [f, f]
    return MolGraph(atoms, torch.tensor(bonds, dtype=torch.float32).reshape(-1, BOND_DIM),
                    torch.tensor(source, dtype=torch.long), torch.tensor(target, dtype=torch.long))


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

    def to(self, device) -> "GraphBatch":
        return GraphBatch(*(t.to(device) for t in (self.atoms, self.bonds, self.source, self.target, self.reverse,
                                                   self.molecule)), self.n_molecules)


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
    return GraphBatch(torch.cat([g.atoms for g in graphs]), torch.cat([g.bonds for g in graphs]),
                      torch.cat(sources), torch.cat(targets), torch.cat(reverses), torch.cat(molecules), len(graphs))


class GraphBank:
    """Every graph a campaign has seen, built once; models address them by row number, which is
    also what they hand to BoTorch as the candidate's input (one column)."""

    def __init__(self):
        self.graphs: list[MolGraph] = []
        self.rows: dict[str, int] = {}

    def encode(self, smiles: Sequence[str]) -> torch.Tensor:
        for s in smiles:
            if s not in self.rows:
                self.rows[s] = len(self.graphs)
                self.graphs.append(mol_graph(s))
        return torch.tensor([[self.rows[s]] for s in smiles], dtype=torch.float64).reshape(-1, 1)

    def describe(self) -> dict:
        return {"kind": "molecular_graph", "atom_features": ATOM_DIM, "bond_features": BOND_DIM,
                "graphs": len(self.graphs)}

    def batch(self, rows: Sequence[int], device="cpu") -> GraphBatch:
        batch = collate([self.graphs[int(r)] for r in rows])
        return batch if str(device) == "cpu" else batch.to(device)
