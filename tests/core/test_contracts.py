"""What every registered plug-in kind promises, checked over the registries (not a hand-kept list),
so a new kind is held to the same contract the day it is registered.

* declarations: the class subclasses its protocol and declares (or inherits) everything the config,
  the campaign and the checks before a run read off it, so none of it is looked up with a default;
* settings: the kind's `Spec` validates its defaults and a key it does not have fails in one line;
* oracles: a bad candidate gives a failed `Evaluation`, never an exception;
* agents: every proposal passes the validity gate (`agents.validity`) of the campaign's representation;
* surrogates: the posterior (mean, std, and the BoTorch view where there is one) has one row per input.

Small synthetic data only (the session's synthetic polymer table), nothing from ../shared.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import torch

from amala.agents.protocol import Agent, ProposalContext
from amala.agents.registry import AGENTS, build_agent
from amala.core import datasets
from amala.core.candidate import Candidate
from amala.core.plugins import AgentSpec
from amala.core.representations import Representation
from amala.core.validity import candidate_from_text
from amala.loop.config import ConfigError, parse_config
from amala.loop.library_source import LibrarySource
from amala.models.protocol import Surrogate
from amala.models.registry import SURROGATES, SurrogateSpec, build_surrogate
from amala.oracles.protocol import Oracle
from amala.oracles.registry import ORACLES, OracleSpec, build_oracle

REQUIRED = {"llm": {"url": "http://localhost:9/v1", "model": "m"},  # kinds with no complete defaults
            "library": {"path": "library.csv"}}
BOUNDS = {"Li2O": (0.1, 0.5), "SiO2": (0.4, 0.9)}
SECTION = {"agent": "agents", "oracle": "oracle", "surrogate": "surrogate"}
KINDS = ([("agent", k) for k in AGENTS.kinds()] + [("oracle", k) for k in ORACLES.kinds()]
         + [("surrogate", k) for k in SURROGATES.kinds()])
REGISTRY = {"agent": AGENTS, "oracle": ORACLES, "surrogate": SURROGATES}


PROTOCOL = {"agent": (Agent, AgentSpec), "oracle": (Oracle, OracleSpec), "surrogate": (Surrogate, SurrogateSpec)}
FLAGS = {"agent": ("needs_dataset",),
         "oracle": ("needs_dataset", "thread_safe", "asks_for_objective_only", "gives_table_columns",
                    "trains_potential"),
         "surrogate": ("bayesian", "fidelities", "temperatures")}


def contract_problems(noun: str, cls: type) -> list[str]:
    """What `cls` fails of its protocol's declarations (empty when it declares the whole contract)."""
    protocol, spec_base = PROTOCOL[noun]
    if protocol not in cls.__mro__:
        return [f"{cls.__name__} does not subclass {protocol.__name__} (it would not inherit the defaults)"]
    spec = getattr(cls, "Spec", None)
    problems = [] if isinstance(spec, type) and issubclass(spec, spec_base) else [f"Spec is not a {spec_base.__name__}"]
    if cls.from_spec.__func__ is protocol.from_spec.__func__:
        problems.append("no from_spec of its own")
    representations = getattr(cls, "representations", None)
    if not (isinstance(representations, tuple) and representations and set(representations) <= set(Representation)):
        problems.append(f"representations {representations!r} are not among {[str(r) for r in Representation]}")
    problems += [f"{flag} is not a bool" for flag in FLAGS[noun] if not isinstance(getattr(cls, flag, None), bool)]
    if noun == "oracle":
        if getattr(cls, "mode", None) not in ("per_candidate", "per_batch"):
            problems.append(f"mode {getattr(cls, 'mode', None)!r}")
        if cls.offered is not None and not callable(cls.offered):
            problems.append("offered is neither None nor callable")
    if noun == "surrogate":
        if cls.inputs not in ("fingerprints", "graphs", "formulations"):
            problems.append(f"inputs {cls.inputs!r}")
        if cls.arrhenius_objective is not None and len(cls.arrhenius_objective) != 3:
            problems.append("arrhenius_objective is not (property, transform, direction)")
    return problems


def _settings(cls, kind):
    return cls.Spec.model_validate({"kind": kind, **REQUIRED.get(kind, {})})


