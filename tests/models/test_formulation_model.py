"""The formulation surrogate: salt and missing-value features, the Arrhenius readout over temperature,
the polymer bootstrap, and the benchmark's polymer-grouped split. A small table of its own: no ChemArr."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from amala.models.formulation_ensemble import FormulationEnsemble, polymer_groups, polymer_weights
from amala.models.formulation_features import FormulationFeaturizer
from amala.models.formulation_forest import FormulationForest, forest_inputs, mixture

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/ is a folder of scripts, not installed
from benchmarks import formulation_cv  # noqa: E402

LITFSI = "O=S(=O)([N-]S(=O)(=O)C(F)(F)F)C(F)(F)F.[Li+]"
LICLO4 = "[Li+].[O-]Cl(=O)(=O)=O"
LIBOB = "O=C1O[B-]2(OC1=O)OC(=O)C(=O)O2.[Li+]"  # never in the training table below
POLYMERS = ["[Cu]CCO[Au]", "[Cu]CCCO[Au]", "[Cu]CC(C)O[Au]", "[Cu]CC(C(=O)OC)[Au]", "[Cu]c1ccc(O[Au])cc1",
            "[Cu]CCOCCOC(=O)[Au]"]


def test_salts_are_described_by_their_ions_and_missing_values_are_flagged():
    f = FormulationFeaturizer()
    rows = f.table(["[Cu]CCO[Au]"] * 4, [LITFSI, LIBOB, None, LITFSI], [1.0, 1.0, None, None])
    salt = rows[:, f.blocks["salt_counts"]]
    assert salt[1].sum() > 0 and not torch.equal(salt[0], salt[1])  # an unseen salt has its own features
    conditions = dict(zip(["log10_m", "m_missing", "no_salt", "log10_mw", "mw_missing"],
                          rows[:, f.blocks["conditions"]].T))
    assert conditions["no_salt"].tolist() == [0, 0, 1, 0] and salt[2].sum() == 0
    assert conditions["m_missing"].tolist() == [0, 0, 1, 1]  # unknown is not "1 mol/kg": the flag differs
    assert not torch.equal(rows[0], rows[3])
    # a campaign's formulation strings give the same row (NaN: descriptors RDKit leaves undefined)
    torch.testing.assert_close(f([f"[Cu]CCO[Au]|{LITFSI}|1"])[0], rows[0], equal_nan=True)


def _table(seed=0):
    """Synthetic Arrhenius data: log10 σ = a_polymer + 0.3 log10 m − Ea_polymer/(ln10 kB T)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, p in enumerate(POLYMERS):
        for salt in (LITFSI, LICLO4):
            for m in (0.5, 1.0, 2.0):
                for T in (273.15, 298.15, 323.15, 353.15):
                    ea = 0.4 + 0.1 * i
                    rows.append((p, salt, m, T, 2.0 - i * 0.2 + 0.3 * np.log10(m) - ea / (2.302585 * 8.617e-5 * T)
                                 + rng.normal(0, 0.05)))
    return rows


def test_the_ensemble_reads_out_arrhenius_and_learns_temperature_dependence():
    data = _table()
    f = FormulationFeaturizer()
    model = FormulationEnsemble(f, members=3, max_epochs=60, patience=60, hidden=32, dropout=0.0, seed=0,
                                forest_trees=20, graph_members=2, graph_hidden=32)
    X = model.table([r[0] for r in data], [r[1] for r in data], [r[2] for r in data])
    assert X.shape[1] == f.dim + 1  # the featurizer's columns, then the polymer's graph row
    y = torch.tensor([r[4] for r in data])
    T = torch.tensor([r[3] for r in data])
    model.fit(X, y, temperature_K=T)
    one = X[:1]
    temperatures = torch.tensor([250.0, 300.0, 350.0, 400.0])
    for part in ("networks", "graphs"):  # both kinds of network read out Arrhenius
        readout = [model.predict_parts(one, temperature_K=t)[part][0] for t in temperatures]
        assert torch.all(torch.stack(readout).reshape(-1).diff() > 0), part  # Ea > 0 by construction: σ rises with T
    mean_params, std_params = model.arrhenius(one)
    assert 0 < float(mean_params[0, 1]) < 2 and float(std_params[0, 1]) >= 0  # Ea in eV
    mean, std = model.predict(X, temperature_K=T)
    assert float((mean - y).abs().mean()) < float((y - y.mean()).abs().mean())  # it learned something
    assert torch.all(std > 0) and model.std_scale >= 1.0
    posterior = model.model.posterior(X[:4].unsqueeze(0))  # BoTorch view: (b, q, d)
    assert posterior.mean.shape == (1, 4, 1)


