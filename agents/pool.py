"""Proposes every not-yet-seen member of a fixed library (a retrospective or virtual screen)."""

from __future__ import annotations

from amala.agents.candidate import Candidate
from amala.agents.interface import ProposalContext


class PoolAgent:
    def __init__(self, representations: list[str], name: str = "pool", kind: str = "smiles"):
        self.name = name
        self._candidates = [Candidate(r, kind=kind, agent=name) for r in representations]

    def propose(self, context: ProposalContext, n: int | None = None) -> list[Candidate]:
        fresh = [c for c in self._candidates if c.key not in context.known_keys]
        if n is not None and n < len(fresh):
            picks = context.rng(self.name).choice(len(fresh), size=n, replace=False)
            fresh = [fresh[i] for i in sorted(picks)]
        return fresh
