"""The map from config names to agent classes (`build_agent`). The interface every agent meets is
in `interface`; it is re-exported here for code that still imports it from the registry."""

from __future__ import annotations

from pathlib import Path

from amala.agents.interface import Agent, ProposalContext

__all__ = ["Agent", "ProposalContext", "build_agent"]


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
