"""The README's "Adding a plug-in" example, run: a new oracle kind is one module (its settings model
and its class, here in this file) plus one registry line, and a campaign config can then name it."""

from __future__ import annotations

import math
import time
from typing import Literal, Sequence

import pytest
from pydantic import Field

from amala.core.candidate import Candidate
from amala.core.evaluation import Evaluation, Measurement
from amala.core.plugins import Float
from amala.core.representations import Representation
from amala.loop.campaign import Campaign
from amala.loop.config import ConfigError, load_plugins, parse_config
from amala.loop.store import Store
from amala.oracles.protocol import Oracle
from amala.oracles.registry import ORACLES, OracleSpec


# --- the module: settings next to the class ----------------------------------------------------
class ChainLengthSpec(OracleSpec):
    kind: Literal["chain_length"] = "chain_length"
    scale: Float = Field(10.0, gt=0, description="characters per decade of conductivity")


class ChainLengthOracle(Oracle):
    """A toy: longer repeat units conduct worse (10^(-len/scale) S/cm). Never raises for a bad candidate."""

    Spec = ChainLengthSpec
    representations = (Representation.SMILES,)
    needs_dataset = False
    mode = "per_candidate"
    fidelity = "toy"
    units = {"conductivity": "S/cm"}

    def __init__(self, scale: float, name: str = "chain_length"):
        self.scale, self.name = scale, name

    @classmethod
    def from_spec(cls, spec: ChainLengthSpec, table=None, workdir=None, seed: int = 0) -> ChainLengthOracle:
        return cls(spec.scale, name=spec.name or "chain_length")

    def evaluate(self, candidates: Sequence[Candidate]) -> list[Evaluation]:
        out = []
        for c in candidates:
            start = time.perf_counter()
            if "[Cu]" not in c.representation:
                out.append(Evaluation.failed(c.key, self.name, self.fidelity, "no [Cu] end marker"))
                continue
            value = Measurement(10 ** (-len(c.representation) / self.scale), "S/cm", 0.0)
            out.append(Evaluation(c.key, self.name, self.fidelity, "ok", values={"conductivity": value},
                                  cost_seconds=time.perf_counter() - start))
        return out


@pytest.fixture
def registered():
    ORACLES.register("chain_length", ChainLengthOracle)  # the one registry line
    yield
    ORACLES.unregister("chain_length")
    load_plugins()  # the config model forgets the kind again


def test_a_new_oracle_kind_is_one_module_and_one_registry_line(registered, synthetic_table):
    config = parse_config({"name": "toy", "oracle": {"kind": "chain_length", "scale": 20},
                           "budget": {"initial": 6, "max_evaluations": 12},
                           "acquisition": {"strategy": "greedy", "batch_size": 3}})
    with pytest.raises(ConfigError, match="oracle.profile: not a setting of oracle kind 'chain_length'"):
        parse_config({"name": "toy", "oracle": {"kind": "chain_length", "profile": "quick"}})
    campaign = Campaign(config, store=Store("sqlite://"), table=synthetic_table)
    while campaign.stop_reason() is None:
        campaign.step()
    rows = campaign.store.evaluations(campaign.id)
    assert len(rows) == 12 and all(e.oracle == "chain_length" and e.status == "ok" for _, e in rows)
    shortest = min(len(c.representation) for c, _ in rows)
    assert campaign.best() == pytest.approx(math.log10(10 ** (-shortest / 20)))


def test_an_unregistered_kind_names_the_known_ones():
    with pytest.raises(ConfigError, match=r"oracle.kind: unknown oracle kind 'chain_length' \(known: emulator, "
                                          r"formulation_lookup, glass_lookup, lookup, md, mlip, queue\)"):
        parse_config({"name": "toy", "oracle": {"kind": "chain_length"}})


def test_a_class_registered_under_another_kind_is_refused_in_one_line():
    """The config's union dispatches on `Spec.kind`: a class registered under a name its Spec does not
    carry would never be chosen, so the registry says so when the kind is first used."""
    ORACLES.register("chain", ChainLengthOracle)
    try:
        with pytest.raises(ValueError, match=r"^oracle kind 'chain': its class ChainLengthOracle needs a `Spec` "
                                             r"whose `kind` is Literal\['chain'\] \(got 'chain_length'\)$"):
            ORACLES["chain"]
    finally:
        ORACLES.unregister("chain")
