"""An emulator: a model trained once on a whole published table, answering for polymers it has
never seen. For benchmarking generative campaigns only.

A lookup table cannot score a polymer a generator just invented, and a real MD run per candidate
is out of reach for a benchmark. The emulator stands in: a random forest (200 trees, 2048-bit
radius-2 Morgan counts) fitted once per property on all of the table (log10 for the transport
coefficients), returning its prediction with the spread across trees as the uncertainty. Every
value it returns is labelled: fidelity `emulated`, provenance `emulated: true` and a caveat that
the report prints before any number. It is never MD.
"""

from __future__ import annotations

import time
from typing import Literal, Sequence

import torch
from pydantic import Field

from amala.core.candidate import Candidate
from amala.core.datasets import Table, model_targets
from amala.core.evaluation import Evaluation, Measurement
from amala.core.log_scale import is_log_scale, linear_std
from amala.core.representations import Representation
from amala.models.featurizer import MorganFeaturizer
from amala.models.random_forest import RandomForest
from amala.oracles.protocol import Oracle
from amala.oracles.registry import Properties, PropertiesSpec


class EmulatorSpec(PropertiesSpec):
    kind: Literal["emulator"] = "emulator"
    properties: Properties = Field(None, description="what to give (default: every property the table has)")


class EmulatorOracle(Oracle):
    Spec = EmulatorSpec
    representations = (Representation.SMILES,)
    needs_dataset = True  # it learns from the table
    gives_table_columns = True

    @staticmethod
    def offered(table) -> dict[str, str]:
        """property -> unit this oracle can give from `table` (checked before a run starts)."""
        return dict(table.units)

    @classmethod
    def from_spec(cls, spec: EmulatorSpec, table=None, workdir=None, seed: int = 0) -> EmulatorOracle:
        return cls(table, properties=spec.properties, name=spec.name or "emulator", seed=seed)

    fidelity = "emulated"
    mode = "per_candidate"  # as the MD it stands in for

    def __init__(self, table: Table, properties: Sequence[str] | None = None, name: str = "emulator",
                 n_estimators: int = 200, seed: int = 0):
        self.name, self.table = name, table
        self.properties = list(properties or table.units)
        unknown = [p for p in self.properties if p not in table.units]
        if unknown:
            raise ValueError(f"oracle.properties: {unknown} not in dataset {table.name!r} (has {sorted(table.units)})")
        self.units = {p: table.units[p] for p in self.properties}
        self.featurizer = MorganFeaturizer(radius=2, n_bits=2048, counts=True)
        X = self.featurizer(list(table.frame.smiles))
        self.models = {}
        for prop in self.properties:
            ok, y = model_targets(table.frame, prop)
            self.models[prop] = RandomForest(self.featurizer, n_estimators=n_estimators, seed=seed).fit(
                X[torch.from_numpy(ok)], torch.from_numpy(y))
        self.caveat = (f"Emulated values: predictions of a random forest trained on all of {table.name} "
                       f"({len(table.frame)} polymers), not molecular dynamics; use them to benchmark "
                       f"generators, never as results.")

    def evaluate(self, candidates: Sequence[Candidate]) -> list[Evaluation]:
        start = time.perf_counter()
        usable, failed = [], {}
        for candidate in candidates:  # one at a time: a text RDKit cannot parse fails alone, never the batch
            try:
                usable.append((candidate, self.featurizer([candidate.representation])))
            except ValueError as exc:
                failed[candidate.key] = Evaluation.failed(candidate.key, self.name, self.fidelity, str(exc))
        X = torch.cat([x for _, x in usable]) if usable else None
        predictions = {p: self.models[p].predict(X) for p in self.properties} if usable else {}
        results = {}
        for i, (candidate, _) in enumerate(usable):
            values = {}
            for prop, (mean, std) in predictions.items():
                m, s = float(mean[i]), float(std[i])
                if is_log_scale(prop):  # back from log10, with the first-order std
                    m, s = 10 ** m, linear_std(m, s)
                values[prop] = Measurement(m, self.units[prop], s)
            results[candidate.key] = Evaluation(
                candidate.key, self.name, self.fidelity, "ok", values=values,
                cost_seconds=(time.perf_counter() - start) / len(candidates),
                provenance={"emulated": True, "model": "random forest, 2048-bit r2 Morgan counts",
                            "trained_on": self.table.name, "caveat": self.caveat})
        return [failed.get(c.key) or results[c.key] for c in candidates]
