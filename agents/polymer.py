"""Polymer repeat units as SMILES with [Cu] and [Au] marking the two chain ends (HTP-MD style).

Every agent's proposals and every user-supplied SMILES pass through `canonical_smiles`, so one
rule decides what a valid repeat unit is and what its canonical spelling is.
"""

from __future__ import annotations

from functools import lru_cache

from rdkit import Chem, RDLogger

RDLogger.DisableLog("rdApp.*")

END_MARKERS = ("Cu", "Au")


class InvalidPolymer(ValueError):
    """A SMILES that is not a valid repeat unit; the message says why in one line, `reason` names
    the kind of problem (for counting rejections)."""

    def __init__(self, message: str, reason: str = "invalid"):
        super().__init__(message)
        self.reason = reason


@lru_cache(maxsize=200_000)
def canonical_smiles(smiles: str) -> str:
    """Canonical RDKit SMILES of a repeat unit, or `InvalidPolymer` naming the problem."""
    if not isinstance(smiles, str) or not smiles.strip():
        raise InvalidPolymer("empty SMILES", "empty")
    mol = Chem.MolFromSmiles(smiles.strip())
    if mol is None:
        raise InvalidPolymer(f"RDKit cannot parse or sanitise {smiles!r}", "not a valid molecule")
    for symbol in END_MARKERS:
        ends = [atom for atom in mol.GetAtoms() if atom.GetSymbol() == symbol]
        if len(ends) != 1:
            raise InvalidPolymer(f"{smiles!r} has {len(ends)} [{symbol}] end markers, expected exactly 1",
                                 "end markers")
        bonds = ends[0].GetBonds()
        if len(bonds) != 1 or bonds[0].GetBondType() != Chem.BondType.SINGLE:
            raise InvalidPolymer(f"{smiles!r}: the [{symbol}] end marker must have exactly one single bond",
                                 "end markers")
    return Chem.MolToSmiles(mol)
