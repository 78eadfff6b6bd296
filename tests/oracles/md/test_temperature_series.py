"""A per-temperature value is a value with a temperature condition; old names-only values still read."""

import pytest

from amala.core.evaluation import Evaluation, Measurement
from amala.loop.report.md_figures import arrhenius_figure
from amala.oracles.md import temperature_series as series


def _stored(with_condition: bool) -> dict:
    values = {"conductivity_300K": Measurement(1e-6, "S/cm", 1e-7), "ea": Measurement(0.5, "eV", 0.01),
              "log10_prefactor": Measurement(2.0, "log10(S/cm)", 0.1)}
    for T, sigma in ((1300.0, 1e-2), (900.0, 1e-3), (1100.0, 5e-3)):
        condition = {"temperature_K": T} if with_condition else {}
        values[series.key("conductivity", T)] = Measurement(sigma, "S/cm", 0.1 * sigma, **condition)
        values[series.key("d_li", T)] = Measurement(1e-5, "cm^2/s", 1e-6, **condition)
    return Evaluation("k", "md", "quick", "ok", values).values_json()


@pytest.mark.parametrize("with_condition", [True, False], ids=["condition", "old-names-only"])
def test_series_points_are_read_from_the_condition_or_the_old_name(with_condition):
    stored = _stored(with_condition)
    assert [(T, v["value"]) for T, v in series.points(stored, "conductivity")] == [
        (900.0, 1e-3), (1100.0, 5e-3), (1300.0, 1e-2)]
    assert [T for T, _ in series.points(stored, "d_li")] == [900.0, 1100.0, 1300.0]
    summary = {name for name, v in stored.items() if not series.is_per_temperature(name, v)}
    assert summary == {"conductivity_300K", "ea", "log10_prefactor"}


def test_the_condition_is_stored_only_where_there_is_one():
    stored = _stored(True)
    assert stored["conductivity_900K"]["temperature_K"] == 900.0
    assert stored["ea"] == {"value": 0.5, "unit": "eV", "std": 0.01}  # summary values: stored as before


def test_the_condition_not_the_name_decides(tmp_path):
    # a value named like a point but measured at another temperature is not that point
    stored = {"conductivity_900K": {"value": 1e-3, "unit": "S/cm", "std": None, "temperature_K": 950.0}}
    assert series.points(stored, "conductivity") == []
    assert arrhenius_figure([("new", _stored(True)), ("old", _stored(False))], tmp_path / "a.png")