def test_members_train_on_a_bootstrap_of_polymers_never_rows_of_a_held_out_polymer():
    data = _table()
    f = FormulationFeaturizer()
    X = f.table([r[0] for r in data], [r[1] for r in data], [r[2] for r in data])
    groups = polymer_groups(X, f.blocks["polymer_counts"])
    assert len(set(groups.tolist())) == len(POLYMERS)
    folds = formulation_cv.polymer_folds(np.array([r[0] for r in data]), folds=3, seed=0)
    for k in range(3):
        train = {r[0] for r, fold in zip(data, folds) if fold != k}
        test = {r[0] for r, fold in zip(data, folds) if fold == k}
        assert test and not train & test  # no polymer on both sides


def test_the_forest_sees_bits_molality_and_inverse_temperature_and_the_mixture_widens_on_disagreement():
    f = FormulationFeaturizer()
    X = f.table(["[Cu]CCO[Au]", "[Cu]CCO[Au]"], [LITFSI, None], [2.0, None])
    inputs = forest_inputs(X, f.blocks, torch.tensor([250.0, 400.0]))
    assert inputs.shape == (2, f.polymer_bits + f.salt_bits + 3)
    assert set(np.unique(inputs[:, :-3])) == {0.0, 1.0} and inputs[1, f.polymer_bits:-3].sum() == 0  # no salt
    np.testing.assert_allclose(inputs[:, -3:], [[np.log10(2.0), 0, 4.0], [0, 1, 2.5]], rtol=1e-6)
    mean, std = mixture((torch.tensor([0.0, 1.0]), torch.tensor([1.0, 0.5])),
                        (torch.tensor([2.0, 1.0]), torch.tensor([1.0, 0.5])))
    torch.testing.assert_close(mean, torch.tensor([1.0, 1.0]))
    torch.testing.assert_close(std, torch.tensor([2.0 ** 0.5, 0.5]))  # agreeing components: their own std
    mean, std = mixture(*[(torch.tensor([m]), torch.tensor([0.0])) for m in (0.0, 3.0, 3.0)])  # three parts
    torch.testing.assert_close((mean, std), (torch.tensor([2.0]), torch.tensor([2.0 ** 0.5])))


def test_the_default_prediction_mixes_networks_graph_networks_and_forest_and_each_can_be_left_out():
    data = _table()
    f = FormulationFeaturizer()
    polymers, salts, molalities = [r[0] for r in data], [r[1] for r in data], [r[2] for r in data]
    y, T = torch.tensor([r[4] for r in data]), torch.tensor([r[3] for r in data])
    kwargs = dict(members=2, max_epochs=5, hidden=16, seed=0)
    blended = FormulationEnsemble(f, forest_trees=20, graph_members=2, graph_hidden=16, **kwargs)
    XG = blended.table(polymers, salts, molalities)
    blended.fit(XG, y, temperature_K=T)
    parts = blended.predict_parts(XG, temperature_K=T)
    assert set(parts) == {"networks", "graphs", "forest", "ensemble"}
    torch.testing.assert_close(blended.predict(XG, temperature_K=T),
                               mixture(parts["networks"], parts["graphs"], parts["forest"]))
    X = f.table(polymers, salts, molalities)
    forest = FormulationForest(f.blocks, 20, seed=0).fit(X, y.float(), T.float())  # the one the ensemble holds
    np.testing.assert_allclose(parts["forest"][0].numpy(), forest.predict(X, T)[0])  # the graph column is not its
    assert float((parts["forest"][0] - y).abs().mean()) < float((y - y.mean()).abs().mean())
    alone = FormulationEnsemble(f, forest_trees=0, graph_members=0, **kwargs).fit(X, y, temperature_K=T)
    assert set(alone.predict_parts(X, temperature_K=T)) == {"networks", "ensemble"}
    torch.testing.assert_close(alone.predict(X, temperature_K=T), parts["networks"])  # same seed: same networks
    assert blended.describe()["forest_trees"] == 20 and alone.describe()["prediction"] == "networks"
    assert "graph networks" in blended.describe()["prediction"]


