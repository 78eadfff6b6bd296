"""Polymer repeat units as SMILES with [Cu] and [Au] marking the two chain ends (HTP-MD style).

Every agent's proposals and every user-supplied SMILES pass through `canonical_smiles`, so one
rule decides what a valid repeat unit is and what its canonical spelling is. A repeat unit is
refused (`InvalidPolymer`, one line naming the SMILES and the reason) unless it is

* plain SMILES text: printable ASCII without spaces (RDKit reads text after a space as the
  molecule's *name* and ignores it, so "[Cu]CC[Au] O" would be a different molecule from what a
  person sees; zero-width and control characters hide the same way). Surrounding whitespace is
  trimmed, since it cannot hide anything;
* one connected molecule (no '.': salts, mixtures, or markers on two fragments are not a chain);
* made of elements a polymer electrolyte's backbone or side chains are made of (ELEMENTS): no
  noble gases, no metals apart from the two markers;
* neutral: a salt has no place in a repeat unit and a charged marker is not a chain end. The one
  exception is the charge-separated spelling of a neutral group - nitro `[N+](=O)[O-]`, N-oxides,
  azides: every charged atom is +1 or -1 and bonded to an atom of the opposite charge (HTP-MD
  spells one of its polymers so). Any other charge is refused, including a zwitterion whose two
  charges sit apart (an ion pair inside the repeat unit, not what a neutral-polymer MD dataset holds)
  and absurd ones such as `[C+15]`;
* closed-shell: no radicals or carbenes (atoms with unpaired electrons);
* exactly one [Cu] and one [Au], each a bare atom (no charge, hydrogens, isotope or atom map)
  with a single bond to a backbone atom, not to each other;
* free of atom-map numbers, which would give one molecule several canonical spellings.

The canonical spelling is RDKit's canonical SMILES, checked to read back as itself, so what is
stored is what was proposed. (RDKit >= 2026 writes atoms bonded to the metal markers in brackets,
e.g. `[Cu][c]1cc[nH][c]1[Au]`: same molecule, same InChI. Anything that prints a representation
with `rich` must escape it - `rich.markup.escape` - or lowercase bracket atoms such as `[c]` and
`[nH]` are taken for style tags and vanish from the screen.)
"""

from __future__ import annotations

import re
from functools import lru_cache

from rdkit import Chem, RDLogger

RDLogger.DisableLog("rdApp.*")

END_MARKERS = ("Cu", "Au")
ELEMENTS = frozenset({"H", "B", "C", "N", "O", "F", "Si", "P", "S", "Cl", "Br", "I", *END_MARKERS})
MAX_LENGTH = 1000  # characters; a repeat unit is tens of atoms
_TEXT = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no space


class InvalidPolymer(ValueError):
    """A SMILES that is not a valid repeat unit; the message says why in one line, `reason` names
    the kind of problem (for counting rejections)."""

    def __init__(self, message: str, reason: str = "invalid"):
        super().__init__(message)
        self.reason = reason


@lru_cache(maxsize=200_000)
def canonical_smiles(smiles: str) -> str:
    """Canonical RDKit SMILES of a repeat unit, or `InvalidPolymer` naming the problem."""
    text = _plain_text(smiles)
    mol = Chem.MolFromSmiles(text)
    if mol is None:
        raise InvalidPolymer(f"{_shown(text)}: RDKit cannot parse or sanitise it", "not a valid molecule")
    for rule in (_one_molecule, _atoms, _end_markers):
        rule(mol, text)
    canonical = Chem.MolToSmiles(mol)
    again = Chem.MolFromSmiles(canonical)
    if again is None or Chem.MolToSmiles(again) != canonical:  # what is stored must be what was proposed
        raise InvalidPolymer(f"{_shown(text)}: its canonical SMILES does not read back as the same molecule",
                             "not a valid molecule")
    return canonical


