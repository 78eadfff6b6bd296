"""The campaign objective in model space: which property, transformed how, maximised or not.

Surrogates and acquisition always *maximise* a transformed value (log10 for conductivity, whose
values span orders of magnitude); this module is the one place that maps both ways.
"""

from __future__ import annotations

import math

from amala.loop.config import ObjectiveSpec
from amala.oracles.evaluation import Evaluation


class Objective:
    def __init__(self, spec: ObjectiveSpec, unit: str):
        self.property, self.direction, self.transform = spec.property, spec.direction, spec.transform
        self.unit = unit

    @property
    def label(self) -> str:
        """Name with unit of the transformed objective, e.g. 'log10 conductivity [log10(S/cm)]'."""
        if self.transform == "log10":
            return f"log10 {self.property} [log10({self.unit})]"
        return f"{self.property} [{self.unit}]"

    def transformed(self, value: float) -> float:
        """Property value -> transformed objective (natural direction); ValueError if impossible."""
        if self.transform == "log10":
            if value <= 0:
                raise ValueError(f"{self.property}={value} cannot be log10-transformed (must be > 0)")
            return math.log10(value)
        return value

    @property
    def sign(self) -> int:
        """+1 or -1: transformed objective x sign is what the surrogate learns ('higher is better').
        Its own inverse, so it also maps model predictions back to the natural direction."""
        return 1 if self.direction == "maximize" else -1

    def variance(self, value: float, std: float | None) -> float | None:
        """Variance of the transformed objective from the property's standard uncertainty
        (first-order propagation through log10), or None when the oracle reported none."""
        if std is None or not math.isfinite(std):
            return None
        if self.transform == "log10":
            return (std / (value * math.log(10))) ** 2 if value > 0 else None
        return std ** 2

    def of(self, evaluation: Evaluation) -> float | None:
        """Transformed objective of an evaluation, or None when it failed or lacks the property."""
        if not evaluation.ok or self.property not in evaluation.values:
            return None
        try:
            return self.transformed(evaluation.values[self.property].value)
        except ValueError:
            return None
