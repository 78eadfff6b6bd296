"""Campaigns over formulations (polymer|salt|molality) on the small table tests/data/formulations_small.csv:
the lookup's objective (sigma at the measured temperature closest to 25 degC, with that temperature
recorded), the formulation agent's proposals (new polymers x the configured salts), the refusals of a
bad salt set, and one campaign through the real Prefect flow with a random forest."""

from pathlib import Path

import pytest
import yaml

from amala.agents.protocol import ProposalContext
from amala.agents.registry import AGENTS, build_agent
from amala.core import datasets
from amala.core.candidate import Candidate
from amala.core.formulation import Formulation, canonical_salt
from amala.core.validity import ProposalFilter, candidate_from_text
from amala.loop.config import ConfigError, parse_config
from amala.oracles.tables.formulation_lookup import LEVEL_OF_THEORY, FormulationLookupOracle, formulation_table

SMALL = Path(__file__).parents[1] / "data" / "formulations_small.csv"
LITFSI = "[Li+].FC(F)(F)S(=O)(=O)[N-]S(=O)(=O)C(F)(F)F"
LIBF4 = "F[B-](F)(F)F.[Li+]"
LICLO4 = "[Li+].[O-]Cl(=O)(=O)=O"


@pytest.fixture(scope="module")
def table():
    return formulation_table(datasets.load("chemarr", SMALL))


def test_lookup_scores_each_formulation_at_its_temperature_closest_to_25C(table):
    oracle = FormulationLookupOracle(table)
    peo = Candidate(str(Formulation("*CCO*", LITFSI, 1.0)), kind="formulation")  # measured 0-80 degC and twice at 25
    ester = Candidate(str(Formulation("[Cu]CCCOC(=O)O[Au]", "O=S(=O)([O-])C(F)(F)F.[Li+]", 0.8)), kind="formulation")
    unknown = Candidate(str(Formulation("[Cu]CCO[Au]", LIBF4, 5.0)), kind="formulation")
    ok, far, missing = oracle.evaluate([peo, ester, unknown])
    assert ok.values["log10_conductivity"].value == pytest.approx((-5.5292 - 5.5492) / 2)  # the two 25 degC rows
    assert ok.values["conductivity"].value == pytest.approx(10 ** -5.5392) and ok.values["conductivity"].unit == "S/cm"
    assert ok.values["measurement_temperature"].value == pytest.approx(298.15)
    assert ok.provenance["n_measurements"] == 2 and ok.provenance["level_of_theory"] == LEVEL_OF_THEORY
    # measured only at 60, 80 and 100 degC: scored at 60 degC, and says so
    assert far.values["measurement_temperature"].value == pytest.approx(333.15)
    assert far.values["temperature_gap"].value == pytest.approx(35.0) and far.provenance["delta_K"] == 35.0
    assert missing.status == "failed" and "no measured conductivity" in missing.reason and "\n" not in missing.reason


def test_the_gate_reads_formulations_and_counts_their_refusals_by_reason():
    gate = ProposalFilter(kind="formulation")
    texts = ["*CCO*|" + LITFSI + "|1.0", "[Cu]CCO[Au]|" + LITFSI + "|1", "[Cu]CCO[Au]|[Na+].[Cl-]|1", "[Cu]CCO[Au]|x"]
    accepted = gate(texts, agent="t")
    assert [c.kind for c in accepted] == ["formulation"] and accepted[0].representation.endswith("|1")
    assert gate.rejected == {"already known": 1, "salt: no Li+": 1, "format": 1}
    with pytest.raises(ValueError, match="no Li"):
        candidate_from_text("[Cu]CCO[Au]|[Na+].[Cl-]|1", "formulation", "person")


