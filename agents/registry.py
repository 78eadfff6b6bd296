"""The agent interface and the map from config names to agent classes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from amala.agents.candidate import Candidate


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
        return np.random.default_rng([self.seed, self.iteration, sum(map(ord, role))])


class Agent(Protocol):
    name: str

    def propose(self, context: ProposalContext, n: int | None = None) -> list[Candidate]: ...


def build_agent(spec, pool: list[str] | None = None, representation: str = "smiles", workdir=None) -> Agent:
    """Instantiate the agent a config entry names (`spec.kind`)."""
    from amala.agents.composition_sampler import CompositionSampler
    from amala.agents.pool import PoolAgent

    if spec.kind == "composition":
        return CompositionSampler(spec.bounds, n=spec.n, step=spec.step, name=spec.name or "composition")
    if spec.kind in ("pool", "mutation", "gpt") and pool is None:
        raise ValueError(f"agents[].kind={spec.kind} needs a dataset (data.dataset or data.path)")
    if spec.kind == "pool":
        return PoolAgent(pool, name=spec.name or "pool")
    if spec.kind == "mutation":
        from amala.agents.mutation import MutationAgent

        return MutationAgent(seeds=pool, n=spec.n, name=spec.name or "mutation")
    if spec.kind == "gpt":
        from amala.agents.smiles_gpt import GPTAgent, pretrained

        name = spec.name or "gpt"
        folder = None if workdir is None else Path(workdir) / "checkpoints" / name
        base = spec.checkpoint or (None if folder is None else folder / "pretrained")  # a resume reuses it
        return GPTAgent(pretrained(pool, base, spec.epochs), n=spec.n, condition=spec.condition,
                        finetune_steps=spec.finetune_steps, name=name, checkpoints=folder,
                        base={"checkpoint": None if base is None else str(base), "n_train": len(pool),
                              "epochs": spec.epochs})
    if spec.kind == "llm":
        from amala.agents.llm_agent import LLMAgent
        from amala.agents.llm_backends import ChatCompletions, LocalCausalLM

        if spec.backend == "openai":
            backend = ChatCompletions(spec.url, spec.model, spec.api_key_env, spec.timeout_seconds, spec.temperature)
        else:
            backend = LocalCausalLM(spec.path, spec.max_new_tokens, spec.temperature)
        return LLMAgent(backend, kind=representation, n=spec.n, bounds=spec.bounds,
                        examples=(pool or [])[:3], name=spec.name or "llm")
    raise ValueError(f"agents[].kind: unknown agent {spec.kind!r}")