def _shown(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _plain_text(smiles) -> str:
    if not isinstance(smiles, str) or not smiles.strip(" \t\r\n"):
        raise InvalidPolymer(f"empty SMILES ({_shown(smiles) if isinstance(smiles, str) else type(smiles).__name__})",
                             "empty")
    text = smiles.strip(" \t\r\n")
    if len(text) > MAX_LENGTH:
        raise InvalidPolymer(f"{_shown(text)}: {len(text)} characters (at most {MAX_LENGTH})", "too long")
    if not _TEXT.fullmatch(text):
        bad = next(ch for ch in text if not _TEXT.fullmatch(ch))
        raise InvalidPolymer(f"{_shown(text)}: character {bad!r} at position {text.index(bad)} (SMILES is printable "
                             "ASCII without spaces)", "bad characters")
    return text


def _one_molecule(mol, text: str) -> None:
    fragments = len(Chem.GetMolFrags(mol))
    if fragments > 1:
        raise InvalidPolymer(f"{_shown(text)}: {fragments} disconnected fragments ('.'), a repeat unit is one "
                             "molecule", "disconnected")


def _atoms(mol, text: str) -> None:
    for atom in mol.GetAtoms():
        symbol, where = atom.GetSymbol(), f"{_shown(text)}: atom {atom.GetIdx() + 1} ({atom.GetSymbol()})"
        if symbol not in ELEMENTS:
            raise InvalidPolymer(f"{where}: element not allowed in a repeat unit (allowed: "
                                 f"{' '.join(sorted(ELEMENTS - set(END_MARKERS)))} and the [Cu]/[Au] markers)",
                                 "element")
        if atom.GetFormalCharge() and not _charge_separated(atom):
            raise InvalidPolymer(f"{where} has formal charge {atom.GetFormalCharge():+d}; repeat units must be "
                                 "neutral (no salts, ions or zwitterions; only a +1/-1 pair on bonded atoms, as in "
                                 "a nitro group)", "charge")
        if atom.GetNumRadicalElectrons():
            raise InvalidPolymer(f"{where} has {atom.GetNumRadicalElectrons()} unpaired electron(s) (a radical or "
                                 "carbene)", "radical")
        if atom.GetAtomMapNum():
            raise InvalidPolymer(f"{where} carries atom map number {atom.GetAtomMapNum()}", "atom map")


def _charge_separated(atom) -> bool:
    """A +1/-1 atom bonded to an atom of the opposite charge, within a repeat unit of total charge 0
    (the charge-separated spelling of a neutral nitro or N-oxide group)."""
    charge = atom.GetFormalCharge()
    if abs(charge) != 1 or atom.GetSymbol() in END_MARKERS:
        return False
    if Chem.GetFormalCharge(atom.GetOwningMol()) != 0:
        return False
    return any(n.GetFormalCharge() == -charge for n in atom.GetNeighbors())


def _end_markers(mol, text: str) -> None:
    for symbol in END_MARKERS:
        ends = [atom for atom in mol.GetAtoms() if atom.GetSymbol() == symbol]
        if len(ends) != 1:
            raise InvalidPolymer(f"{text!r} has {len(ends)} [{symbol}] end markers, expected exactly 1",
                                 "end markers")
        end = ends[0]
        bonds = end.GetBonds()
        if len(bonds) != 1 or bonds[0].GetBondType() != Chem.BondType.SINGLE:
            raise InvalidPolymer(f"{text!r}: the [{symbol}] end marker must have exactly one single bond",
                                 "end markers")
        if end.GetTotalNumHs() or end.GetIsotope():
            raise InvalidPolymer(f"{_shown(text)}: the [{symbol}] end marker must be a bare [{symbol}] (no "
                                 "hydrogens or isotope)", "end markers")
        if end.GetNeighbors()[0].GetSymbol() in END_MARKERS:
            raise InvalidPolymer(f"{_shown(text)}: the end markers are bonded to each other, with no repeat unit "
                                 "between them", "end markers")
