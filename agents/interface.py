"""The agent interface: what an agent may know (`ProposalContext`) and what it does (`Agent`).

Agents import these from here, never from `registry`: the registry imports the agents (inside
`build_agent`), so an agent importing the registry would close a cycle.
"""

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
    objective: str = ""  # what is optimised, with its unit (for agents that read text, like an LLM)
    sign: float = 1.0  # evaluated objectives are 'higher is better'; sign * value is the natural value

    def rng(self, role: str) -> np.random.Generator:
        """A generator seeded by (campaign seed, iteration, role), as the architecture asks."""
        return np.random.default_rng([self.seed, self.iteration, sum(map(ord, role))])


class Agent(Protocol):
    name: str

    def propose(self, context: ProposalContext, n: int | None = None) -> list[Candidate]: ...
