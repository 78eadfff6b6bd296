"""The GNN surrogate: graphs, Arrhenius readout, multi-fidelity heads, the ensemble as a BoTorch model.

Synthetic targets are computed from the molecules themselves (atom counts), so every answer is
known; networks are small and trained for seconds on CPU."""

import itertools
import math

import numpy as np
import pytest
import torch
from rdkit import Chem

from amala.models.calibration import coverage
from amala.models.dmpnn import DMPNNEncoder
from amala.models.gnn_ensemble import GNNEnsemble, TrainingSet, train_member
from amala.models.molecular_graph import ATOM_DIM, BOND_DIM, GraphBank, collate, mol_graph
from amala.models.readouts import LN10_KB

UNITS = ["CC", "CCO", "OCCO", "C(=O)O", "c1ccc(cc1)", "CN", "CS", "C(F)(F)", "CC(C)", "OC(=O)C", "NC(=O)", "CCCC"]


def repeat_units(n=120, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for k in (1, 2, 3):
        for combo in itertools.product(UNITS, repeat=k):
            out.append(Chem.MolToSmiles(Chem.MolFromSmiles("[Cu]" + "".join(combo) + "[Au]")))
    out = sorted(set(out))
    return [out[i] for i in rng.choice(len(out), size=n, replace=False)]


def counts(smiles, symbol):
    return sum(a.GetSymbol() == symbol for a in Chem.MolFromSmiles(smiles).GetAtoms())


def test_graph_has_directed_edges_with_reverses_and_end_markers():
    g = mol_graph("[Cu]CCO[Au]")
    assert g.atoms.shape == (5, ATOM_DIM) and g.bonds.shape == (8, BOND_DIM)
    assert g.atoms.shape[0] == 5 and len(g.source) == 8  # 4 bonds, two directions each
    batch = collate([g, mol_graph("[Cu]CC[Au]")])
    assert torch.equal(batch.source[batch.reverse], batch.target)  # the reverse edge runs back
    assert torch.equal(batch.reverse[batch.reverse], torch.arange(len(batch.source)))
    assert batch.n_molecules == 2 and int(batch.molecule.max()) == 1
    embedding = DMPNNEncoder(hidden=16)(batch)
    assert embedding.shape == (2, 16) and torch.isfinite(embedding).all()
    with pytest.raises(ValueError, match="cannot parse"):
        mol_graph("C1CC")


def test_arrhenius_readout_recovers_activation_energy_and_prefactor():
    smiles = repeat_units(60)
    ea = {s: 0.25 + 0.04 * counts(s, "O") for s in smiles}  # eV
    log10_a = {s: 1.0 + 0.05 * counts(s, "C") for s in smiles}
    temps = [300.0, 350.0, 400.0, 450.0, 500.0]
    bank = GraphBank()
    rows = bank.encode(smiles)[:, 0].long()
    pairs = [(r, s, T) for r, s in zip(rows.tolist(), smiles) for T in temps]
    data = TrainingSet(torch.tensor([p[0] for p in pairs]),
                       torch.tensor([log10_a[s] - ea[s] / (LN10_KB * T) for _, s, T in pairs], dtype=torch.float64),
                       torch.tensor([T for *_, T in pairs], dtype=torch.float64),
                       torch.zeros(len(pairs), dtype=torch.bool))
    net = train_member(bank, data, seed=0, epochs=150, hidden=64, batch_size=30, lr=3e-3)
    with torch.no_grad():
        params = net.arrhenius_parameters(bank.batch(rows.tolist()), torch.zeros(len(rows), dtype=torch.bool))
    true_ea = torch.tensor([ea[s] for s in smiles])
    true_a = torch.tensor([log10_a[s] for s in smiles])
    assert (params[:, 1] - true_ea).abs().mean() < 0.03  # eV
    assert (params[:, 0] - true_a).abs().mean() < 0.3  # log10 units (A and Ea trade off along one line)
    assert float(torch.corrcoef(torch.stack([params[:, 1], true_ea]))[0, 1]) > 0.9


def test_multi_fidelity_heads_beat_a_single_fidelity_model_on_scarce_expensive_data():
    smiles = repeat_units(160, seed=1)
    truth = {s: 0.5 * counts(s, "O") - 0.4 * counts(s, "N") + 0.3 * counts(s, "F") for s in smiles}
    cheap = {s: 0.8 * truth[s] + 1.0 for s in smiles}  # biased and scaled, but informative
    bank = GraphBank(periodic=False)  # the open form, as when this test was set: the heads are tested, not the graph
    rows = bank.encode(smiles)[:, 0].long()
    expensive_idx, test_idx = np.arange(20), np.arange(100, 160)
    T = 353.0

    def dataset(items):
        r, y, high = zip(*items)
        return TrainingSet(torch.tensor(r), torch.tensor(y, dtype=torch.float64), torch.full((len(r),), T),
                           torch.tensor(high))

    low = [(int(rows[i]), cheap[smiles[i]], False) for i in range(100)]
    high = [(int(rows[i]), truth[smiles[i]], True) for i in expensive_idx]
    settings = dict(seed=0, epochs=80, hidden=64, batch_size=30, lr=3e-3)
    multi = train_member(bank, dataset(low + high), high_weight=5.0, **settings)
    single = train_member(bank, dataset([(r, y, False) for r, y, _ in high]), **settings)
    test_rows = rows[test_idx].tolist()
    target = torch.tensor([truth[smiles[i]] for i in test_idx])
    with torch.no_grad():
        batch = bank.batch(test_rows)
        temps = torch.full((len(test_rows),), T)
        mae_multi = (multi(batch, temps, torch.ones(len(test_rows), dtype=torch.bool)) - target).abs().mean()
        mae_single = (single(batch, temps, torch.zeros(len(test_rows), dtype=torch.bool)) - target).abs().mean()
    assert mae_multi < 0.6 * mae_single, (float(mae_multi), float(mae_single))


def test_ensemble_is_a_botorch_model_that_acquisition_can_use():
    from amala.loop.acquisition import select

    smiles = repeat_units(80, seed=2)
    y = torch.tensor([0.5 * counts(s, "O") - 0.2 * counts(s, "C") for s in smiles], dtype=torch.float64)
    ensemble = GNNEnsemble(members=3, epochs=20, hidden=32, batch_size=20)
    X = ensemble.encode(smiles)
    ensemble.fit(X[:50], y[:50])
    mean, std = ensemble.predict(X[50:])
    assert mean.shape == std.shape == (30,) and (std > 0).all()
    # the std is widened to match the out-of-bag errors of the same networks, never narrowed
    raw = GNNEnsemble(ensemble.bank, members=3, epochs=20, hidden=32, batch_size=20, recalibrate=False)
    raw.fit(X[:50], y[:50])
    raw_mean, raw_std = raw.predict(X[50:])
    assert ensemble.std_scale >= 1.0 and raw.std_scale == 1.0
    assert torch.allclose(raw_mean, mean) and torch.allclose(raw_std * ensemble.std_scale, std)
    # a library's rows are scored from their text without joining the bank: the same numbers
    graphs = len(ensemble.bank.graphs)
    outside_mean, outside_std = ensemble.predict_representations(smiles[50:])
    assert torch.allclose(outside_mean, mean, atol=1e-6) and torch.allclose(outside_std, std, atol=1e-6)
    assert len(ensemble.bank.graphs) == graphs
    posterior = ensemble.model.posterior(X[50:55].unsqueeze(0))  # batch 1, q = 5
    assert posterior.mean.shape == (1, 5, 1) and (posterior.variance > 0).all()
    assert torch.allclose(posterior.mean.reshape(-1), mean[:5])
    assert posterior.rsample(torch.Size([4])).shape == (4, 1, 5, 1)
    for strategy in ("qlognei", "qucb", "thompson"):
        picks = select(strategy, ensemble, X[50:], X[:50], q=3, seed=0, mean=mean, std=std, mc_samples=32)
        assert len({p.index for p in picks}) == 3
    log10_a_ea, spread = ensemble.arrhenius(X[50:52])
    assert log10_a_ea.shape == spread.shape == (2, 2) and (log10_a_ea[:, 1] > 0).all()  # Ea in eV, positive
    with pytest.raises(ValueError, match="at least 2 members"):
        GNNEnsemble(members=1)


def test_coverage_of_a_calibrated_gaussian_is_68_and_95_percent():
    rng = np.random.default_rng(0)
    mean = rng.normal(size=20000)
    std = np.exp(rng.normal(size=20000) * 0.3)
    y = mean + std * rng.normal(size=20000)
    result = coverage(mean, std, y)
    assert result["within_1std"] == pytest.approx(0.683, abs=0.01)
    assert result["within_2std"] == pytest.approx(0.954, abs=0.01)
    over = coverage(mean, std / 3, y)  # an over-confident model covers far less
    assert over["within_1std"] < 0.35 and math.isfinite(over["mean_z2"])


def test_fidelity_labels_from_the_store_train_the_high_head_and_predictions_use_it():
    from amala.core.candidate import Candidate
    from amala.loop.campaign import Observations

    smiles = repeat_units(40, seed=4)
    y = torch.tensor([0.3 * counts(s, "O") for s in smiles], dtype=torch.float64)
    fidelities = ["quick" if i % 3 else "standard" for i in range(40)]  # e.g. short and long MD
    observed = Observations([Candidate(s) for s in smiles], y, None, fidelities)
    assert observed.high([]) is None
    high = observed.high(["standard"])
    assert high.sum() == 14 and not high[1] and high[0]

    ensemble = GNNEnsemble(members=2, epochs=5, hidden=32, batch_size=20)
    X = ensemble.encode(smiles)
    ensemble.fit(X, y, high=high)
    assert ensemble.target_high
    default, _ = ensemble.predict(X[:5])
    at_high, _ = ensemble.predict(X[:5], high=True)
    at_low, _ = ensemble.predict(X[:5], high=False)
    assert torch.allclose(default, at_high) and not torch.allclose(at_high, at_low)
    assert torch.allclose(ensemble.model.posterior(X[:5]).mean.reshape(-1), at_high)


def test_periodic_graph_closes_the_repeat_unit_at_its_end_markers():
    open_form, ring = mol_graph("[Cu]CCOC[Au]"), mol_graph("[Cu]CCOC[Au]", periodic=True)
    assert len(open_form.atoms) == 6 and len(ring.atoms) == 4  # markers gone
    assert len(ring.source) == 2 * 4  # 3 chain bonds + the closing bond, both directions
    # Both markers on one atom, or ends already bonded: nothing to close, the open form is kept.
    assert len(mol_graph("[Cu]C[Au]", periodic=True).atoms) == 3
    assert len(mol_graph("[Cu]CC[Au]", periodic=True).atoms) == 4
    bank = GraphBank()
    assert bank.periodic and len(bank.graphs[int(bank.encode(["[Cu]CCOC[Au]"])[0, 0])].atoms) == 4


def test_descriptors_are_scaled_on_training_molecules_and_join_the_embedding():
    from amala.models.descriptors import DescriptorScaler, descriptor_names

    smiles = repeat_units(60, seed=3)
    bank = GraphBank(descriptors=True)
    X = bank.encode(smiles)
    assert bank.n_descriptors == len(descriptor_names()) > 100
    raw = torch.stack([g.descriptors for g in bank.graphs])
    raw[0, 0] = float("nan")
    z = DescriptorScaler(raw.shape[1]).fit(raw[:40])(raw)
    assert torch.isfinite(z).all() and z.abs().max() <= 6.0 and float(z[0, 0]) == 0.0
    assert z[:40, raw[:40].std(0) > 0].mean(0).abs().max() < 0.35  # centred on the training rows
    y = torch.tensor([0.5 * counts(s, "O") for s in smiles], dtype=torch.float64)
    ensemble = GNNEnsemble(bank, members=2, epochs=5, hidden=32, batch_size=20).fit(X[:40], y[:40])
    mean, std = ensemble.predict(X[40:])
    assert torch.isfinite(mean).all() and (std > 0).all()
    assert ensemble.describe()["rdkit_descriptors"] == bank.n_descriptors


def test_auxiliary_heads_train_on_partly_missing_properties():
    smiles = repeat_units(60, seed=4)
    bank = GraphBank()
    X = bank.encode(smiles)
    y = torch.tensor([0.5 * counts(s, "O") for s in smiles], dtype=torch.float64)
    aux = torch.stack([y * 2 + 1, torch.tensor([float(counts(s, "N")) for s in smiles], dtype=torch.float64)], 1)
    aux[::3, 1] = float("nan")  # the second property was not measured for every polymer
    ensemble = GNNEnsemble(bank, members=2, epochs=5, hidden=32, batch_size=20).fit(X[:40], y[:40], auxiliary=aux[:40])
    assert all(net.auxiliary is not None and net.auxiliary[-1].out_features == 2 for net in ensemble.networks)
    mean, _ = ensemble.predict(X[40:])
    assert torch.isfinite(mean).all()
