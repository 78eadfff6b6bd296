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
from amala.agents.composition import composition_within
from amala.agents.polymer import InvalidPolymer, canonical_smiles


def candidate_from_text(text: str, kind: str, agent: str, bounds: dict | None = None,
                        metadata: dict | None = None) -> Candidate:
    """One hand-written (approval form) or model-written (LLM) representation as a canonical
    candidate, judged by the same rules as every agent's output; a ValueError says why not, in
    one line that names the candidate (`polymer` and `composition` list the rules)."""
    if not isinstance(text, str):
        raise ValueError(f"candidate of type {type(text).__name__}: a representation is text")
    if not text.strip():
        raise ValueError(f"empty representation {text[:20]!r}")
    if len(text) > 500:
        raise ValueError(f"candidate {text[:40]!r}...: {len(text)} characters (at most 500)")
    if kind == "smiles":
        representation = canonical_smiles(text)
    elif kind == "composition":
        representation = composition_within(text, bounds or {})
    else:
        raise ValueError(f"unknown representation kind {kind!r}")
    return Candidate(representation, kind=kind, agent=agent, metadata=dict(metadata or {}))


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
