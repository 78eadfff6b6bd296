import pytest

from amala.agents.candidate import Candidate
from amala.agents.polymer import InvalidPolymer, canonical_smiles


def test_canonical_form_is_shared_by_equivalent_spellings():
    a = canonical_smiles("[Cu]OCCOC(=O)[Au]")
    b = canonical_smiles("O=C([Au])OCCO[Cu]")
    assert a == b
    assert Candidate(a).key == Candidate(b).key


@pytest.mark.parametrize("smiles, fragment", [
    ("OCCOC(=O)[Au]", "0 [Cu]"),
    ("[Cu]OCC[Cu]OC(=O)[Au]", "2 [Cu]"),
    ("[Cu]=CCOC(=O)[Au]", "single bond"),
    ("[Cu]C(C[Au]", "cannot parse"),
    ("", "empty"),
])
def test_invalid_repeat_units_are_refused_with_the_reason(smiles, fragment):
    with pytest.raises(InvalidPolymer, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        canonical_smiles(smiles)
