"""An oracle that answers from a table of measured formulations (ChemArr's experimental conductivities).

It lets a campaign over formulations (`polymer|salt|molality`, `agents.formulation`) be replayed
against laboratory data, as `lookup` replays HTP-MD's MD results.

The objective is defined per formulation: its conductivity at the measured temperature closest to
25 degC (298.15 K), by `agents.formulation.closest_to` (a tie goes to the lower temperature;
repeat measurements at that temperature are averaged in log10). Published tables measure each
formulation at its own temperatures, so the value is not "at 25 degC" but at a temperature that
every evaluation records (`measurement_temperature`, K) with its distance from 25 degC
(`temperature_gap`, K) — in the values and in the provenance, next to the level of theory
("experiment") and the table it came from. A formulation the table does not have fails with one line.

Values follow `lookup`'s convention for HTP-MD: `conductivity` in S/cm (the campaign's default
log10 transform makes the objective log10(S/cm), the number ChemArr publishes), no standard
uncertainty (the compilation gives none).
"""

from __future__ import annotations

import time
from typing import Literal, Sequence

from pydantic import Field

from amala.core.candidate import Candidate
from amala.core.datasets import Table
from amala.core.evaluation import Evaluation, Measurement
from amala.core.formulation import ROOM_TEMPERATURE_K, closest_to, load_formulations
from amala.core.representations import Representation
from amala.oracles.protocol import Oracle
from amala.oracles.registry import Properties, PropertiesSpec

LEVEL_OF_THEORY = "experiment (ChemArr compilation, Bradford et al. 2023)"
TARGET_K = ROOM_TEMPERATURE_K  # K: the objective's condition (25 degC)
UNITS = {"conductivity": "S/cm", "log10_conductivity": "log10(S/cm)", "measurement_temperature": "K",
         "temperature_gap": "K"}
_COLUMNS = {"conductivity": "conductivity", "log10_conductivity": "log10_sigma_S_cm",
            "measurement_temperature": "temperature_K", "temperature_gap": "delta_K"}  # property -> column


def formulation_table(table: Table, temperature_K: float = TARGET_K, max_gap_K: float | None = None) -> Table:
    """One row per formulation (column `formulation`, the pool of a formulation campaign) with its
    value at the measured temperature closest to `temperature_K`, from a table of measurements
    (`datasets.load("chemarr")` or a CSV in its columns). A table that already has the column is
    not rebuilt (benchmarks build it once and replay it many times). `max_gap_K`: only formulations
    measured that close to `temperature_K` (a ranking of "σ near 25 degC" that a formulation measured
    only at 125 degC would otherwise top)."""
    if "formulation" in table.frame.columns:
        frame, units = table.frame, table.units
    else:
        measurements = load_formulations(table.frame)
        best = closest_to(measurements, temperature_K)
        frame = best.assign(conductivity=10.0 ** best["log10_sigma_S_cm"])
        units = {"conductivity": "S/cm", "log10_sigma_S_cm": "log10(S/cm)", "temperature_K": "K", "delta_K": "K",
                 "molality": "mol/kg", "mw": "g/mol"}
        frame.attrs.update(dropped=measurements.attrs.get("dropped", {}), n_measurements=len(measurements))
    if max_gap_K is not None:
        kept = frame[frame["delta_K"] <= max_gap_K].reset_index(drop=True)
        if kept.empty:
            raise ValueError(f"data.temperature_gap_K={max_gap_K}: no formulation of {table.source} was measured "
                             f"within {max_gap_K} K of {temperature_K} K")
        kept.attrs.update(frame.attrs, outside_gap=int(len(frame) - len(kept)))
        frame = kept
    if frame is table.frame:
        return table
    return Table(table.name, frame, units, table.source, table.dropped, table.sha256, table.verified)


class FormulationLookupSpec(PropertiesSpec):
    kind: Literal["formulation_lookup"] = "formulation_lookup"
    properties: Properties = Field(None, description=f"what to give, of {sorted(UNITS)} (default: all)")


class FormulationLookupOracle(Oracle):
    Spec = FormulationLookupSpec
    representations = (Representation.FORMULATION,)
    needs_dataset = True  # it answers from the table

    @staticmethod
    def offered(table) -> dict[str, str]:
        """property -> unit this oracle can give from `table` (checked before a run starts)."""
        return dict(UNITS)

    @classmethod
    def from_spec(cls, spec: FormulationLookupSpec, table=None, workdir=None,
                  seed: int = 0) -> FormulationLookupOracle:
        return cls(table, properties=spec.properties, name=spec.name or "formulation_lookup")

    fidelity = "experiment"
    mode = "per_candidate"  # each candidate's result is stored the moment it exists

    def __init__(self, table: Table, properties: Sequence[str] | None = None, name: str = "formulation_lookup"):
        self.name = name
        self.properties = list(properties or UNITS)
        unknown = [p for p in self.properties if p not in UNITS]
        if unknown:
            raise ValueError(f"oracle.properties: {unknown} not given by a formulation lookup (gives {sorted(UNITS)})")
        self.units = {p: UNITS[p] for p in self.properties}
        self.table = formulation_table(table)
        self._rows = self.table.frame.set_index("formulation")
        self._about = {"level_of_theory": LEVEL_OF_THEORY, "dataset": self.table.name, "source": self.table.source,
                       "sha256": self.table.sha256, "objective_condition": f"measured temperature closest to "
                       f"{TARGET_K:g} K (25 degC), per formulation", "target_temperature_K": TARGET_K}

    def evaluate(self, candidates: Sequence[Candidate]) -> list[Evaluation]:
        return [self._one(candidate) for candidate in candidates]

    def _one(self, candidate: Candidate) -> Evaluation:
        start = time.perf_counter()
        formulation = candidate.kind == Representation.FORMULATION
        if not formulation or candidate.representation not in self._rows.index:
            what = "has no measured conductivity in" if formulation else "is not a formulation"
            return Evaluation.failed(candidate.key, self.name, self.fidelity,
                                     f"{candidate.representation!r} {what} dataset {self.table.name!r}")
        row = self._rows.loc[candidate.representation]
        values = {p: Measurement(float(row[_COLUMNS[p]]), UNITS[p]) for p in self.properties}
        provenance = {**self._about, "temperature_K": float(row["temperature_K"]), "delta_K": float(row["delta_K"]),
                      "n_measurements": int(row["n_measurements"])}
        return Evaluation(candidate.key, self.name, self.fidelity, "ok", values=values, provenance=provenance,
                          cost_seconds=time.perf_counter() - start)