@pytest.mark.parametrize("noun, kind", KINDS)
def test_every_kind_declares_the_whole_contract(noun, kind):
    cls = REGISTRY[noun][kind]
    assert contract_problems(noun, cls) == []
    spec = _settings(cls, kind)
    fields = type(spec).model_fields
    # a setting some kinds have is read through its spec's method, which each kind that has it overrides
    if noun == "agent":
        assert (spec.composition_bounds() is not None) == ("bounds" in fields)
    if noun == "oracle":
        asked = spec.model_copy(update={"properties": ["conductivity"]}) if "properties" in fields else spec
        assert asked.asked_properties() == (["conductivity"] if "properties" in fields else None)
        assert not cls.asks_for_objective_only or "properties" in fields  # the config sets it to the objective
        assert not cls.trains_potential or {"device", "teacher", "potential_folder"} <= set(fields)
    if noun == "surrogate":
        # a kind may build another class per representation (`BY_REPRESENTATION`: the gp of compositions has
        # two fidelities, the polymer gp one): the setting exists where any of its classes has fidelity heads
        from amala.core.representations import Representation
        from amala.models.registry import surrogate_class

        heads = any(surrogate_class(kind, rep).fidelities for rep in Representation if rep in cls.representations)
        assert heads == ("high_fidelity" in fields)
        if heads:
            assert spec.model_copy(update={"high_fidelity": ["standard"]}).high_fidelities() == ["standard"]


def test_the_contract_check_fails_a_class_that_declares_too_little():
    class Bare:
        Spec = AGENTS["pool"].Spec

    class Partial(Oracle):
        Spec = ORACLES["lookup"].Spec
        representations = ("smile",)
        mode = "all at once"
        needs_dataset = "yes"

    assert contract_problems("agent", Bare) == ["Bare does not subclass Agent (it would not inherit the defaults)"]
    assert contract_problems("oracle", Partial) == [
        "no from_spec of its own", "representations ('smile',) are not among ['smiles', 'composition', "
        "'formulation']",
        "needs_dataset is not a bool", "mode 'all at once'"]


CAPABILITIES = sorted({flag for flags in FLAGS.values() for flag in flags} | {
    "representations", "offered", "produces", "component_problem", "properties", "bounds", "high_fidelity",
    "arrhenius_objective", "inputs", "mode"})


def test_no_capability_is_looked_up_with_a_default():
    """Every capability is declared with its default on the protocols, so `loop` reads it directly."""
    loop = Path(__file__).parents[2] / "loop"
    found = [f"{path.name}: {m.group(0)}" for path in sorted(loop.rglob("*.py"))
             for m in re.finditer(r"getattr\([^()]*[\"'](\w+)[\"']", path.read_text())
             if m.group(1) in CAPABILITIES]
    assert found == []


@pytest.mark.parametrize("noun, kind", KINDS)
def test_every_kind_validates_its_defaults_and_refuses_a_foreign_key_in_one_line(noun, kind):
    cls = REGISTRY[noun][kind]
    spec = _settings(cls, kind)
    assert spec.kind == kind and cls.representations
    settings = {"kind": kind, **REQUIRED.get(kind, {}), "no_such_setting": 1}
    section = SECTION[noun]
    data = {"name": "c", section: [settings] if section == "agents" else settings}
    with pytest.raises(ConfigError) as info:
        parse_config(data, "c.yaml")
    where = "agents.0" if section == "agents" else section
    assert str(info.value) == f"c.yaml: {where}.no_such_setting: not a setting of {noun} kind {kind!r} (got 1)"


BAD = {"smiles": ["C1CC", "not a molecule", "[Cu]CC[Au]C1"], "composition": ["Xx2O:1.0", "Li2O:0.5"],
       "formulation": ["[Cu]CCO[Au]|x", "[Cu]CCO[Au]|[Li+].[Cl-]|40", "[Cu]CCCCCO[Au]|[Li+].[Cl-]|1"]}
LITFSI = "O=S(=O)([N-]S(=O)(=O)C(F)(F)F)C(F)(F)F.[Li+]"
FORMULATIONS = Path(__file__).parents[1] / "data" / "formulations_small.csv"  # a ChemArr-format table of its own


