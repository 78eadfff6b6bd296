"""The formulation surrogate: salt and missing-value features, the Arrhenius readout over temperature,
the polymer bootstrap, and the benchmark's polymer-grouped split. A small table of its own: no ChemArr."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from amala.models.formulation_ensemble import FormulationEnsemble, polymer_groups
from amala.models.formulation_features import FormulationFeaturizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ is a folder of scripts, not installed
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
    X = f.table([r[0] for r in data], [r[1] for r in data], [r[2] for r in data])
    y = torch.tensor([r[4] for r in data])
    T = torch.tensor([r[3] for r in data])
    model = FormulationEnsemble(f, members=3, max_epochs=60, patience=60, hidden=32, dropout=0.0, seed=0)
    model.fit(X, y, temperature_K=T)
    one = X[:1]
    temperatures = torch.tensor([250.0, 300.0, 350.0, 400.0])
    values = torch.stack([model.predict(one, temperature_K=t)[0] for t in temperatures]).reshape(-1)
    assert torch.all(values.diff() > 0)  # Ea > 0 by construction: σ rises with T
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
