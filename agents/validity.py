"""The gate every generative agent's output passes: valid repeat unit, canonical, new.

Generators (mutation, GPT, an LLM) produce raw SMILES; most are fine, some are not. This filter
turns them into candidates with the one validity rule of `polymer.canonical_smiles` (RDKit
sanitisation, exactly one [Cu] and one [Au], each with a single bond), drops duplicates within
the proposal and against everything the campaign already knows, and counts each rejection by
reason, so a report can say how a generator is doing rather than just how many it gave.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable

from amala.agents.candidate import Candidate
from amala.agents.polymer import InvalidPolymer, canonical_smiles


class ProposalFilter:
    def __init__(self, known_keys: Iterable[str] = ()):
        self.known = set(known_keys)
        self.rejected: Counter[str] = Counter()

    def __call__(self, smiles: Iterable[str], agent: str, limit: int | None = None,
                 metadata: dict | None = None) -> list[Candidate]:
        accepted: list[Candidate] = []
        for raw in smiles:
            if limit is not None and len(accepted) >= limit:
                break
            try:
                candidate = Candidate(canonical_smiles(raw), kind="smiles", agent=agent, metadata=dict(metadata or {}))
            except InvalidPolymer as exc:
                self.rejected[exc.reason] += 1
                continue
            if candidate.key in self.known:
                self.rejected["already known"] += 1
                continue
            self.known.add(candidate.key)
            accepted.append(candidate)
        return accepted
