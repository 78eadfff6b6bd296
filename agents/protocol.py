"""The agent interface: what an agent may know (`ProposalContext`), what it gives back
(`Proposal`) and what it does (`Agent`).

Everything an agent has to tell the campaign comes back in the `Proposal`: candidates, events for
the log (an LLM's refusal, a generator's rejection counts) and, when it has retrained, the model
version behind the candidates. The campaign never reads or writes other attributes of an agent,
so a new agent is one class with one method, and nothing is logged or recorded twice.

`Agent` also declares what the config reads off an agent's class before any agent exists: its
settings model (`Spec`), its constructor from them (`from_spec`), the representations it proposes
and whether it needs the campaign's dataset. Agent classes subclass `Agent` and so inherit the
defaults of what they do not declare.

Agents import these from here, never from `registry`: the registry imports the agents (inside
`build_agent`), so an agent importing the registry would close a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Protocol

import numpy as np

from amala.core import seeding
from amala.core.candidate import Candidate
from amala.core.plugins import AgentSpec
from amala.core.representations import Representation


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
        return seeding.rng(self.seed, self.iteration, role)


@dataclass
class Proposal:
    """One call's answer. `model_version` is set only on the call that first uses new weights (a
    pre-trained or fine-tuned generator), so the campaign stores each model version once."""

    candidates: list[Candidate] = field(default_factory=list)
    events: list[tuple[str, str]] = field(default_factory=list)  # (level, one-line message) for the campaign log
    model_version: dict | None = None
    # candidate sets too large to list (a library file: `agents.library_pool.LibraryRef`), which the
    # campaign scores in chunks and shortlists instead of receiving one `Candidate` per row
    sources: list = field(default_factory=list)


class Agent(Protocol):
    name: str
    Spec: ClassVar[type[AgentSpec]]  # its settings: `kind: Literal["..."]` and its own fields
    representations: ClassVar[tuple[Representation, ...]]  # what it proposes
    # True when it reads the campaign's table (a pool, seeds, pre-training): a config without data is refused
    needs_dataset: ClassVar[bool] = False

    @classmethod
    def from_spec(cls, spec: AgentSpec, pool: list[str] | None = None, representation: str = Representation.SMILES,
                  workdir=None) -> "Agent":
        """The agent a config entry describes; `pool`: the dataset's candidates (None without data)."""
        ...

    def propose(self, context: ProposalContext, n: int | None = None) -> Proposal: ...
