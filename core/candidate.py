"""A candidate material: one canonical representation, a stable id, and who proposed it.

The id is a hash of the canonical representation, so the same polymer proposed twice (by two
agents, or after a resume) is recognised as the same candidate everywhere in the system.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


def candidate_key(kind: str, representation: str) -> str:
    """Stable 16-hex-digit id of a canonical representation."""
    return hashlib.sha1(f"{kind}:{representation}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Candidate:
    """`representation` must already be canonical (see `amala.core.polymer.canonical_smiles`)."""

    representation: str
    kind: str = "smiles"
    agent: str = "unknown"
    metadata: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> str:
        return candidate_key(self.kind, self.representation)
