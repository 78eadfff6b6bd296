"""Proposes from a candidate library file (CSV or Parquet, up to ~10^6 repeat units) without listing it.

A library is too big to hand to the campaign as `Candidate`s (10^6 of them: ~1 GB of objects and an
RDKit canonicalisation each, every iteration). The agent instead hands over the file itself, as a
`LibraryRef` in `Proposal.sources`: the campaign (`loop/library_source.py`, `loop/shortlist.py`) scores it a chunk at a
time from its cached fingerprints and turns into candidates only the rows it shortlists (the top
`acquisition.prescreen` by upper confidence bound) or draws at random for the initial design.
Every such candidate records where it came from: `{"library": <file>, "row": <row number>}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from amala.agents.protocol import Agent, Proposal, ProposalContext
from amala.core.library import open_library
from amala.core.plugins import AgentSpec, Text
from amala.core.representations import Representation


class LibrarySpec(AgentSpec):
    """`path`: the library file (a `smiles` or `representation` column; see `core/library.py`)."""

    kind: Literal["library"] = "library"
    path: Text
    workers: int = 2  # processes that compute the fingerprint cache the first time


class LibraryAgent(Agent):
    Spec = LibrarySpec
    representations = (Representation.SMILES,)
    needs_dataset = False

    @classmethod
    def from_spec(cls, spec: LibrarySpec, pool=None, representation="smiles", workdir=None) -> LibraryAgent:
        return cls(spec.path, name=spec.name or "library", workers=spec.workers)

    def __init__(self, path: str | Path, name: str = "library", workers: int = 2):
        self.name = name
        library = open_library(path)  # a bad file fails now, in one line naming it
        self.ref = LibraryRef(library.path.resolve(), name, workers)

    def propose(self, context: ProposalContext, n: int | None = None) -> Proposal:
        return Proposal(sources=[self.ref])


@dataclass(frozen=True)
class LibraryRef:
    """A library file handed to the campaign: which file, which agent proposes its rows, and how many
    processes may build its fingerprint cache."""

    path: Path
    agent: str
    workers: int = 2


