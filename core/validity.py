"""The gate every candidate from outside the campaign's own code passes: valid, canonical, new.

Generators (mutation, GPT, an LLM) produce raw text, and so does a person adding candidates to a
batch; most is fine, some is not. `ProposalFilter` is the one loop that turns such text into
candidates with the validity rules of `polymer.canonical_smiles` (RDKit sanitisation, exactly one
[Cu] and one [Au], each with a single bond), `composition.composition_within` (bounds) or
`formulation.canonical_formulation` (a repeat unit, a balanced lithium salt, a molality), drops
duplicates within the proposal and against everything the campaign already knows, and keeps each
refusal with its reason (and a count per kind of reason), so a report can say how a generator is
doing rather than just how many it gave, and a person sees why an addition was refused.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable

from amala.core.candidate import Candidate
from amala.core.composition import composition_within
from amala.core.formulation import InvalidFormulation, canonical_formulation
from amala.core.polymer import InvalidPolymer, canonical_smiles
from amala.core.representations import Representation


class InvalidText(ValueError):
    """Text that is not a representation at all (not text, empty, far too long); `reason` names
    the kind of problem, as `InvalidPolymer.reason` does, for counting rejections."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def candidate_from_text(text: str, kind: str, agent: str, bounds: dict | None = None,
                        metadata: dict | None = None) -> Candidate:
    """One hand-written (approval form) or model-written (LLM) representation as a canonical
    candidate, judged by the same rules as every agent's output; a ValueError says why not, in
    one line that names the candidate (`polymer`, `composition` and `formulation` list the rules)."""
    if not isinstance(text, str):
        raise InvalidText(f"candidate of type {type(text).__name__}: a representation is text", "not text")
    if not text.strip():
        raise InvalidText(f"empty representation {text[:20]!r}", "empty")
    if len(text) > 500:
        raise InvalidText(f"candidate {text[:40]!r}...: {len(text)} characters (at most 500)", "too long")
    if kind == Representation.SMILES:
        representation = canonical_smiles(text)
    elif kind == Representation.COMPOSITION:
        representation = composition_within(text, bounds or {})
    elif kind == Representation.FORMULATION:
        representation = canonical_formulation(text)
    else:
        raise ValueError(f"unknown representation kind {kind!r}")
    return Candidate(representation, kind=kind, agent=agent, metadata=dict(metadata or {}))


REASONED = (InvalidPolymer, InvalidFormulation, InvalidText)  # refusals that say what kind of problem they are


class ProposalFilter:
    """Text -> new canonical candidates, refusing the rest with a reason. One filter per proposal
    (or per list of additions): what it accepts becomes known, so a repeat is refused too.

    `kind` and `bounds` are the campaign's representation and composition bounds; `max_chars`
    refuses longer text before parsing (never truncated: a cut string may parse as another
    molecule); `already` is the reason given for a candidate the campaign already has."""

    def __init__(self, known_keys: Iterable[str] = (), kind: str = "smiles", bounds: dict | None = None,
                 max_chars: int | None = None, already: str = "already known"):
        self.known = set(known_keys)
        self.kind, self.bounds, self.max_chars, self.already = kind, bounds, max_chars, already
        self.rejected: Counter[str] = Counter()  # kind of reason -> count
        self.refused: dict[str, str] = {}  # text -> why (one line), in the order first refused

    def __call__(self, texts: Iterable[str], agent: str, limit: int | None = None,
                 metadata: dict | None = None) -> list[Candidate]:
        """The accepted candidates, at most `limit` (text after the limit is not looked at)."""
        accepted: list[Candidate] = []
        for text in texts:
            if limit is not None and len(accepted) >= limit:
                break
            try:
                if self.max_chars is not None and isinstance(text, str) and len(text) > self.max_chars:
                    raise InvalidText(f"longer than {self.max_chars} characters", "too long")
                candidate = candidate_from_text(text, self.kind, agent, self.bounds, metadata)
            except ValueError as exc:
                self.refuse(text, str(exc), exc.reason if isinstance(exc, REASONED) else "invalid")
                continue
            if candidate.key in self.known:
                self.refuse(text, self.already, "already known")
                continue
            self.known.add(candidate.key)
            accepted.append(candidate)
        return accepted

    def refuse(self, text: str, why: str, reason: str) -> None:
        """Count a refusal by its kind of reason and keep why (a generator's own failures too)."""
        self.rejected[reason] += 1
        self.refused[text] = why
