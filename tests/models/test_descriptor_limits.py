"""RDKit descriptors of long repeat units: Ipc and AvgIpc (RDKit's O(n^4) characteristic
polynomial, numerically meaningless past ~100 atoms) are left undefined above the limit, so a
500-carbon chain is featurised in about a second instead of minutes; every other descriptor, and
every descriptor of an ordinary molecule, is RDKit's own value, bit for bit."""

import math

import numpy as np
import pytest
import torch
from rdkit import Chem
from rdkit.Chem import Descriptors, Graphs

from amala.models.descriptors import SPECTRAL, SPECTRAL_MAX_ATOMS, descriptor_names, molecule_descriptors
from amala.models.molecular_graph import mol_graph

ORDINARY = ["[Cu]CCO[Au]", "[Cu]CCOC[Au]", "[Cu]c1ccc(cc1)O[Au]", "[Cu]C(F)(F)C(F)(F)[Au]", "[Cu]N1CCN(CC1)C[Au]",
            "[Cu]CC(C1=CC=C(S(=O)(=O)[N-]S(=O)(=O)C(F)(F)F)C=C1)C(C(OCCOCCOCCOC)=O)C[Au]",
            "O=S(=O)([N-]S(=O)(=O)C(F)(F)F)C(F)(F)F.[Li+]", "[Cu]" + "C" * (SPECTRAL_MAX_ATOMS - 2) + "[Au]"]


def _rdkit(mol) -> torch.Tensor:
    """What `molecule_descriptors` returned before the limit: RDKit's whole list."""
    values = Descriptors.CalcMolDescriptors(mol, missingVal=float("nan"))
    return torch.tensor([float(values[name]) for name in descriptor_names()], dtype=torch.float32)


@pytest.mark.parametrize("smiles", ORDINARY)
def test_descriptors_of_ordinary_molecules_are_rdkits_bit_for_bit(smiles):
    mol = Chem.MolFromSmiles(smiles)
    assert mol.GetNumAtoms() <= SPECTRAL_MAX_ATOMS
    assert molecule_descriptors(mol).numpy().tobytes() == _rdkit(mol).numpy().tobytes()
    graph = mol_graph(smiles, descriptors=True, periodic=True)
    assert graph.descriptors.numpy().tobytes() == _rdkit(Chem.MolFromSmiles(smiles)).numpy().tobytes()


def test_a_long_repeat_unit_leaves_only_the_spectral_descriptors_undefined():
    mol = Chem.MolFromSmiles("[Cu]" + "C" * 150 + "[Au]")
    got, names = molecule_descriptors(mol), descriptor_names()
    for name, fn in Descriptors._descList:
        value = float(got[names.index(name)])
        if name in SPECTRAL:
            assert math.isnan(value), name
        else:
            expected = np.float32(fn(mol))
            assert value == expected or (math.isnan(value) and math.isnan(expected)), name


def test_a_492_carbon_repeat_unit_never_builds_the_characteristic_polynomial(monkeypatch):
    built = []
    monkeypatch.setattr(Graphs, "CharacteristicPolynomial",
                        lambda mol, mat=None: (built.append(mol.GetNumAtoms()), np.ones(3))[1])
    graph = mol_graph("[Cu]" + "C" * 492 + "[Au]", descriptors=True, periodic=True)
    assert built == [] and len(graph.atoms) == 492
    assert torch.isnan(graph.descriptors[[descriptor_names().index(n) for n in SPECTRAL]]).all()
    mol_graph("[Cu]CCOC[Au]", descriptors=True)  # an ordinary one still gets both
    assert built == [6, 6]
