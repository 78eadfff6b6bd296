"""Teachers label real frames: SevenNet-0 (the default) and tblite GFN1-xTB on tiny Li-P-S cells.

SevenNet-0 is loaded once for the module (seconds); each label of a 16-atom cell then takes ~0.1 s.
"""

from __future__ import annotations

import importlib.util
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from pydantic import ValidationError

from amala.oracles.mlip.teachers import (
    SEVENNET_MODELS,
    TEACHERS,
    Teacher,
    TeacherFailed,
    TeacherSpec,
    make_teacher,
)

LI3PS4_G_PER_MOL = 3 * 6.941 + 30.974 + 4 * 32.06


def lips_cell(formula_units: int = 2, seed: int = 0, density_g_cm3: float = 1.9, min_distance: float = 2.0) -> Atoms:
    """A random Li3PS4 cell: atoms at least `min_distance` Å apart (periodic), cubic box at the given density."""
    symbols = ["Li"] * 3 * formula_units + ["P"] * formula_units + ["S"] * 4 * formula_units
    grams = formula_units * LI3PS4_G_PER_MOL / 6.02214076e23
    side = (grams / density_g_cm3 * 1e24) ** (1 / 3)  # Å
    rng, positions = np.random.default_rng(seed), []
    while len(positions) < len(symbols):
        p = rng.random(3) * side
        if all(np.linalg.norm((p - q) - side * np.round((p - q) / side)) >= min_distance for q in positions):
            positions.append(p)
    return Atoms(symbols, positions=positions, cell=[side] * 3, pbc=True)


def coincident(atoms: Atoms) -> Atoms:
    """Two atoms on top of each other: no teacher can label it."""
    bad = atoms.copy()
    bad.positions[1] = bad.positions[0]
    return bad


@pytest.fixture(scope="module")
def sevennet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sevenn warns that no tensor-product accelerator is installed
        teacher = make_teacher(TeacherSpec())
        teacher.calculator()
    return teacher


def test_spec_defaults_and_refusals():
    spec = TeacherSpec()
    assert (spec.kind, spec.model) == ("sevennet", "7net-0")
    assert TeacherSpec(kind="tblite").method == "GFN1-xTB"
    assert TeacherSpec(kind="tblite", model="ignored-by-tblite").kind == "tblite"  # other kinds' fields are ignored
    with pytest.raises(ValidationError, match="download at run time"):
        TeacherSpec(model="7net-omni")
    with pytest.raises(ValidationError, match="tblite knows"):
        TeacherSpec(kind="tblite", method="GFN-FF")
    with pytest.raises(ValidationError):
        TeacherSpec(kind="gpaw", kpts=[1, 1])
    with pytest.raises(ValidationError):
        TeacherSpec(temperature=300)


def test_each_kind_is_one_registered_class():
    assert TEACHERS.kinds() == sorted(TeacherSpec.model_fields["kind"].annotation.__args__)
    for kind, cls in TEACHERS.classes().items():
        assert cls.Spec().kind == kind and issubclass(cls, Teacher)
    assert type(make_teacher(TeacherSpec(kind="tblite"))) is TEACHERS["tblite"]
    prov = make_teacher(TeacherSpec(model="7net-mf-0")).provenance()  # nothing is loaded for it
    assert prov == {"teacher": "sevennet:7net-mf-0", "model": "7net-mf-0", "version": version("sevenn"),
                    "level_of_theory": SEVENNET_MODELS["7net-mf-0"], "settings": {"device": "cpu", "modal": "PBE"}}
    assert make_teacher(TeacherSpec(kind="tblite", method="GFN2-xTB")).provenance()["settings"] == {
        "method": "GFN2-xTB"}


@pytest.mark.mlip
def test_sevennet_labels_a_lips_cell(sevennet):
    atoms = lips_cell()
    labelled = sevennet.label(atoms)
    assert labelled is not atoms and atoms.calc is None
    assert np.allclose(labelled.positions, atoms.positions)
    energy, forces, stress = labelled.get_potential_energy(), labelled.get_forces(), labelled.get_stress()
    assert np.isfinite(energy) and -8 < energy / len(atoms) < -1  # eV/atom: a bound Li-P-S solid
    assert forces.shape == (16, 3) and np.isfinite(forces).all()
    assert stress.shape == (6,) and np.isfinite(stress).all()
    prov = sevennet.provenance()
    assert prov["teacher"] == sevennet.name == "sevennet:7net-0"
    assert prov["version"] == version("sevenn")
    assert "SevenNet-0" in prov["level_of_theory"] and prov["settings"]["device"] == "cpu"


