"""A language model as one more proposer, on equal terms with the others.

The model gets the campaign's context - the objective with its unit, the best and worst evaluated
candidates with their values, the rules a valid candidate follows, examples - and must answer with
strict JSON: {"candidates": ["...", ...]}. Its answer is untrusted text: anything else (prose, a
refusal, a truncated object, wrong types) gives zero candidates and an event saying why, never an
exception. Accepted strings then pass the same gate as every generator's output (validity, canonical
form, bounds, dedup against the campaign), capped in count and length. Each candidate records the
backend, the model, and SHA-256 hashes of the prompt and the raw answer, so a surprising proposal
can be traced to the exact exchange without storing either.

The answer is redacted (`amala.core.redaction`) before anything is parsed or quoted from it: an
endpoint that echoes the request would otherwise put the API key into the refusal quoted in an
event, and from there into the database and the report. Events and provenance are redacted again
on the way out, whatever their origin.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Literal

from pydantic import Field, model_validator

from amala.agents.llm_backends import LLMUnavailable
from amala.agents.protocol import Agent, Proposal, ProposalContext
from amala.core.plugins import AgentSpec, Bounds, Float, HttpUrl, Int, Quota, Text
from amala.core.redaction import redact, redact_data
from amala.core.representations import Representation
from amala.core.validity import ProposalFilter

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


class LLMSpec(AgentSpec):
    kind: Literal["llm"] = "llm"
    n: Quota = 64
    bounds: Bounds | None = None  # composition campaigns: mole-fraction range per oxide (required there)
    backend: Literal["openai", "local"] = Field("openai", description="an OpenAI-compatible chat-completions "
                                                "endpoint, or a local transformers causal LM")
    url: HttpUrl | None = Field(None, description="openai: base URL, e.g. https://api.openai.com/v1")
    model: Text | None = Field(None, description="openai: model name")
    api_key_env: str = Field("OPENAI_API_KEY", pattern=r"^([A-Za-z_][A-Za-z0-9_]{0,127})?$",
                             description="openai: environment variable holding the key (the key itself never goes "
                             "in a config)")
    path: Text | None = Field(None, description="local: folder of a transformers causal LM")
    timeout_seconds: Float = Field(60.0, gt=0, le=3600, description="how long to wait for an answer (at most an "
                                   "hour: an iteration waits for it)")
    temperature: Float = Field(0.7, ge=0, le=2)
    max_new_tokens: Int = Field(512, ge=16, le=8192, description="local: answer length")

    @model_validator(mode="after")
    def _backend(self):
        if self.backend == "openai" and not (self.url and self.model):
            raise ValueError("agents[]: an llm agent with backend openai needs url and model")
        if self.backend == "local" and not self.path:
            raise ValueError("agents[]: an llm agent with backend local needs path (a transformers model folder)")
        return self

    def composition_bounds(self) -> dict[str, tuple[float, float]]:
        return self.bounds or {}

    def local_folders(self) -> dict[str, str | None]:
        return {"path": self.path} if self.backend == "local" else {}


class LLMAgent(Agent):
    Spec = LLMSpec
    representations = (Representation.SMILES, Representation.COMPOSITION)
    needs_dataset = False  # the dataset, when there is one, only gives example candidates

    @classmethod
    def from_spec(cls, spec: LLMSpec, pool=None, representation="smiles", workdir=None) -> LLMAgent:
        from amala.agents.llm_backends import ChatCompletions, LocalCausalLM

        if spec.backend == "openai":
            backend = ChatCompletions(spec.url, spec.model, spec.api_key_env, spec.timeout_seconds, spec.temperature)
        else:
            backend = LocalCausalLM(spec.path, spec.max_new_tokens, spec.temperature)
        return cls(backend, kind=representation, n=spec.n, bounds=spec.bounds, examples=(pool or [])[:3],
                   name=spec.name or "llm")

    def __init__(self, backend, kind: str = "smiles", n: int = 10, bounds: dict | None = None,
                 examples: list[str] | None = None, name: str = "llm"):
        self.backend, self.kind, self.n, self.bounds, self.name = backend, kind, n, bounds or {}, name
        self.examples = list(examples or [])[:5]

    def prompt(self, context: ProposalContext, n: int) -> list[dict]:
        ranked = sorted(context.evaluated, key=lambda pair: pair[1], reverse=True)
        def show(pairs) -> str:
            return "\n".join(f"- {c.representation}: {context.sign * y:.4g}" for c, y in pairs) or "- none yet"

        rules = RULES[self.kind]
        if self.kind == Representation.COMPOSITION and self.bounds:
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

    def propose(self, context: ProposalContext, n: int | None = None) -> Proposal:
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
        gate = ProposalFilter(context.known_keys, self.kind, self.bounds, max_chars=MAX_CHARS)
        accepted = gate(texts[: 3 * wanted], self.name, limit=wanted, metadata=provenance)
        refused = {text[:60]: why for text, why in gate.refused.items()}
        return Proposal(accepted, [self._event(
            "info" if accepted else "warning",
            f"{self.name}: {len(texts)} suggested, {len(accepted)} accepted, {len(refused)} refused"
            + (f" (e.g. {next(iter(refused.values()))})" if refused else ""))])

    def _none(self, why: str) -> Proposal:
        return Proposal([], [self._event("warning", f"{self.name}: {why}; no candidates this iteration")])

    def _event(self, level: str, message: str) -> tuple[str, str]:
        """An event for the campaign's log: redacted, one line."""
        return level, " ".join(redact(message, self._secrets()).split())

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
