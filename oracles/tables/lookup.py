"""An oracle that answers from a table of published results (e.g. HTP-MD's MD runs).

It lets a whole campaign be replayed against real data: a retrospective benchmark tells how fast
a strategy would have found the best materials had each lookup been a fresh simulation.
"""

from __future__ import annotations

import time
from typing import Literal, Sequence

import pandas as pd
from pydantic import Field

from amala.core.candidate import Candidate
from amala.core.datasets import Table
from amala.core.evaluation import Evaluation, Measurement
from amala.core.representations import Representation
from amala.oracles.protocol import Oracle
from amala.oracles.registry import Properties, PropertiesSpec


class LookupSpec(PropertiesSpec):
    kind: Literal["lookup"] = "lookup"
    properties: Properties = Field(None, description="what to give (default: every property the table has)")


class LookupOracle(Oracle):
    Spec = LookupSpec
    representations = (Representation.SMILES,)
    needs_dataset = True  # it answers from the table
    gives_table_columns = True

    @staticmethod
    def offered(table) -> dict[str, str]:
        """property -> unit this oracle can give from `table` (checked before a run starts)."""
        return dict(table.units)

    @classmethod
    def from_spec(cls, spec: LookupSpec, table=None, workdir=None, seed: int = 0) -> LookupOracle:
        return cls(table, properties=spec.properties, name=spec.name or "lookup")

    fidelity = "published"
    mode = "per_candidate"  # a lookup is cheap, but each candidate's result is stored the moment it exists

    def __init__(self, table: Table, properties: Sequence[str] | None = None, name: str = "lookup"):
        self.name = name
        self.table = table
        self.properties = list(properties or table.units)
        unknown = [p for p in self.properties if p not in table.units]
        if unknown:
            raise ValueError(
                f"oracle.properties: {unknown} not in dataset {table.name!r} (has {sorted(table.units)})"
            )
        self.units = {p: table.units[p] for p in self.properties}
        self._rows = table.frame.set_index("smiles")[self.properties]

    def evaluate(self, candidates: Sequence[Candidate]) -> list[Evaluation]:
        results = []
        for candidate in candidates:
            start = time.perf_counter()
            if candidate.representation not in self._rows.index:
                results.append(
                    Evaluation.failed(
                        candidate.key, self.name, self.fidelity,
                        f"{candidate.representation!r} is not in dataset {self.table.name!r}",
                    )
                )
                continue
            row = self._rows.loc[candidate.representation]
            missing = [p for p in self.properties if pd.isna(row[p])]
            if missing:
                results.append(
                    Evaluation.failed(
                        candidate.key, self.name, self.fidelity,
                        f"dataset {self.table.name!r} has no value of {missing} for {candidate.representation!r}",
                    )
                )
                continue
            values = {p: Measurement(float(row[p]), self.table.units[p]) for p in self.properties}
            results.append(
                Evaluation(candidate.key, self.name, self.fidelity, "ok", values=values,
                           cost_seconds=time.perf_counter() - start)
            )
        return results