def _glasses(folder: Path) -> str:
    """A SciGlass-shaped table of three glasses within BOUNDS (the glass lookup's and glass prior's data)."""
    path = folder / "sciglass.csv"
    path.write_text("composition_mol_percent,log10_sigma_S_cm_293K,log10_sigma_S_cm_373K,log10_sigma_S_cm_423K,"
                    "log10_sigma_S_cm_573K,ea_eV_fit,tg_C,author,year\n"
                    + "".join(f"Li2O:{x};SiO2:{100 - x},-9,{-8 + x / 10},,,0.7,450,A,1990\n" for x in range(15, 45)))
    return str(path)


def _formulations(polymers) -> list[str]:
    """Formulation candidates from the synthetic table's polymers (LiTFSI, molality 0.5-2 mol/kg)."""
    return [f"{p}|{LITFSI}|{0.5 + 0.25 * (i % 7):g}" for i, p in enumerate(polymers)]


@pytest.mark.parametrize("kind", ORACLES.kinds())
def test_every_oracle_fails_a_bad_candidate_instead_of_raising(kind, synthetic_table, tmp_path):
    if kind == "queue":
        pytest.skip("the queue never judges a candidate: it writes a request, and its inbox rows are checked "
                    "(one failed evaluation per bad row) in test_queue_oracle")
    cls = ORACLES[kind]
    settings = {"properties": ["conductivity"]} if "properties" in cls.Spec.model_fields else {}
    representation = cls.representations[0]
    if representation == "formulation":
        table = datasets.load("chemarr", FORMULATIONS)
    elif kind == "glass_lookup":
        table, settings = datasets.load("sciglass_li_oxide", _glasses(tmp_path)), {}
    else:
        table = datasets.Table("small", synthetic_table.frame.head(60), synthetic_table.units, "memory")  # emulator
    oracle = build_oracle(cls.Spec(kind=kind, **settings), table, workdir=tmp_path, seed=0)  # trains on all of it
    bad = [Candidate(text, kind=representation, agent="t") for text in BAD[representation]]
    evaluations = oracle.evaluate(bad)  # the MD oracle refuses them before any simulation starts
    assert [e.candidate_key for e in evaluations] == [c.key for c in bad]
    assert all(e.status == "failed" and e.reason for e in evaluations), [e.reason for e in evaluations]


class ScriptedLLM:
    """An LLM that answers with a fixed list: a few good candidates among broken ones."""

    answers = {"smiles": ["[Cu]CCO[Au]", "C1CC", "[Cu]CCN[Au]", "nonsense", "[Cu]CC(F)O[Au]"],
               "composition": ["Li2O:0.3;SiO2:0.7", "Li2O:0.9;SiO2:0.1", "Xx:1", "Li2O:0.2;SiO2:0.8"]}

    def __init__(self, representation):
        self.representation = representation

    def complete(self, messages, seed=0):
        return json.dumps({"candidates": self.answers[self.representation]})

    def describe(self):
        return {"backend": "scripted"}


# pre-training the GPT, even for one epoch, takes a minute on a busy 2-core machine: slow, still run by `make test`
AGENT_KINDS = [pytest.param(k, marks=pytest.mark.slow) if k == "gpt" else k for k in AGENTS.kinds()]