def test_graph_members_need_the_graph_column_and_at_least_two_of_them():
    f = FormulationFeaturizer()
    model = FormulationEnsemble(f, members=2, graph_members=2)
    rows = f.table(["[Cu]CCO[Au]", "[Cu]CCCO[Au]"], [LITFSI, LITFSI], [1.0, 1.0])
    with pytest.raises(ValueError, match="graph column"):
        model.fit(rows, torch.tensor([-4.0, -5.0]))
    same = model.encode([f"[Cu]CCO[Au]|{LITFSI}|1", f"[Cu]CCCO[Au]|{LITFSI}|1", f"[Cu]CCO[Au]|{LICLO4}|1"])
    assert same[0, -1] == same[2, -1] != same[1, -1]  # one graph per polymer, whatever the salt
    with pytest.raises(ValueError, match="graph_members"):
        FormulationEnsemble(f, members=2, graph_members=1)


def test_polymer_weights_let_every_polymer_count_alike_at_power_1_and_every_row_at_power_0():
    groups = np.array([0] * 30 + [1] * 3 + [2] * 1)
    train = np.concatenate([np.arange(30), np.arange(30, 33), np.arange(30, 33)])  # polymer 1 drawn twice, 2 never
    one = polymer_weights(groups, train, 1.0)
    totals = [float(one[train][groups[train] == g].sum()) for g in (0, 1)]
    np.testing.assert_allclose(totals, [1.0, 1.0], rtol=1e-6)
    half = polymer_weights(groups, train, 0.5)
    np.testing.assert_allclose(half[[0, 30]].numpy(), [30 ** -0.5, 6 ** -0.5], rtol=1e-6)
    assert torch.equal(polymer_weights(groups, train, 0.0), torch.ones(len(groups)))


def test_identical_rows_are_predicted_once_with_the_same_numbers():
    """qLogNEI asks about each candidate with every training row: repeated rows (NaN descriptors included)
    are predicted once and every row still gets its own row's prediction."""
    from amala.models.formulation_ensemble import distinct_rows

    data = _table()
    f = FormulationFeaturizer()
    X = f.table([r[0] for r in data], [r[1] for r in data], [r[2] for r in data])
    assert bool(torch.isnan(X).any())  # undefined descriptors: NaN must still group with NaN
    repeated = X[torch.tensor([4, 0, 4, 12, 0, 4])]  # rows 0-3 differ only in T, which is not a feature
    distinct, inverse = distinct_rows(repeated)
    assert len(distinct) == 3 and torch.equal(torch.nan_to_num(distinct[inverse]), torch.nan_to_num(repeated))
    assert distinct_rows(X[torch.tensor([0, 4, 8, 12, 16])])[1] is None  # nothing repeats: no work saved, none done
    y, T = torch.tensor([r[4] for r in data]), torch.tensor([r[3] for r in data])
    model = FormulationEnsemble(f, members=2, max_epochs=5, hidden=16, seed=0, forest_trees=10, graph_members=2,
                                graph_hidden=16)
    X = model.table([r[0] for r in data], [r[1] for r in data], [r[2] for r in data])
    model.fit(X, y, temperature_K=T)
    batch = torch.stack([X[torch.tensor([0, 4, 8, 12])], X[torch.tensor([8, 12, 16, 20])]])  # (b, q, d)
    mean, std = model.predict(batch)
    one_by_one = torch.stack([torch.cat(model.predict(row.unsqueeze(0))) for row in batch.reshape(-1, X.shape[1])])
    torch.testing.assert_close(torch.stack([mean, std], 1), one_by_one)
