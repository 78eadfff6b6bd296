"""The campaign objective in model space: which property, transformed how, maximised or not.

Surrogates and acquisition always *maximise* a transformed value (log10 for conductivity, whose
values span orders of magnitude); this module is the one place that maps both ways.

A value the transform cannot take (log10 of a transference number <= 0) is not silently dropped:
`screen` turns such an ok evaluation into a failed one whose reason says so ("transference_number
= -0.12 cannot be log10-transformed"), so it is stored, counted and shown as a failure instead of
vanishing from the model's data while looking like a success. The measured values are kept.
"""

from __future__ import annotations

import math
from dataclasses import replace

from amala.core.evaluation import Evaluation
from amala.core.log_scale import log10_std
from amala.loop.config import ConstraintSpec, ObjectiveSpec


class Objective:
    def __init__(self, spec: ObjectiveSpec, unit: str):
        self.property, self.direction, self.transform = spec.property, spec.direction, spec.transform
        # hypervolume reference (transformed, natural direction), or None; a stored objective has none
        self.reference = getattr(spec, "reference", None)
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
            if not value > 0:
                raise ValueError(f"{self.property} = {value:g} cannot be log10-transformed (must be > 0)")
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
            return log10_std(value, std) ** 2 if value > 0 else None
        return std ** 2

    def screen(self, evaluation: Evaluation) -> Evaluation:
        """The evaluation as it should be stored: an ok one whose objective value cannot be
        transformed becomes failed with the reason (values kept); anything else is returned as is."""
        if not evaluation.ok or self.property not in evaluation.values:
            return evaluation
        try:
            self.transformed(evaluation.values[self.property].value)
        except ValueError as exc:
            return replace(evaluation, status="failed", reason=str(exc))
        return evaluation

    def of(self, evaluation: Evaluation) -> float | None:
        """Transformed objective of an evaluation, or None when it failed or lacks the property."""
        if not evaluation.ok or self.property not in evaluation.values:
            return None
        return self.value_of(evaluation.values[self.property].value)

    def value_of(self, raw) -> float | None:
        """Transformed value (natural direction) of a raw number (a table cell, a stored value), or None when
        it is missing, not a number, or cannot be transformed."""
        try:
            return self.transformed(float(raw))
        except (TypeError, ValueError):
            return None

    def of_stored(self, values: dict) -> float | None:
        """Transformed objective (natural direction) from a stored evaluation's `values` ({name: {value, std,
        unit}}), or None when the property is missing or cannot be transformed."""
        return self.value_of(((values or {}).get(self.property) or {}).get("value"))


class Constraint(Objective):
    """An outcome constraint (`transference_number >= 0.2`): a property modelled like an objective, in its
    natural direction, with a threshold on the transformed value. `botorch` gives the form BoTorch's
    constraint handling reads: a callable of the model's output samples that is <= 0 where feasible."""

    def __init__(self, spec: ConstraintSpec, unit: str):
        super().__init__(ObjectiveSpec(property=spec.property, transform=spec.transform, direction="maximize"), unit)
        self.op, self.threshold, self.text = spec.op, spec.value, spec.text

    def feasible(self, transformed: float) -> bool:
        return transformed >= self.threshold if self.op == ">=" else transformed <= self.threshold

    def botorch(self, column: int):
        """Z[..., column] is this property's modelled value: negative means feasible."""
        threshold, above = self.threshold, self.op == ">="
        return (lambda Z: threshold - Z[..., column]) if above else (lambda Z: Z[..., column] - threshold)
