"""One rule for which properties are learned as log10 (and so must be > 0), one uncertainty propagation."""

import math

import pandas as pd
import pytest

from amala.core.datasets import DATASETS, model_targets
from amala.core.log_scale import is_log_scale, linear_std, log10_std


def test_transport_coefficients_are_log_scale_and_nothing_else():
    htpmd = DATASETS["htpmd"].units
    assert sorted(p for p in htpmd if is_log_scale(p)) == ["conductivity", "li_diffusivity", "poly_diffusivity",
                                                           "tfsi_diffusivity"]
    assert is_log_scale("conductivity_300K") and not is_log_scale("log10_conductivity_300K")
    assert not is_log_scale("ea") and not is_log_scale("density")


def test_model_targets_drop_non_positive_log_values_only():
    frame = pd.DataFrame({"conductivity": [1e-3, 0.0, -1.0], "transference_number": [0.5, 0.0, -0.1]})
    ok, values = model_targets(frame, "conductivity")
    assert list(ok) == [True, False, False] and values[0] == pytest.approx(-3.0)
    ok, values = model_targets(frame, "transference_number")
    assert list(ok) == [True, True, True] and list(values) == [0.5, 0.0, -0.1]


def test_uncertainty_propagation_is_first_order_both_ways():
    value, std = 2e-4, 1e-5
    s = log10_std(value, std)
    assert s == pytest.approx(std / (value * math.log(10)))
    assert linear_std(math.log10(value), s) == pytest.approx(std)
