"""The MD oracle for oxide glasses: composition -> starting cell -> LAMMPS protocol -> Evaluation.

Each evaluation stores Li diffusivities per temperature, σ(300 K) and Ea from the Arrhenius fit,
and the glass's potential energy per atom, each with its unit and standard uncertainty; the LAMMPS
log and the starting cell are files under the work directory, referenced from the evaluation. The
profile name is the fidelity, so a quick and a standard run of one glass are stored side by side.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Literal, Sequence

from ase.io import write
from pydantic import Field

from amala.core.candidate import Candidate
from amala.core.composition import InvalidComposition, canonical_composition, parse_composition
from amala.core.evaluation import Evaluation, Measurement
from amala.core.log_scale import linear_std
from amala.core.plugins import Float, Text
from amala.core.representations import Representation
from amala.oracles.generator.generator import GeneratedStarts, GenerationFailed
from amala.oracles.generator.spec import StructureSpec
from amala.oracles.md import lammps_glass as glass_md
from amala.oracles.md import pedone
from amala.oracles.md import temperature_series as series
from amala.oracles.md.cells import START_DENSITY_G_CM3, CellError, build
from amala.oracles.md.protocol import GlassResult, SimulationFailed
from amala.oracles.protocol import Oracle
from amala.oracles.registry import OracleSpec

# wall time of one candidate on one idle core, per profile, for estimates only: quick measured on
# 2026-11-30 (3.3 min, docs/benchmarks/oxide-glass-md.md); standard and long scaled from their 2026-11-25
# times by the same factor (those machines ran the quick profile in ~1 min)
EXPECTED_SECONDS = {"quick": 200.0, "standard": 4000.0, "long": 15500.0}


class MDSpec(OracleSpec):
    kind: Literal["md"] = "md"
    profile: Text = Field("quick", description="quick (tests, demo), standard (>= 500 atoms, 100 ps per "
                          "temperature) or long (600 ps at 500-650 K); the oracle checks the name against its profiles")
    density_g_cm3: Float = Field(START_DENSITY_G_CM3, gt=0, le=20, description="density of the starting cell (NPT "
                                 "then finds the glass's own; no oxide glass is denser than 20 g/cm3)")
    structure: StructureSpec = Field(default_factory=StructureSpec, description="the glass from the melt-quench "
                                     "(default) or from a trained generator (source: generator, generator: NAME)")

    def describe(self) -> str:
        return f"{self.profile} profile" + (f", glasses from generator {self.structure.generator}"
                                            if self.structure.generated else "")


class GlassMDOracle(Oracle):
    Spec = MDSpec
    representations = (Representation.COMPOSITION,)
    needs_dataset = False

    @classmethod
    def from_spec(cls, spec: MDSpec, table=None, workdir=None, seed: int = 0) -> GlassMDOracle:
        return cls(workdir, profile=spec.profile, density_g_cm3=spec.density_g_cm3, seed=seed,
                   name=spec.name or "lammps-pedone", structure=spec.structure)

    thread_safe = False  # one LAMMPS engine per process
    mode = "per_candidate"  # one simulation per task: side by side on the executor, a crash loses one
    simulates = True

    @classmethod
    def expected_seconds(cls, spec: MDSpec) -> float | None:
        return EXPECTED_SECONDS.get(spec.profile)

    units = {"conductivity_300K": "S/cm", "log10_conductivity_300K": "log10(S/cm)", "ea": "eV",
             "log10_prefactor": "log10(S/cm)", "energy_per_atom": "eV/atom", "density": "g/cm^3", "n_atoms": "1"}
    # plus, per production temperature T, values with the condition temperature_K=T (`temperature_series`):
    # d_li (cm^2/s), conductivity (S/cm), network_msd (A^2), stored as d_li_<T>K etc.

    def __init__(self, workdir: Path, profile: str = "quick",
                 density_g_cm3: float | Callable[[dict], float] = START_DENSITY_G_CM3, seed: int = 0,
                 name: str = "lammps-pedone", structure: StructureSpec | None = None):
        if profile not in glass_md.PROFILES:
            raise ValueError(f"oracle.profile: unknown {profile!r} (choose from {sorted(glass_md.PROFILES)})")
        self.structure = structure or StructureSpec()
        self.name, self.fidelity = name, profile + self.structure.fidelity_suffix
        self.profile = glass_md.PROFILES[profile]
        self.workdir = Path(workdir)
        self.start_density = density_g_cm3  # a number, or a (picklable) function of the mole fractions
        self.seed = seed
        self.starts = GeneratedStarts(self.structure, self.workdir) if self.structure.generated else None

    def evaluate(self, candidates: Sequence[Candidate]) -> list[Evaluation]:
        """One serial LAMMPS simulation per candidate, one after the other. Side by side is the
        flow's job: each candidate is its own task on the `processes` or `dask` task runner, so one
        crashing engine cannot take the others with it."""
        return [self._one(c) for c in candidates]

    def _density(self, fractions: dict[str, float]) -> float:
        return self.start_density(fractions) if callable(self.start_density) else self.start_density

    def _one(self, candidate: Candidate) -> Evaluation:
        start = time.perf_counter()
        folder = self.workdir / "md" / self.fidelity / candidate.key
        failed = lambda reason, files=None: Evaluation.failed(  # noqa: E731
            candidate.key, self.name, self.fidelity, reason, cost_seconds=time.perf_counter() - start, artefacts=files)
        generated = {}
        try:
            fractions = parse_composition(candidate.representation)
            cell = build(fractions, self._density(fractions), self.profile.n_atoms, seed=self.seed)
            if self.starts is not None:
                generated = self.starts.apply(cell.atoms, candidate.representation, self.seed)
        except (InvalidComposition, CellError, GenerationFailed) as exc:
            return failed(str(exc))
        folder.mkdir(parents=True, exist_ok=True)
        write(folder / "start.extxyz", cell.atoms, format="extxyz")
        try:
            result = glass_md.run(cell.atoms, self.profile, folder, seed=self.seed,
                                  generated_anneal_ps=self.structure.anneal_ps if generated else None)
        except SimulationFailed as exc:
            log = folder / "lammps.log"
            return failed(str(exc), {"start_cell": str(folder / "start.extxyz"),
                                     **({"log": str(log)} if log.is_file() else {})})
        values = transport_values(result, len(cell.atoms))
        return Evaluation(candidate.key, self.name, self.fidelity, "ok", values=values,
                          cost_seconds=time.perf_counter() - start,
                          artefacts={"start_cell": str(folder / "start.extxyz"),
                                     **{name: str(path) for name, path in result.files.items()}},
                          provenance={"profile": self.fidelity, "seed": self.seed,
                                      "lammps_version": result.lammps_version, "potential": pedone.CITATION,
                                      "start_density_g_cm3": cell.density_g_cm3, **generated,
                                      # whole formula units: what was simulated, within 1/units of the candidate
                                      "simulated_composition": canonical_composition(cell.actual_fractions),
                                      "formula_units": cell.formula_units,
                                      "msd_window_ps": {f"{T:g}": list(d.window_ps)
                                                        for T, d in result.diffusivities.items()},
                                      "temperatures_K": list(self.profile.temperatures_K),
                                      **({"caveat": self.profile.caveat} if self.profile.caveat else {}),
                                      "skipped_temperatures": {f"{T:g}": why for T, why in result.skipped_K.items()}})


def transport_values(result: GlassResult, n_atoms: int) -> dict[str, Measurement]:
    """The stored numbers of a glass simulation, each with its unit and uncertainty; every MD oracle
    (LAMMPS here, the machine-learned potentials in `mlip_oracle`) reports the same names."""
    log10_sigma, log10_std = result.arrhenius.log10_sigma(300.0)
    sigma = 10 ** log10_sigma
    lowest = min(result.density_g_cm3)
    values = {
        "conductivity_300K": Measurement(sigma, "S/cm", linear_std(log10_sigma, log10_std)),
        "log10_conductivity_300K": Measurement(log10_sigma, "log10(S/cm)", log10_std),
        "ea": Measurement(result.arrhenius.ea_eV, "eV", result.arrhenius.ea_std_eV),
        "log10_prefactor": Measurement(result.arrhenius.log10_prefactor, "log10(S/cm)",
                                       result.arrhenius.log10_prefactor_std),
        "energy_per_atom": Measurement(result.energy_eV_per_atom[0], "eV/atom", result.energy_eV_per_atom[1]),
        "density": Measurement(result.density_g_cm3[lowest], "g/cm^3"),
        "n_atoms": Measurement(float(n_atoms), "1"),
    }
    for T, d in result.diffusivities.items():
        values[series.key("d_li", T)] = Measurement(d.value_cm2_s, "cm^2/s", d.std_cm2_s, temperature_K=T)
        sigma_T, sigma_std = result.conductivities_S_cm[T]
        values[series.key("conductivity", T)] = Measurement(sigma_T, "S/cm", sigma_std, temperature_K=T)
    for T, msd in result.network_msd_A2.items():
        values[series.key("network_msd", T)] = Measurement(msd, "A^2", temperature_K=T)
    return values
