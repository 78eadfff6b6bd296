"""Proposes every not-yet-seen member of a fixed library (a retrospective or virtual screen).

The library is the campaign's table: its repeat units (smiles campaigns), its formulations
(`polymer|salt|molality`, formulation campaigns, where the campaign builds the pool from the table's
`formulation` column) or its glass compositions (SciGlass, composition campaigns: the compositions with
the objective measured)."""

from __future__ import annotations

from typing import Literal

from amala.agents.protocol import Agent, Proposal, ProposalContext
from amala.core.candidate import Candidate
from amala.core.plugins import AgentSpec
from amala.core.representations import Representation


class PoolSpec(AgentSpec):
    """No quota: the pool agent proposes every unseen member (acquisition picks among them)."""

    kind: Literal["pool"] = "pool"


class PoolAgent(Agent):
    Spec = PoolSpec
    representations = (Representation.SMILES, Representation.FORMULATION, Representation.COMPOSITION)
    needs_dataset = True  # the pool is the dataset's molecules (formulations, compositions)

    @classmethod
    def from_spec(cls, spec: PoolSpec, pool=None, representation="smiles", workdir=None) -> PoolAgent:
        return cls(pool, name=spec.name or "pool", kind=representation)

    def __init__(self, representations: list[str], name: str = "pool", kind: str = "smiles"):
        self.name = name
        self._candidates = [Candidate(r, kind=kind, agent=name) for r in representations]

    def propose(self, context: ProposalContext, n: int | None = None) -> Proposal:
        fresh = [c for c in self._candidates if c.key not in context.known_keys]
        if n is not None and n < len(fresh):
            picks = context.rng(self.name).choice(len(fresh), size=n, replace=False)
            fresh = [fresh[i] for i in sorted(picks)]
        return Proposal(fresh)