def test_formulation_agent_pairs_new_polymers_with_the_configured_salts(table):
    pool = list(table.frame.formulation)
    spec = AGENTS["formulation"].Spec(kind="formulation", n=8, salts=[{"salt": LICLO4, "molality": 0.5},
                                                                      {"salt": LIBF4, "molality": 1}])
    agent = build_agent(spec, pool, "formulation")
    best = Candidate(str(Formulation("[Cu]CC(C)O[Au]", LITFSI, 1.5)), kind="formulation")  # the only one evaluated
    known = {Candidate(text, kind="formulation").key for text in pool}
    proposal = agent.propose(ProposalContext(iteration=1, seed=0, known_keys=known, evaluated=[(best, -6.55)]))
    assert len(proposal.candidates) == 8
    allowed = {(canonical_salt(LICLO4), 0.5), (canonical_salt(LIBF4), 1.0)}
    parents = set()
    for candidate in proposal.candidates:
        again = candidate_from_text(candidate.representation, "formulation", "gate")
        assert again.key == candidate.key and candidate.key not in known and candidate.agent == "formulation"
        formulation = Formulation.parse(candidate.representation)
        assert (formulation.salt, formulation.molality) in allowed
        assert candidate.metadata["polymer_agent"] == "formulation-mutation"
        parents.add(candidate.metadata["parent"])
    assert parents == {best.representation.split("|")[0]}  # the generator started from the evaluated polymer
    polymers = {Formulation.parse(c.representation).polymer for c in proposal.candidates}
    assert len(polymers) == 4  # 8 formulations = 4 new polymers x 2 salts


BASE = {"name": "f", "representation": "formulation", "data": {"dataset": "chemarr", "path": str(SMALL)},
        "oracle": {"kind": "formulation_lookup"}, "surrogate": {"kind": "random_forest", "n_estimators": 20},
        "acquisition": {"strategy": "greedy", "batch_size": 2}, "budget": {"initial": 4, "max_evaluations": 8}}


@pytest.mark.parametrize("salts, message", [
    ([{"salt": LITFSI, "molality": 1.0}, {"salt": "[Na+].[Cl-]", "molality": 1.0}],
     "c.yaml: agents.0.salts.1.salt: salt '[Na+].[Cl-]': no Li+ cation; formulations are lithium electrolytes"),
    ([{"salt": "[Li+].[Cl-].[Cl-]", "molality": 1.0}], "c.yaml: agents.0.salts.0.salt: salt '[Li+].[Cl-].[Cl-]': "
     "net charge -1, the ions' charges must balance (fragment charges +1, -1, -1)"),
    ([{"salt": LITFSI, "molality": 25}], "c.yaml: agents.0.salts.0.molality: molality 25.0: 25 mol/kg is not below "
     "20 mol/kg"),
])
def test_a_bad_salt_set_is_refused_when_the_config_is_read(salts, message):
    with pytest.raises(ConfigError) as info:
        parse_config({**BASE, "agents": [{"kind": "formulation", "salts": salts}]}, "c.yaml")
    assert str(info.value) == message


def test_a_formulation_campaign_takes_only_kinds_that_declare_formulations():
    with pytest.raises(ConfigError, match="representation formulation takes agents of kind"):
        parse_config({**BASE, "agents": [{"kind": "mutation"}]}, "c.yaml")
    with pytest.raises(ConfigError, match="oracle.kind"):
        parse_config({**BASE, "oracle": {"kind": "lookup"}}, "c.yaml")


ENSEMBLE = {"surrogate": {"kind": "formulation_ensemble", "members": 2, "max_epochs": 10, "hidden": 16,
                          "graph_members": 2, "graph_hidden": 16},
            "acquisition": {"strategy": "qlognei", "batch_size": 2}}


