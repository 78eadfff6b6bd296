"""A language model as one more proposer, on equal terms with the others.

The model gets the campaign's context - the objective with its unit, the best and worst evaluated
candidates with their values, the rules a valid candidate follows, examples - and must answer with
strict JSON: {"candidates": ["...", ...]}. Its answer is untrusted text: anything else (prose, a
refusal, a truncated object, wrong types) gives zero candidates and an event saying why, never an
exception. Accepted strings then pass the same gate as every generator's output (validity, canonical
form, bounds, dedup against the campaign), capped in count and length. Each candidate records the
backend, the model, and SHA-256 hashes of the prompt and the raw answer, so a surprising proposal
can be traced to the exact exchange without storing either.

The answer is redacted (`amala.agents.redaction`) before anything is parsed or quoted from it: an
endpoint that echoes the request would otherwise put the API key into the refusal quoted in an
event, and from there into the database and the report. Events and provenance are redacted again
on the way out, whatever their origin.
"""

from __future__ import annotations

import hashlib
import json
import re

from amala.agents.candidate import Candidate
from amala.agents.llm_backends import LLMUnavailable
from amala.agents.interface import ProposalContext
from amala.agents.validity import candidate_from_text
from amala.agents.redaction import redact, redact_data

MAX_CHARS = 300  # longer strings are not repeat units or compositions anyone should simulate
MAX_ANSWER = 100_000  # characters of a whole answer worth parsing
FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)

RULES = {
    "smiles": ("Each candidate is the repeat unit of a polymer as a SMILES string with exactly one [Cu] and one "
               "[Au] atom marking the two ends where the chain continues, each with a single bond "
               "(e.g. [Cu]CCO[Au] is poly(ethylene oxide))."),
    "composition": ("Each candidate is an oxide glass composition written as component:mole-fraction pairs "
                    "separated by semicolons, fractions summing to 1 (e.g. Li2O:0.3;SiO2:0.7)."),
}


class LLMAgent:
    def __init__(self, backend, kind: str = "smiles", n: int = 10, bounds: dict | None = None,
                 examples: list[str] | None = None, name: str = "llm"):
        self.backend, self.kind, self.n, self.bounds, self.name = backend, kind, n, bounds or {}, name
        self.examples = list(examples or [])[:5]
        self.events: list[tuple[str, str]] = []  # (level, message), logged by the campaign

    def prompt(self, context: ProposalContext, n: int) -> list[dict]:
        ranked = sorted(context.evaluated, key=lambda pair: pair[1], reverse=True)
        show = lambda pairs: "\n".join(f"- {c.representation}: {context.sign * y:.4g}" for c, y in pairs) or "- none yet"
        rules = RULES[self.kind]
        if self.kind == "composition" and self.bounds:
            rules += " Allowed mole-fraction ranges: " + ", ".join(
                f"{k} {lo:g}-{hi:g}" for k, (lo, hi) in sorted(self.bounds.items())) + "."
        examples = self.examples or [c.representation for c, _ in ranked[:3]]
        user = (f"Objective: {context.objective or 'maximise the property'}.\n"
                f"Best evaluated so far (value):\n{show(ranked[:10])}\n"
                f"Worst evaluated so far (value):\n{show(ranked[-5:] if len(ranked) > 10 else [])}\n"
                f"Rules: {rules}\nExamples of valid candidates: {', '.join(examples) or 'see the rules'}\n"
                f"Propose {n} new candidates, different from all of the above, likely to do better.\n"
                'Answer with JSON only, exactly of the form {"candidates": ["...", "..."]}.')
        system = ("You are a materials chemist proposing battery electrolyte candidates for an active-learning "
                  "campaign. You answer with strict JSON and nothing else.")
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def propose(self, context: ProposalContext, n: int | None = None) -> list[Candidate]:
        wanted = n or self.n
        messages = self.prompt(context, wanted)
        prompt_hash = _sha256(json.dumps(messages, sort_keys=True))
        try:
            raw = self.backend.complete(messages, seed=context.iteration)
        except LLMUnavailable as exc:
            return self._none(f"no answer: {exc}")
        response_hash = _sha256(raw) if isinstance(raw, str) else None
        raw = redact(raw, self._secrets())  # before anything is parsed, quoted or stored
        try:
            texts = parse_answer(raw)
        except ValueError as exc:
            return self._none(f"answer rejected: {exc}")
        provenance = redact_data({**self.backend.describe(), "prompt_sha256": prompt_hash,
                                  "response_sha256": response_hash}, self._secrets())
        accepted, refused = [], {}
        known = set(context.known_keys)
        for text in texts[: 3 * wanted]:
            if len(text) > MAX_CHARS:  # never truncate: a cut string may parse as a different molecule
                refused[text[:60]] = f"longer than {MAX_CHARS} characters"
                continue
            try:
                candidate = candidate_from_text(text, self.kind, self.name, self.bounds, provenance)
            except ValueError as exc:
                refused[text[:60]] = str(exc)
                continue
            if candidate.key in known:
                refused[text[:60]] = "already known"
                continue
            known.add(candidate.key)
            accepted.append(candidate)
            if len(accepted) == wanted:
                break
        self._event("info" if accepted else "warning",
                    f"{self.name}: {len(texts)} suggested, {len(accepted)} accepted, {len(refused)} refused"
                    + (f" (e.g. {next(iter(refused.values()))})" if refused else ""))
        return accepted

    def _none(self, why: str) -> list[Candidate]:
        self._event("warning", f"{self.name}: {why}; no candidates this iteration")
        return []

    def _event(self, level: str, message: str) -> None:
        """Queue an event for the campaign's log: redacted, one line."""
        self.events.append((level, " ".join(redact(message, self._secrets()).split())))

    def _secrets(self) -> list[str]:
        secrets = getattr(self.backend, "secrets", None)
        return list(secrets()) if callable(secrets) else []


def parse_answer(raw: str) -> list[str]:
    """The candidate strings of a strict {"candidates": [str, ...]} answer (one ```json fence allowed)."""
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError("empty answer")
    if len(raw) > MAX_ANSWER:
        raise ValueError(f"answer of {len(raw)} characters (at most {MAX_ANSWER})")
    fenced = FENCE.match(raw)
    try:
        data = json.loads(fenced.group(1) if fenced else raw)
    except json.JSONDecodeError:
        raise ValueError(f"not JSON ({raw.strip()[:60]!r}...)") from None
    if not isinstance(data, dict) or set(data) != {"candidates"} or not isinstance(data["candidates"], list):
        raise ValueError('expected exactly {"candidates": [...]}')
    if not all(isinstance(t, str) for t in data["candidates"]):
        raise ValueError("every candidate must be a string")
    return [t.strip() for t in data["candidates"]]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
