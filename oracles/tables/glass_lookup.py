"""An oracle that answers from SciGlass's measured Li oxide glasses (`core/sciglass.py`).

It lets a composition campaign be replayed against laboratory data, as `lookup` replays HTP-MD's MD
results: each candidate is a composition of the table, and its value is what was measured on it. Repeat
measurements of one composition (several papers, or one paper's repeats) are combined by their median,
with their standard deviation as the value's uncertainty and their count in the provenance
(`sciglass.aggregate`). A property not measured on a glass is left out of its values (Ea needs two
temperatures below Tg, many glasses have only one); a glass without the objective's value is not in the
campaign's pool (`sciglass.pool_for`), and a candidate outside the table fails with that reason.
"""

from __future__ import annotations

import math
import time
from typing import Literal, Sequence

from pydantic import Field

from amala.core import sciglass
from amala.core.candidate import Candidate
from amala.core.datasets import Table
from amala.core.evaluation import Evaluation, Measurement
from amala.core.representations import Representation
from amala.oracles.protocol import Oracle
from amala.oracles.registry import Properties, PropertiesSpec

LEVEL_OF_THEORY = "experiment (SciGlass: impedance or DC resistivity of bulk glasses, as the source papers measured)"


class GlassLookupSpec(PropertiesSpec):
    kind: Literal["glass_lookup"] = "glass_lookup"
    properties: Properties = Field(None, description=f"what to give, of {sorted(sciglass.PROPERTIES)} (default: "
                                   "all)")


class GlassLookupOracle(Oracle):
    Spec = GlassLookupSpec
    representations = (Representation.COMPOSITION,)
    needs_dataset = True  # it answers from the table
    fidelity = "experiment"
    mode = "per_candidate"

    @staticmethod
    def offered(table) -> dict[str, str]:
        """property -> unit this oracle can give from `table` (checked before a run starts)."""
        return dict(sciglass.PROPERTIES)

    @classmethod
    def from_spec(cls, spec: GlassLookupSpec, table=None, workdir=None, seed: int = 0) -> GlassLookupOracle:
        return cls(table, properties=spec.properties, name=spec.name or "glass_lookup")

    def __init__(self, table: Table, properties: Sequence[str] | None = None, name: str = "glass_lookup"):
        if table is None or "composition" not in table.frame.columns:
            raise ValueError(f"oracle glass_lookup: needs data.dataset {sciglass.NAME!r} (a table of compositions)")
        self.name, self.table = name, table
        self.properties = list(properties or sciglass.PROPERTIES)
        unknown = [p for p in self.properties if p not in sciglass.PROPERTIES]
        if unknown:
            raise ValueError(f"oracle.properties: {unknown} not given by glass_lookup (gives "
                             f"{sorted(sciglass.PROPERTIES)})")
        self.units = {p: sciglass.PROPERTIES[p] for p in self.properties}
        self._rows = table.frame.set_index("composition")
        self._about = {"level_of_theory": LEVEL_OF_THEORY, "dataset": table.name, "source": table.source,
                       "sha256": table.sha256, "combined": "median of the repeat measurements of one composition; "
                       "std: their standard deviation (none for a single measurement)"}

    def evaluate(self, candidates: Sequence[Candidate]) -> list[Evaluation]:
        return [self._one(candidate) for candidate in candidates]

    def _one(self, candidate: Candidate) -> Evaluation:
        start = time.perf_counter()
        if candidate.representation not in self._rows.index:
            return Evaluation.failed(candidate.key, self.name, self.fidelity,
                                     f"{candidate.representation!r} is not a glass of dataset {self.table.name!r}")
        row = self._rows.loc[candidate.representation]
        values, counts = {}, {}
        for prop in self.properties:
            value, std = float(row[prop]), float(row[f"{prop}_std"])
            if math.isfinite(value):
                values[prop] = Measurement(value, self.units[prop], std if math.isfinite(std) else None)
                counts[prop] = int(row[f"{prop}_n"])
        if not values:
            return Evaluation.failed(candidate.key, self.name, self.fidelity,
                                     f"dataset {self.table.name!r} has no value of {self.properties} for "
                                     f"{candidate.representation!r}")
        provenance = {**self._about, "n_measurements": counts, "sources": row["sources"],
                      "n_sources": int(row["n_sources"])}
        return Evaluation(candidate.key, self.name, self.fidelity, "ok", values=values, provenance=provenance,
                          cost_seconds=time.perf_counter() - start)