@pytest.mark.flow
@pytest.mark.slow
@pytest.mark.parametrize("model", ["random_forest", "formulation_ensemble"])
def test_a_formulation_campaign_through_the_prefect_flow(model, tmp_path, monkeypatch, prefect_server, table):
    from amala.flows.campaign_flow import campaign_flow
    from amala.loop.campaign import Campaign
    from amala.loop.config import load_config

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AMALA_DB_URL", raising=False)
    path = tmp_path / "f.yaml"
    path.write_text(yaml.safe_dump({**BASE, "agents": [{"kind": "pool"}], **(ENSEMBLE if model != "random_forest"
                                                                             else {})}))
    result = campaign_flow(str(path), max_iterations=2)  # the initial design, then one batch the forest chose
    assert result["evaluations"] == 6 and not result["final"]
    campaign = Campaign(load_config(path))
    rows = campaign.store.evaluations(campaign.id)
    truth = table.frame.set_index("formulation")
    for candidate, evaluation in rows:
        assert candidate.kind == "formulation" and evaluation.status == "ok"
        assert evaluation.values["log10_conductivity"]["value"] == pytest.approx(
            truth.loc[candidate.representation, "log10_sigma_S_cm"])
        assert evaluation.provenance["temperature_K"] == truth.loc[candidate.representation, "temperature_K"]
    iterations = campaign.store.iterations(campaign.id)
    strategy = "greedy" if model == "random_forest" else "qlognei"
    assert [i.strategy for i in iterations] == ["random (initial design)", strategy]
    version = campaign.store.model_versions(campaign.id)[-1]
    assert version.kind == model and version.n_train == 4 and version.details["featurizer"]["kind"] == "formulation"
    # the ensemble's Arrhenius readout is fitted at each value's measured temperature, not at 25 degC
    measured = campaign.observations().temperatures
    assert measured is not None and measured.tolist() == [truth.loc[c.representation, "temperature_K"]
                                                          for c in campaign.observations().candidates]


def test_the_arrhenius_ensemble_needs_the_log10_conductivity_objective():
    with pytest.raises(ConfigError, match="reads out log10 conductivity"):
        parse_config({**BASE, **ENSEMBLE, "agents": [{"kind": "pool"}],
                      "objective": {"property": "conductivity", "transform": "none"}}, "c.yaml")


def test_the_forest_takes_formulation_features_beyond_float32(table):
    """One ChemArr repeat unit has RDKit descriptors too large for float32 (inf after the cast), which
    sklearn refuses; the forest keeps their order as the largest float32 instead."""
    import torch

    from amala.models.formulation_features import FormulationFeaturizer
    from amala.models.random_forest import RandomForest

    texts = list(table.frame.formulation) + [str(Formulation("O=C(CCCSCC[CH]([Au])[CH2][Cu])NCCn1ccnc1", LITFSI, 1))]
    forest = RandomForest(FormulationFeaturizer(), n_estimators=10)
    X = forest.encode(texts)
    assert bool(torch.isinf(X[-1]).any())  # what made a greedy_rf benchmark row fail before
    mean, std = forest.fit(X, torch.linspace(-8, -4, len(texts), dtype=torch.float64)).predict(X)
    assert bool(torch.isfinite(mean).all() and torch.isfinite(std).all())


def test_a_temperature_gap_keeps_only_formulations_measured_near_25C(table, tmp_path, monkeypatch):
    """`data.temperature_gap_K`: a formulation measured only at 60 degC or above leaves the pool (it would top a
    ranking of values measured at any temperature); the oracle still answers for it."""
    near = formulation_table(table, max_gap_K=10)
    assert (near.frame.delta_K <= 10).all() and 0 < len(near.frame) < len(table.frame)
    assert near.frame.attrs["outside_gap"] == len(table.frame) - len(near.frame)
    ester = str(Formulation("[Cu]CCCOC(=O)O[Au]", "O=S(=O)([O-])C(F)(F)F.[Li+]", 0.8))  # closest: 60 degC
    assert ester in set(table.frame.formulation) and ester not in set(near.frame.formulation)
    with pytest.raises(ValueError, match="temperature_gap_K=0.001: no formulation"):
        formulation_table(table.__class__(table.name, table.frame[table.frame.delta_K > 1], table.units, table.source,
                                          table.dropped, table.sha256, table.verified), max_gap_K=0.001)
    cfg = parse_config({**BASE, "agents": [{"kind": "pool"}], "data": {"dataset": "chemarr", "path": str(SMALL),
                                                                        "temperature_gap_K": 10}}, "c.yaml")
    monkeypatch.chdir(tmp_path)
    from amala.loop.campaign import Campaign
    from amala.loop.store import Store

    pool = Campaign(cfg, store=Store("sqlite://")).table.frame.formulation
    assert set(pool) == set(near.frame.formulation)  # the campaign's pool (and the benchmark's top 1%)
    with pytest.raises(ConfigError, match="only formulation campaigns"):
        parse_config({"name": "s", "data": {"temperature_gap_K": 10}}, "c.yaml")
