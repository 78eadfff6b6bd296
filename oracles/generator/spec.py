"""What a structure generator is made from: its training glasses, its network and its training, in one YAML.

`amala generator train CONFIG` reads this: the glasses to melt-quench (compositions x quench rates x
seeds, all with the LAMMPS oracle's potential), the held-out glasses (compositions never trained on,
several replicas each: the yardstick of the benchmark), the denoiser's size and the training's length.
The defaults are the demo generator's: lithium silicate and phosphosilicate glasses of 150 atoms (the
LAMMPS oracle's quick cell), a denoiser small enough to train within the hour on 2 CPU cores.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from amala.core.composition import InvalidComposition, parse_composition
from amala.core.plugins import Float, Int, Spec, Text
from amala.oracles.generator.training_set import GlassRecipe

# Annealed denoising steps by default. Why 1500: the steps are the generator's cooling. Measured on the
# held-out glasses over 8 seeds (docs/benchmarks/glass-generator.md), the relaxed energy's gap to melt-quench
# falls from 0.026-0.052 eV/atom at 400 steps to 0.019-0.032 at 1500 and 0.011-0.024 at 3000, but at 3000
# half the LAMMPS evaluations started from generated glasses failed (Li caged at 900-1100 K; none of the
# melt-quenched starts did), where at 1500 one of 6 did. 1500 steps take ~9 s a glass on one core: 19x less
# than the MLIP student's melt-quench, but only 2.4x less than LAMMPS's (a LAMMPS campaign may prefer 400).
DEFAULT_STEPS = 1500

TRAIN_COMPOSITIONS = ["Li2O:0.15;SiO2:0.85", "Li2O:0.2;SiO2:0.8", "Li2O:0.25;SiO2:0.75", "Li2O:0.33;SiO2:0.67",
                      "Li2O:0.4;SiO2:0.6", "Li2O:0.5;SiO2:0.5", "Li2O:0.3;SiO2:0.65;P2O5:0.05",
                      "Li2O:0.4;SiO2:0.5;P2O5:0.1", "Li2O:0.3;SiO2:0.6;Al2O3:0.1"]
HELDOUT_COMPOSITIONS = ["Li2O:0.3;SiO2:0.7", "Li2O:0.45;SiO2:0.55", "Li2O:0.35;SiO2:0.58;P2O5:0.07"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DenoiserSettings(_Strict):
    """The PaiNN denoiser (`denoiser.Denoiser`). cpu: 32 features, 4 Å, 3 layers (about 6 ms per step at
    150 atoms on one core); a GPU affords 64 features and 5 Å (6x the cost per step on a CPU)."""

    features: int = Field(32, ge=4, le=512)
    layers: int = Field(3, ge=1, le=8)
    cutoff_A: float = Field(4.0, ge=2.0, le=10.0)
    radial_basis: int = Field(16, ge=2, le=64)


class TrainingSettings(_Strict):
    steps: int = Field(20_000, ge=1, le=10_000_000, description="optimiser steps")
    batch: int = Field(4, ge=1, le=256, description="cells per step")
    learning_rate: float = Field(1e-3, gt=0, le=1)
    sigma_min_A: float = Field(0.01, gt=0, le=5, description="smallest noise added to a training cell, Å")
    sigma_max_A: float = Field(0.75, gt=0, le=5, description="largest noise (DM²'s 0.75 Å), drawn uniformly per cell")
    validate_every: int = Field(500, ge=1, description="steps between validations and checkpoints")
    seed: int = 0


class HeldOutSettings(_Strict):
    compositions: list[str] = Field(default_factory=lambda: list(HELDOUT_COMPOSITIONS))
    quench_K_per_ps: list[float] = Field(default_factory=lambda: [50.0])
    seeds: list[int] = Field(default_factory=lambda: [100, 101, 102], description="replicas of each glass")


class GeneratorSpec(_Strict):
    name: str = Field("li-silicate-150", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    n_atoms: int = Field(150, ge=8, le=100_000)
    compositions: list[str] = Field(default_factory=lambda: list(TRAIN_COMPOSITIONS), min_length=1)
    quench_K_per_ps: list[float] = Field(default_factory=lambda: [50.0, 20.0], min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0, 1], min_length=1, description="glasses per composition "
                             "and quench rate")
    snapshots: int = Field(3, ge=1, le=100, description="snapshots of each glass's 300 K NVT, 2 ps apart")
    campaigns: list[str] = Field(default_factory=list, description="work folders of earlier campaigns whose MD "
                                 "oracle's final glasses (**/glass.extxyz) join the training glasses")
    heldout: HeldOutSettings = Field(default_factory=HeldOutSettings)
    denoiser: DenoiserSettings = Field(default_factory=DenoiserSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)

    @field_validator("compositions")
    @classmethod
    def _compositions(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                parse_composition(value)
            except InvalidComposition as exc:
                raise ValueError(f"composition {value!r}: {exc}") from None
        return values

    @field_validator("quench_K_per_ps")
    @classmethod
    def _rates(cls, values: list[float]) -> list[float]:
        if any(not 0 < v <= 10_000 for v in values):
            raise ValueError(f"quench rates must lie in (0, 10000] K/ps, got {values}")
        return values

    def recipes(self) -> list[GlassRecipe]:
        return [GlassRecipe(c, q, s, self.n_atoms, self.snapshots) for c in self.compositions
                for q in self.quench_K_per_ps for s in self.seeds]

    def heldout_recipes(self) -> list[GlassRecipe]:
        h = self.heldout
        return [GlassRecipe(c, q, s, self.n_atoms, self.snapshots) for c in h.compositions
                for q in h.quench_K_per_ps for s in h.seeds]


class StructureSpec(Spec):
    """Where an MD oracle's glass comes from (the oracle's `structure` settings): its own melt-quench, or a
    trained generator (`amala generator train`) followed by a relaxation and a short anneal."""

    source: Literal["melt_quench", "generator"] = "melt_quench"
    generator: Text | None = Field(None, description="an installed generator's name, or its folder")
    steps: Int = Field(DEFAULT_STEPS, ge=0, le=100_000, description="annealed denoising steps (then 50 pure denoising)")
    anneal_ps: Float = Field(5.0, ge=0, le=10_000, description="NVT at the hottest production temperature after "
                             "the relaxation, before the protocol's NPT equilibration")
    quench_K_per_ps: Float | None = Field(None, gt=0, description="the quench rate to condition on (default: the "
                                          "generator's training median)")

    @model_validator(mode="after")
    def _named(self) -> StructureSpec:
        if self.source == "generator" and not self.generator:
            raise ValueError("structure.generator: name the generator (amala generator list) when source is generator")
        return self

    @property
    def generated(self) -> bool:
        return self.source == "generator"

    @property
    def fidelity_suffix(self) -> str:
        """A generated start is another protocol: its results are stored beside, never over, the melt-quench's."""
        return "-generated" if self.generated else ""
