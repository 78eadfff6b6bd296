"""The oracle interface and the map from config names to oracle classes."""

from __future__ import annotations

from typing import Protocol, Sequence

from amala.agents.candidate import Candidate
from amala.oracles.evaluation import Evaluation


class TransientOracleError(RuntimeError):
    """Raised (never for a bad candidate) when a retry may succeed: a busy queue, a lost node."""


class Oracle(Protocol):
    name: str
    fidelity: str
    units: dict[str, str]  # property -> unit of what `evaluate` returns

    def evaluate(self, candidates: Sequence[Candidate]) -> list[Evaluation]: ...


def build_oracle(spec, table=None, workdir=None, seed: int = 0) -> Oracle:
    from amala.oracles.glass_md_oracle import GlassMDOracle
    from amala.oracles.lookup import LookupOracle

    if spec.kind == "md":  # one candidate per call: the flow's task runner runs simulations side by side
        return GlassMDOracle(workdir, profile=spec.profile, density_g_cm3=spec.density_g_cm3, seed=seed,
                             name=spec.name or "lammps-pedone")
    if spec.kind == "queue":
        from amala.oracles.queue import QueueOracle

        units = spec.units
        if units is None:
            known = table.units if table is not None else GlassMDOracle.units
            units = {p: known[p] for p in (spec.properties or known) if p in known}
            missing = sorted(set(spec.properties or ()) - set(units))
            if missing:
                raise ValueError(f"oracle.units: give the units of {missing} (not known from the dataset)")
        give_up = None if spec.give_up_hours is None else spec.give_up_hours * 3600
        return QueueOracle(workdir, units, name=spec.name or "queue", wait_seconds=spec.wait_seconds,
                           poll_seconds=spec.poll_seconds, give_up_seconds=give_up)
    if spec.kind == "emulator":
        if table is None:
            raise ValueError("oracle.kind=emulator needs a dataset to learn from (data.dataset or data.path)")
        from amala.oracles.emulator import EmulatorOracle

        return EmulatorOracle(table, properties=spec.properties, name=spec.name or "emulator", seed=seed)
    if spec.kind == "lookup":
        if table is None:
            raise ValueError("oracle.kind=lookup needs a dataset (data.dataset or data.path)")
        return LookupOracle(table, properties=spec.properties, name=spec.name or "lookup")
    raise ValueError(f"oracle.kind: unknown oracle {spec.kind!r}")