@pytest.mark.parametrize("kind", AGENT_KINDS)
def test_every_agents_proposals_pass_the_validity_gate(kind, synthetic_table, tmp_path):
    cls = AGENTS[kind]
    for representation in cls.representations:
        settings = {"n": 6, **REQUIRED.get(kind, {})}
        if kind == "library":  # a library file holding some polymers, and two rows the gate refuses
            settings["path"] = str(tmp_path / "library.csv")
            rows = list(synthetic_table.frame.smiles[:40]) + ["not a polymer", "[Cu]CC"]
            pd.DataFrame({"smiles": rows}).to_csv(settings["path"], index=False)
        if "bounds" in cls.Spec.model_fields:
            settings["bounds"] = BOUNDS
        settings = {k: v for k, v in settings.items() if k in cls.Spec.model_fields}
        if kind == "gpt":
            settings.update(epochs=1, finetune_steps=0)  # a barely trained generator: its output must be gated
        if kind == "glass_prior":
            settings["data"] = _glasses(tmp_path)
        pool = {"smiles": list(synthetic_table.frame.smiles[:40]),
                "composition": list(datasets.load("sciglass_li_oxide", _glasses(tmp_path)).frame.composition),
                "formulation": [Candidate(t, kind="formulation").representation
                                for t in _formulations(synthetic_table.frame.smiles[:40])]}.get(representation)
        agent = build_agent(cls.Spec(kind=kind, **settings), pool, representation, tmp_path)
        if kind == "llm":
            agent.backend = ScriptedLLM(representation)
        known = set(pool[:10]) if pool else set()
        proposal = agent.propose(ProposalContext(iteration=1, seed=0, known_keys=known))
        bounds = BOUNDS if representation == "composition" else None
        # a library hands its file over (the campaign scores it); its rows become candidates on demand
        sources = [LibrarySource.of(ref).prepare() for ref in proposal.sources]
        listed = proposal.candidates + [c for s in sources for c in s.candidates(range(len(s)), skip=known)]
        assert listed or kind == "gpt", f"{kind} proposed nothing for {representation}"
        for candidate in listed:
            again = candidate_from_text(candidate.representation, representation, "gate", bounds)
            assert again.key == candidate.key and candidate.kind == representation
            assert candidate.key not in known


def _banks(representation, kind):
    from amala.models.composition_gp import CompositionFeaturizer
    from amala.models.molecular_graph import GraphBank
    from amala.models.registry import FeaturizerSpec, build_featurizer
    from amala.models.similarity import FingerprintBank

    if representation == "composition":
        return CompositionFeaturizer(sorted(BOUNDS))
    if representation == "formulation":
        from amala.models.formulation_features import FormulationFeaturizer

        return FormulationFeaturizer(polymer_bits=256, salt_bits=64)
    if kind == "gnn_ensemble":
        return GraphBank()
    return FingerprintBank(build_featurizer(FeaturizerSpec(n_bits=256)))


# training even a tiny GNN ensemble takes half a minute on a busy 2-core machine: slow, still run by `make test`
SURROGATE_CASES = [pytest.param(k, r, marks=pytest.mark.slow) if k == "gnn_ensemble" else (k, r)
                   for k in SURROGATES.kinds() for r in SURROGATES[k].representations]
SMALL = {"gnn_ensemble": {"members": 2, "epochs": 2}, "random_forest": {"n_estimators": 20},
         "formulation_ensemble": {"members": 2, "max_epochs": 3, "hidden": 16, "graph_members": 2,
                                  "graph_hidden": 16}}
SMALL_NETWORK = {"gnn_ensemble": {"hidden": 16, "depth": 2}}  # not settings of the kind: constructor options


@pytest.mark.parametrize("kind, representation", SURROGATE_CASES)
def test_every_surrogates_posterior_has_one_row_per_input(kind, representation, synthetic_table):
    if representation == "smiles":
        texts = list(synthetic_table.frame.smiles[:16])
    elif representation == "formulation":
        texts = _formulations(synthetic_table.frame.smiles[:16])
    else:
        texts = [f"Li2O:{x:.2f};SiO2:{1 - x:.2f}" for x in torch.linspace(0.1, 0.5, 16).tolist()]
    y = torch.linspace(-5.0, -3.0, 12, dtype=torch.float64)
    cls = SURROGATES[kind]
    surrogate = build_surrogate(cls.Spec(kind=kind, **SMALL.get(kind, {})), _banks(representation, kind), seed=0,
                                representation=representation)
    if kind in SMALL_NETWORK:
        surrogate.network.update(SMALL_NETWORK[kind])
    X_train, X = surrogate.encode(texts[:12]), surrogate.encode(texts[12:])
    mean, std = surrogate.fit(X_train, y).predict(X)
    assert mean.shape == (4,) and std.shape == (4,)
    assert bool(torch.isfinite(mean).all()) and bool((std >= 0).all())
    if cls.bayesian:
        posterior = surrogate.model.posterior(X)
        assert posterior.mean.shape[-2] == 4
    else:
        assert surrogate.model is None  # no BoTorch view: greedy and random strategies only
