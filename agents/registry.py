"""The agent interface and the map from config names to agent classes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from amala.agents.candidate import Candidate


@dataclass
class ProposalContext:
    """What an agent may know: the campaign's history, never the store itself."""

    iteration: int
    seed: int
    known_keys: set[str] = field(default_factory=set)  # proposed or evaluated already
    evaluated: list[tuple[Candidate, float]] = field(default_factory=list)  # (candidate, objective)

    def rng(self, role: str) -> np.random.Generator:
        """A generator seeded by (campaign seed, iteration, role), as the architecture asks."""
        return np.random.default_rng([self.seed, self.iteration, sum(map(ord, role))])


class Agent(Protocol):
    name: str

    def propose(self, context: ProposalContext, n: int | None = None) -> list[Candidate]: ...


def build_agent(spec, pool: list[str] | None = None) -> Agent:
    """Instantiate the agent a config entry names (`spec.kind`)."""
    from amala.agents.composition_sampler import CompositionSampler
    from amala.agents.pool import PoolAgent

    if spec.kind == "composition":
        return CompositionSampler(spec.bounds, n=spec.n, step=spec.step, name=spec.name or "composition")
    if spec.kind in ("pool", "mutation", "gpt") and pool is None:
        raise ValueError(f"agents[].kind={spec.kind} needs a dataset (data.dataset or data.path)")
    if spec.kind == "pool":
        return PoolAgent(pool, name=spec.name or "pool")
    if spec.kind == "mutation":
        from amala.agents.mutation import MutationAgent

        return MutationAgent(seeds=pool, n=spec.n, name=spec.name or "mutation")
    if spec.kind == "gpt":
        from amala.agents.smiles_gpt import GPTAgent, pretrained

        return GPTAgent(pretrained(pool, spec.checkpoint, spec.epochs), n=spec.n, condition=spec.condition,
                        finetune_steps=spec.finetune_steps, name=spec.name or "gpt")
    raise ValueError(f"agents[].kind: unknown agent {spec.kind!r}")
