"""New formulations: a generator varies the polymer, the salt and its molality come from a configured set.

A laboratory chooses its salts from what it has (a handful of lithium salts at a few
concentrations); what it wants a generator for is the polymer. So this agent does not invent
salts: it asks an existing polymer generator (the RDKit `mutation` agent, or the `gpt` agent, with
their own settings under `polymers`) for new repeat units, starting from the polymers of the
campaign's best formulations (a polymer measured with several salts counts with its best result),
and pairs every new repeat unit with every entry of `salts`. The salts are checked when the config
is read, with `agents.formulation`'s one-line refusals, so a typo fails before any run.

Each formulation goes through the campaign's validity gate (`validity.ProposalFilter`, kind
"formulation") and carries its provenance: the generator that made the polymer, the parent polymer
(mutation; a GPT sample has none), and the salt entry it was paired with.
"""

from __future__ import annotations

import itertools
import math
from typing import Annotated, Literal, Union

from pydantic import Field, field_validator

from amala.agents.mutation import MutationAgent, MutationSpec
from amala.agents.protocol import Agent, Proposal, ProposalContext
from amala.agents.smiles_gpt import GPTAgent, GPTSpec
from amala.core.candidate import Candidate
from amala.core.formulation import SEPARATOR, canonical_salt, checked_molality
from amala.core.plugins import AgentSpec, Float, Quota, Spec, Text
from amala.core.representations import Representation
from amala.core.validity import ProposalFilter

LITFSI = "O=S(=O)([N-]S(=O)(=O)C(F)(F)F)C(F)(F)F.[Li+]"  # the most common salt in ChemArr and HTP-MD's only one


class SaltEntry(Spec):
    """One salt of the set, at one molality (mol/kg of polymer)."""

    salt: Text
    molality: Float = Field(..., description="mol/kg of polymer, > 0 and below agents.formulation.MAX_MOLALITY")

    @field_validator("salt")
    @classmethod
    def _salt(cls, value: str) -> str:
        return canonical_salt(value)  # InvalidFormulation (a ValueError): one line naming the salt and the rule

    @field_validator("molality")
    @classmethod
    def _molality(cls, value: float) -> float:
        return checked_molality(value)


PolymerGenerator = Annotated[Union[MutationSpec, GPTSpec], Field(discriminator="kind")]


class FormulationAgentSpec(AgentSpec):
    kind: Literal["formulation"] = "formulation"
    n: Quota = 64  # formulations per iteration (new polymers x salts)
    polymers: PolymerGenerator = Field(default_factory=MutationSpec, description="the agent that makes new "
                                       "repeat units (kind mutation or gpt, with its own settings; its n is unused)")
    salts: list[SaltEntry] = Field(default_factory=lambda: [SaltEntry(salt=LITFSI, molality=1.0)], min_length=1,
                                   max_length=64, description="every new polymer is paired with each entry")


GENERATORS = {"mutation": MutationAgent, "gpt": GPTAgent}


class FormulationAgent(Agent):
    Spec = FormulationAgentSpec
    representations = (Representation.FORMULATION,)
    needs_dataset = True  # the table's polymers seed the generator (and pre-train the GPT)

    @classmethod
    def from_spec(cls, spec: FormulationAgentSpec, pool=None, representation="formulation",
                  workdir=None) -> FormulationAgent:
        name = spec.name or "formulation"
        polymers = list(dict.fromkeys(text.split(SEPARATOR)[0] for text in pool or []))  # canonical strings
        inner = spec.polymers.model_copy(update={"name": spec.polymers.name or f"{name}-{spec.polymers.kind}"})
        generator = GENERATORS[inner.kind].from_spec(inner, pool=polymers, representation="smiles", workdir=workdir)
        return cls(generator, [(entry.salt, entry.molality) for entry in spec.salts], n=spec.n, name=name)

    def __init__(self, generator, salts: list[tuple[str, float]], n: int = 64, name: str = "formulation"):
        self.generator, self.salts, self.n, self.name = generator, list(salts), n, name

    def propose(self, context: ProposalContext, n: int | None = None) -> Proposal:
        wanted = n or self.n
        polymers = self.generator.propose(self._polymer_context(context), math.ceil(wanted / len(self.salts)))
        gate = ProposalFilter(context.known_keys, Representation.FORMULATION)
        found: list[Candidate] = []
        for polymer, (index, (salt, molality)) in itertools.product(polymers.candidates, enumerate(self.salts)):
            if len(found) >= wanted:
                break
            metadata = {"polymer_agent": polymer.agent, "parent": polymer.metadata.get("parent"),
                        "operator": polymer.metadata.get("operator"), "salt_entry": index}
            text = SEPARATOR.join((polymer.representation, salt, f"{molality:.4g}"))
            found += gate([text], self.name, metadata=metadata)
        event = ("info", f"{self.name}: {len(polymers.candidates)} new polymer(s) x {len(self.salts)} salt(s) -> "
                         f"{len(found)} formulation(s); rejected by reason {dict(gate.rejected) or 'none'}")
        return Proposal(found, [*polymers.events, event], polymers.model_version)

    @staticmethod
    def _polymer_context(context: ProposalContext) -> ProposalContext:
        """The campaign's history as the polymer generator reads it: each evaluated polymer once, with the
        best objective of its formulations (higher is better), as a smiles candidate."""
        best: dict[str, float] = {}
        for candidate, value in context.evaluated:
            if candidate.kind == Representation.FORMULATION:
                polymer = candidate.representation.split(SEPARATOR)[0]
                best[polymer] = max(value, best.get(polymer, -math.inf))
        evaluated = [(Candidate(polymer, kind="smiles", agent="campaign"), value) for polymer, value in best.items()]
        return ProposalContext(iteration=context.iteration, seed=context.seed, evaluated=evaluated,
                               objective=context.objective, sign=context.sign)
