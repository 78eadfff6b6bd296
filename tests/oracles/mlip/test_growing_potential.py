"""One potential grown over a campaign's compositions: real teacher (SevenNet-0), real tiny NequIP students.

As in test_on_the_fly, the trust window is wide open (every frame "uncertain") and the students are far
too small to be a potential: what is checked is the bookkeeping that makes later candidates cheaper —
a second composition starts from the first one's committee without seed frames, its calls are counted
apart from the first one's, a rerun of a learned composition costs no call, and a composition with a
new element is seeded first.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from ase.calculators.lj import LennardJones

from amala.core.composition import parse_composition
from amala.oracles.md import ase_engine as ase_md
from amala.oracles.md.cells import build
from amala.oracles.mlip.growing_potential import GrowingPotential
from amala.oracles.mlip.nequip_student import StudentSpec
from amala.oracles.mlip.on_the_fly import OnTheFly, OnTheFlySpec
from amala.oracles.mlip.teachers import TeacherSpec, make_teacher

pytestmark = [pytest.mark.md, pytest.mark.mlip]

TINY = StudentSpec(num_features=8, num_layers=2, radial_mlp_width=8, epochs=2, patience=None, r_max=4.0)
SETTINGS = OnTheFlySpec(trust_lo_eV_A=1e-6, trust_hi_eV_A=1e3, committee_size=2, seed_frames=2, segment_steps=20,
                        observe_every=5, min_spacing=5, per_round=2, budget=2, window=4, converged_fraction=0.0,
                        explore_temperatures_K=[600.0], max_rounds=3)


@pytest.fixture(scope="module")
def teacher():
    return make_teacher(TeacherSpec())


def cell(composition: str, seed: int = 0):
    return build(parse_composition(composition), 1.9, 32, seed=seed).atoms


@pytest.fixture(scope="module")
def grown(tmp_path_factory, teacher):
    """A potential that learned Li3PS4 (two seed frames): the first candidate of a campaign."""
    root = tmp_path_factory.mktemp("grown")
    potential = GrowingPotential(root / "potential", teacher, TINY, SETTINGS)
    return root, potential, potential.learn("Li3PS4", cell("Li2S:0.75;P2S5:0.25"), root / "Li3PS4")


def test_later_compositions_start_from_the_grown_potential_and_reruns_cost_nothing(grown):
    root, potential, first = grown
    assert first.record["order"] == 0 and first.record["labels_before"] == 0
    assert first.record["teacher_calls"] == 2 and first.record["labels_after"] == 2  # its two seed frames
    assert first.record["system"] == "Li-P-S" and first.record["version"].startswith("committee_00002_labels_")

    second = potential.learn("Li4P2S7", cell("Li2S:0.667;P2S5:0.333"), root / "Li4P2S7")
    record = second.record
    assert record["order"] == 1 and record["labels_before"] == 2  # started from the first one's committee
    assert record["teacher_calls"] == 2 and record["labels_after"] == 4  # MD frames only, no seed frames
    sources = [f.info["source"] for f in second.result.store.frames()]
    assert sum(s.startswith("Li4P2S7/md:") for s in sources) == 2 and not any("Li4P2S7/seed" in s for s in sources)
    assert record["uncertain_fraction"] == 1.0  # the wide-open window: every observed frame
    assert record["version"].startswith("committee_00004_labels_")

    again = potential.learn("Li4P2S7", cell("Li2S:0.667;P2S5:0.333"), root / "Li4P2S7")
    assert again.record["labels_after"] == 4 and again.record["order"] == 1  # no call repeated, same place
    assert again.record["version"] == record["version"] and again.record["teacher_calls"] == 2
    assert json.loads((root / "potential" / "candidates.json").read_text())[:2] == ["Li3PS4", "Li4P2S7"]


def test_a_composition_with_a_new_element_is_seeded_before_the_committee_meets_it(grown):
    root, potential, _ = grown
    doped = potential.learn("LiI-doped", cell("Li2S:0.7;P2S5:0.2;LiI:0.1"), root / "LiI-doped")
    sources = [f.info["source"] for f in doped.result.store.frames()]
    assert sum(s.startswith("LiI-doped/seed:") for s in sources) == 2
    assert doped.record["system"] == "I-Li-P-S" and doped.record["teacher_calls"] == 2


def test_exploration_starts_from_the_random_cell_relaxed_by_the_committee(grown):
    """A new composition without seed frames must not start its MD from a raw random packing: its overlaps
    turned into heat within ten steps, every trajectory ran away and was restarted from the same cell.
    The tiny students barely feel overlaps, so ASE's Lennard-Jones (σ 2.2 Å: the packing's 1.7 Å contacts
    are strongly repulsive) stands in for the committee's calculator here."""
    root, potential, _ = grown
    start = cell("Li2S:0.75;P2S5:0.25", seed=5)
    stand_in = SimpleNamespace(calculator=lambda: LennardJones(sigma=2.2, epsilon=0.01, rc=5.0, smooth=True))
    settled = OnTheFly(root / "settle", potential.teacher, TINY, SETTINGS)._settled(start, stand_in)

    def largest_force(atoms):
        atoms = atoms.copy()
        atoms.calc = stand_in.calculator()
        return float(np.linalg.norm(atoms.get_forces(), axis=1).max())

    assert largest_force(start) > 2 * ase_md.RELAX_FMAX_EV_A >= 2 * largest_force(settled)
    assert not settled.get_momenta().any() and settled.get_chemical_symbols() == start.get_chemical_symbols()
