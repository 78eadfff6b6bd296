"""The map from config names to surrogate and featurizer classes (`SURROGATES`, `build_surrogate`).
The interface every surrogate meets is in `protocol`; it is re-exported here for code that imports
it from the registry.

Each kind's class carries its settings (`Spec`, a subclass of `SurrogateSpec`), its capabilities
(`representations`, `bayesian`, `fidelities`, ... as declared on `Surrogate`) and `from_spec`; the
classes are imported on first use."""

from __future__ import annotations

import importlib
from typing import Literal

from pydantic import Field, StrictBool, model_validator

from amala.core.plugins import Int, PluginSpec, Registry, Spec
from amala.core.representations import Representation
from amala.models.protocol import Surrogate

__all__ = ["BY_REPRESENTATION", "FeaturizerSpec", "SURROGATES", "Surrogate", "SurrogateSpec", "build_featurizer",
           "build_surrogate", "surrogate_class"]


class FeaturizerSpec(Spec):
    kind: Literal["morgan"] = "morgan"
    radius: Int = Field(3, ge=0, le=6)  # r3 counts: best and steadiest in docs/benchmarks/htpmd-retrospective.md
    n_bits: Int = Field(2048, ge=64, le=16_384, description="fingerprint length; at most 16384 (with count_cap "
                        "4, 64 KiB per candidate: a pool of thousands stays in memory)")
    counts: StrictBool = True
    count_cap: Int = Field(4, ge=1, le=16)

    @model_validator(mode="after")
    def _feature_size(self):
        """Counts are stored in thermometer form, n_bits x count_cap features per candidate."""
        if self.counts and self.n_bits * self.count_cap > 65_536:
            raise ValueError(f"n_bits x count_cap = {self.n_bits * self.count_cap} features per candidate "
                             "(at most 65536)")
        return self


class SurrogateSpec(PluginSpec):
    """Settings of every surrogate kind; what a kind's class declares is listed on
    `amala.models.protocol.Surrogate` (`representations`, `bayesian`, `fidelities`, ...)."""

    def high_fidelities(self) -> list[str]:
        """The evaluation fidelities that are "high" (the `high_fidelity` setting of kinds with fidelity
        heads); [] for a kind without that setting."""
        return []


SURROGATES = Registry("surrogate", "amala.surrogates", {
    "gp": "amala.models.gp:TanimotoGP",
    "random_forest": "amala.models.random_forest:RandomForest",
    "gnn_ensemble": "amala.models.gnn_ensemble:GNNEnsemble",
    "formulation_ensemble": "amala.models.formulation_ensemble:FormulationEnsemble",
})
# A kind whose model differs by representation: the registered class carries the kind's settings and
# capabilities (for the config), the class here is what a campaign of that representation builds.
# The composition GP shares the GP's settings but works on composition features, not fingerprints.
BY_REPRESENTATION = {(Representation.COMPOSITION, "gp"): "amala.models.composition_gp:CompositionGP",
                     (Representation.FORMULATION, "gp"): "amala.models.gp:FormulationGP"}


def surrogate_class(kind: str, representation: str = Representation.SMILES) -> type:
    """The class a campaign of this representation builds for a surrogate kind (the `gp` kind is a
    different GP per representation: `BY_REPRESENTATION`)."""
    path = BY_REPRESENTATION.get((representation, kind))
    if path is None:
        return SURROGATES[kind]
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def build_surrogate(spec, bank, seed: int = 0, warm_start: dict | None = None,
                    representation: str = Representation.SMILES) -> Surrogate:
    """A fresh, unfitted surrogate. `bank` (a `FingerprintBank` of fingerprints, a `GraphBank` for GNNs,
    a `CompositionFeaturizer` for compositions) carries the campaign's inputs and caches across
    iterations; `warm_start` (the stored hyperparameters of the last fit of the same kind, see
    `ExactGP`) seeds the GP's hyperparameter search."""
    cls = surrogate_class(spec.kind, representation)
    return cls.from_spec(spec, bank, representation=representation, seed=seed, warm_start=warm_start)


def build_featurizer(spec):
    from amala.models.featurizer import MorganFeaturizer

    if spec.kind == "morgan":
        return MorganFeaturizer(radius=spec.radius, n_bits=spec.n_bits, counts=spec.counts,
                                count_cap=spec.count_cap)
    raise ValueError(f"surrogate.featurizer.kind: unknown featurizer {spec.kind!r}")
