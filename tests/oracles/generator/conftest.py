"""A tiny generator trained for seconds on synthetic cells: the mechanics, not the quality (the benchmark
measures that on real glasses)."""

import pytest

from amala.core.composition import parse_composition
from amala.oracles.generator.spec import GeneratorSpec
from amala.oracles.generator.training import train
from amala.oracles.md.cells import build


def _synthetic(compositions, seeds, n_atoms=40, quench=50.0, density=2.3):
    """Random cells standing in for melt-quenched glasses (the training code reads only their atoms,
    cell, composition and quench rate)."""
    out = []
    for composition in compositions:
        for seed in seeds:
            atoms = build(parse_composition(composition), density, n_atoms, seed=seed).atoms
            atoms.info["quench_K_per_ps"] = quench
            out.append(atoms)
    return out


@pytest.fixture(scope="session")
def synthetic_glasses():
    return _synthetic


TINY = {"name": "tiny", "n_atoms": 40, "denoiser": {"features": 8, "layers": 1, "cutoff_A": 3.5, "radial_basis": 4},
        "training": {"steps": 20, "batch": 2, "validate_every": 5}}


@pytest.fixture(scope="session")
def tiny_spec():
    return dict(TINY)


@pytest.fixture(scope="session")
def tiny_generator(tmp_path_factory):
    folder = tmp_path_factory.mktemp("generator")
    glasses = _synthetic(["Li2O:0.33;SiO2:0.67", "Li2O:0.5;SiO2:0.5"], [0, 1])
    heldout = _synthetic(["Li2O:0.4;SiO2:0.6"], [7])
    generator = train(GeneratorSpec.model_validate(TINY), glasses, heldout, folder)
    return generator, folder / "generator"
