"""The MD oracle for oxide glasses: composition -> starting cell -> LAMMPS protocol -> Evaluation.

Each evaluation stores Li diffusivities per temperature, σ(300 K) and Ea from the Arrhenius fit,
and the glass's potential energy per atom, each with its unit and standard uncertainty; the LAMMPS
log and the starting cell are files under the work directory, referenced from the evaluation. The
profile name is the fidelity, so a quick and a standard run of one glass are stored side by side.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable, Sequence

from ase.io import write

from amala.agents.candidate import Candidate
from amala.agents.composition import InvalidComposition, parse_composition
from amala.oracles import glass_md
from amala.oracles.glass_cell import CellError, build
from amala.oracles.evaluation import Evaluation, Measurement


class GlassMDOracle:
    units = {"conductivity_300K": "S/cm", "log10_conductivity_300K": "log10(S/cm)", "ea": "eV",
             "energy_per_atom": "eV/atom", "n_atoms": "1"}  # plus d_li_<T>K in cm^2/s

    def __init__(self, workdir: Path, profile: str = "quick", density_g_cm3: float | Callable[[dict], float] = 2.35,
                 seed: int = 0, name: str = "lammps-pedone"):
        if profile not in glass_md.PROFILES:
            raise ValueError(f"oracle.profile: unknown {profile!r} (choose from {sorted(glass_md.PROFILES)})")
        self.name, self.fidelity = name, profile
        self.profile = glass_md.PROFILES[profile]
        self.workdir = Path(workdir)
        self.density = density_g_cm3 if callable(density_g_cm3) else (lambda _fractions: density_g_cm3)
        self.seed = seed

    def evaluate(self, candidates: Sequence[Candidate]) -> list[Evaluation]:
        return [self._one(c) for c in candidates]

    def _one(self, candidate: Candidate) -> Evaluation:
        start = time.perf_counter()
        folder = self.workdir / "md" / self.fidelity / candidate.key
        failed = lambda reason: Evaluation.failed(candidate.key, self.name, self.fidelity, reason,  # noqa: E731
                                                  cost_seconds=time.perf_counter() - start)
        try:
            fractions = parse_composition(candidate.representation)
            cell = build(fractions, self.density(fractions), self.profile.n_atoms, seed=self.seed,
                         min_distance=1.7)
        except (InvalidComposition, CellError) as exc:
            return failed(str(exc))
        folder.mkdir(parents=True, exist_ok=True)
        write(folder / "start.extxyz", cell.atoms, format="extxyz")
        try:
            result = glass_md.run(cell.atoms, self.profile, folder, seed=self.seed)
        except glass_md.SimulationFailed as exc:
            return failed(str(exc))
        log10_sigma, log10_std = result.arrhenius.log10_sigma(300.0)
        sigma = 10 ** log10_sigma
        values = {
            "conductivity_300K": Measurement(sigma, "S/cm", sigma * math.log(10) * log10_std),
            "log10_conductivity_300K": Measurement(log10_sigma, "log10(S/cm)", log10_std),
            "ea": Measurement(result.arrhenius.ea_eV, "eV", result.arrhenius.ea_std_eV),
            "energy_per_atom": Measurement(result.energy_eV_per_atom[0], "eV/atom", result.energy_eV_per_atom[1]),
            "n_atoms": Measurement(float(len(cell.atoms)), "1"),
        }
        for T, d in result.diffusivities.items():
            values[f"d_li_{T:g}K"] = Measurement(d.value_cm2_s, "cm^2/s", d.std_cm2_s)
        return Evaluation(candidate.key, self.name, self.fidelity, "ok", values=values,
                          cost_seconds=time.perf_counter() - start,
                          artefacts={"log": str(result.log), "start_cell": str(folder / "start.extxyz")},
                          provenance={"profile": self.fidelity, "seed": self.seed,
                                      "lammps_version": result.lammps_version, "potential": "Pedone 2006",
                                      "temperatures_K": list(self.profile.temperatures_K)})