@pytest.mark.mlip
def test_sevennet_failure_is_teacher_failed(sevennet):
    with pytest.raises(TeacherFailed, match="non-finite") as info:
        sevennet.label(coincident(lips_cell()))
    assert "\n" not in str(info.value)
    nan = lips_cell()
    nan.positions[0, 0] = np.nan
    with pytest.raises(TeacherFailed, match="non-finite atomic positions"):
        sevennet.label(nan)
    assert np.isfinite(sevennet.label(lips_cell(seed=1)).get_forces()).all()  # the teacher goes on after a failure


@pytest.mark.mlip
def test_tblite_labels_and_fails_in_one_line():
    """GFN1-xTB on one formula unit (8 atoms, ~1 s): energy, forces, periodic stress; a clash is refused."""
    teacher = make_teacher(TeacherSpec(kind="tblite"))
    labelled = teacher.label(lips_cell(formula_units=1))
    assert np.isfinite(labelled.get_potential_energy())
    assert np.isfinite(labelled.get_forces()).all() and labelled.get_stress().shape == (6,)
    assert teacher.provenance()["level_of_theory"] == "GFN1-xTB" and teacher.name == "tblite:GFN1-xTB"
    with pytest.raises(TeacherFailed, match="tblite:GFN1-xTB: InputError") as info:
        teacher.label(coincident(lips_cell(formula_units=1)))
    assert "\n" not in str(info.value)


@pytest.mark.skipif(importlib.util.find_spec("gpaw") is not None, reason="gpaw is installed")
def test_gpaw_missing_says_how_to_install():
    with pytest.raises(ImportError, match="make dft"):
        make_teacher(TeacherSpec(kind="gpaw"))


@pytest.mark.mlip
@pytest.mark.skipif(importlib.util.find_spec("gpaw") is None, reason="gpaw is not installed (make dft)")
def test_gpaw_labels_a_tiny_cell(tmp_path):
    """PBE plane waves on a 2-atom LiS cell at a low cutoff (~2 s): what `make dft` installs really runs."""
    prov = make_teacher(TeacherSpec(kind="gpaw", ecut_eV=300, kpts=[2, 2, 2])).provenance()
    assert prov["level_of_theory"] == "PBE plane waves, ecut 300 eV, k-points 2x2x2"
    assert prov["settings"] == {"xc": "PBE", "ecut_eV": 300.0, "kpts": [2, 2, 2]} and prov["version"] == version("gpaw")
    teacher = make_teacher(TeacherSpec(kind="gpaw", ecut_eV=250), log_path=tmp_path / "gpaw.txt")
    labelled = teacher.label(Atoms("LiS", positions=[[0, 0, 0], [1.2, 1.2, 1.2]], cell=[3.2] * 3, pbc=True))
    assert np.isfinite(labelled.get_potential_energy()) and np.isfinite(labelled.get_forces()).all()
    assert labelled.get_stress().shape == (6,) and (tmp_path / "gpaw.txt").is_file()


def test_the_checks_before_a_run_ask_the_teacher_kind_whether_it_can_run_here():
    import importlib.util

    import yaml

    from amala.loop.config import parse_config
    from amala.loop.preflight import check
    from amala.oracles.mlip.teachers import TEACHERS, TBLiteTeacher

    assert TBLiteTeacher.install_problem() is None
    config = yaml.safe_load((Path(__file__).resolve().parents[3] / "configs" / "sulfide_demo.yaml").read_text())
    config["oracle"]["teacher"] = {"kind": "gpaw"}
    problems = [p for p in check(parse_config(config)) if p.startswith("oracle.teacher.kind")]
    if importlib.util.find_spec("gpaw") is None:
        hint = TEACHERS["gpaw"].install_problem()
        assert hint and problems == [f"oracle.teacher.kind: {hint}"]
    else:
        assert problems == []
