"""The result of evaluating one candidate with one oracle at one fidelity."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Measurement:
    """A number with its unit and, where the source gives one, its standard uncertainty."""

    value: float
    unit: str
    std: float | None = None
    temperature_K: float | None = None  # set on one point of a temperature series (see `temperature_series`)

    def __post_init__(self):
        if not math.isfinite(self.value):
            raise ValueError(f"measurement value must be finite, got {self.value}")


@dataclass
class Evaluation:
    candidate_key: str
    oracle: str
    fidelity: str
    status: Literal["ok", "failed"]
    values: dict[str, Measurement] = field(default_factory=dict)
    reason: str | None = None
    cost_seconds: float = 0.0
    artefacts: dict[str, str] = field(default_factory=dict)  # name -> file path, never blobs
    provenance: dict = field(default_factory=dict)  # how the number was made: profile, seed, code versions
    # machine-learned potentials trained to make this evaluation (kind, n_train, held-out errors, files):
    # the store keeps each as a model version of the campaign
    potentials: list[dict] = field(default_factory=list)

    @classmethod
    def failed(cls, candidate_key: str, oracle: str, fidelity: str, reason: str, cost_seconds: float = 0.0,
               artefacts: dict | None = None):
        """A failed evaluation; `artefacts` keeps what a failed run left behind (its log) for diagnosis."""
        return cls(candidate_key, oracle, fidelity, "failed", reason=reason, cost_seconds=cost_seconds,
                   artefacts=artefacts or {})

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def values_json(self) -> dict:
        """Stored form; a value without a temperature condition is stored as before it existed."""
        return {name: {k: v for k, v in asdict(m).items() if k != "temperature_K" or v is not None}
                for name, m in self.values.items()}
