"""Glass metrics on crystals whose answers are known: alpha-quartz and anti-fluorite Li2O."""

import numpy as np
import pytest
from ase.spacegroup import crystal

from amala.oracles.md import glass_metrics as gm


@pytest.fixture(scope="module")
def quartz():
    # alpha-quartz (P3_221), Si at 3a and O at 6c; 2.65 g/cm3, corner-sharing SiO4 tetrahedra
    return crystal(["Si", "O"], basis=[(0.4697, 0, 2 / 3), (0.4135, 0.2669, 0.1191 - 1 / 3)], spacegroup=154,
                   cellpar=[4.916, 4.916, 5.405, 90, 90, 120]).repeat(3)


def test_quartz_coordination_angles_rings_and_density(quartz):
    m = gm.measure(quartz)
    assert m.density_g_cm3 == pytest.approx(2.65, abs=0.01)
    assert m.coordination == {"Si-O": 4.0} and m.coordination_histogram["Si-O"] == {"4": 1.0}
    peak = lambda name: m.angle_deg[int(np.argmax(m.angles[name]))]  # noqa: E731
    assert peak("O-Si-O") == pytest.approx(109.5, abs=3)  # tetrahedra
    assert peak("Si-O-Si") == pytest.approx(144, abs=3)  # Si-O-Si of quartz: 143.7°
    # Franzblau shortest-path rings of quartz: six-rings and eight-rings (per Si: 1 and 5)
    assert m.rings == {"6": pytest.approx(1.0), "8": pytest.approx(5.0)}
    first_peak = m.r_A[int(np.argmax(m.rdf["O-Si"]))]
    assert first_peak == pytest.approx(1.61, abs=0.05)


def test_li2o_antifluorite_li_is_fourfold():
    li2o = crystal(["O", "Li"], basis=[(0, 0, 0), (0.25, 0.25, 0.25)], spacegroup=225,
                   cellpar=[4.61] * 3 + [90] * 3).repeat(2)
    m = gm.measure(li2o)
    assert m.coordination == {"Li-O": 4.0}
    assert m.density_g_cm3 == pytest.approx(2.03, abs=0.02)
    assert m.rings == {}  # no network former: no network rings


def test_distances(quartz):
    m = gm.measure(quartz)
    same = gm.distance(m, m)
    assert all(v == 0 for v in same.values()) and "rings" in same and "angles O-Si-O" in same
    rattled = quartz.copy()
    rattled.rattle(0.15, seed=1)
    d = gm.distance(m, gm.measure(rattled))
    assert d["rdf O-Si"] > 0.1 and 0 < d["angles O-Si-O"] <= 1
    assert gm.js_divergence([1, 0], [0, 1]) == pytest.approx(1.0)
    assert gm.rdf_r_factor([1.0, 2.0], [1.0, 2.0]) == 0
    spread = gm.spread([m, gm.measure(rattled)])
    assert spread["rdf O-Si"] == pytest.approx(d["rdf O-Si"])
    with pytest.raises(ValueError, match="at least 2 replicas"):
        gm.spread([m])
    assert gm.mean_distance([m, m], m)["rdf O-Si"] == 0
    assert gm.GlassMetrics.from_dict(m.to_dict()) == m
