"""The map from config names to agent classes (`AGENTS`, `build_agent`). The interface every agent
meets is in `protocol`; it is re-exported here for code that still imports it from the registry.

Each kind's class carries its settings (`Spec`), its capabilities (`representations`,
`needs_dataset`, as declared on `Agent`) and `from_spec`; the classes are imported on first use, so
importing this module loads no generator (torch, RDKit)."""

from __future__ import annotations

from amala.agents.protocol import Agent, ProposalContext
from amala.core.plugins import Registry
from amala.core.representations import Representation

__all__ = ["AGENTS", "Agent", "ProposalContext", "build_agent"]

AGENTS = Registry("agent", "amala.agents", {
    "pool": "amala.agents.pool:PoolAgent",
    "library": "amala.agents.library_pool:LibraryAgent",
    "composition": "amala.agents.composition_sampler:CompositionSampler",
    "glass_prior": "amala.agents.glass_prior:GlassPriorAgent",
    "mutation": "amala.agents.mutation:MutationAgent",
    "gpt": "amala.agents.smiles_gpt:GPTAgent",
    "llm": "amala.agents.llm_agent:LLMAgent",
    "formulation": "amala.agents.formulation_agent:FormulationAgent",
})


def build_agent(spec, pool: list[str] | None = None, representation: str = Representation.SMILES,
                workdir=None) -> Agent:
    """Instantiate the agent a config entry names (`spec.kind`)."""
    cls = AGENTS[spec.kind]
    if cls.needs_dataset and pool is None:
        raise ValueError(f"agents[].kind={spec.kind} needs a dataset (data.dataset or data.path)")
    return cls.from_spec(spec, pool=pool, representation=representation, workdir=workdir)
