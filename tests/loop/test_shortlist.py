"""Streaming top-k equals a full sort, and a library's shortlist equals the in-memory prescreen."""

import numpy as np
import pandas as pd
import pytest
import torch

from amala.loop.acquisition import select
from amala.loop.library_source import LibrarySource
from amala.loop.shortlist import TopK, shortlist
from amala.models.featurizer import MorganFeaturizer
from amala.models.gp import TanimotoGP
from amala.models.similarity import FingerprintBank


@pytest.mark.parametrize("chunk", [1, 7, 100, 5000])
def test_streaming_top_k_equals_the_first_k_of_a_full_stable_sort(chunk):
    rng = np.random.default_rng(0)
    values = rng.integers(0, 50, size=3000).astype(float)  # many ties: order among them by row
    values[::97] = np.nan  # NaN ranks last
    top = TopK(40)
    for start in range(0, len(values), chunk):
        top.push(values[start:start + chunk], np.arange(start, min(start + chunk, len(values))))
    rows, kept = top.result()
    expected = np.lexsort((np.arange(len(values)), -np.nan_to_num(values, nan=-np.inf)))[:40]
    assert rows.tolist() == expected.tolist()
    assert np.array_equal(kept, values[expected])
    with pytest.raises(ValueError, match="k must be"):
        TopK(0)


def _polymers(n=400, seed=0):
    rng = np.random.default_rng(seed)
    parts = ["OCC", "CC", "NCC", "C(C)C", "SCC", "OC(=O)", "C(F)C"]
    found = set()
    while len(found) < n:
        found.add("[Cu]" + "".join(rng.choice(parts, size=rng.integers(2, 8))) + "[Au]")
    return sorted(found)


def test_a_library_shortlist_and_batch_equal_the_in_memory_prescreen_and_batch(tmp_path):
    """The same fitted GP picks the same batch from a library file (scored in chunks from its
    fingerprint cache) as from the same polymers listed in memory (today's path)."""
    from amala.core.validity import candidate_from_text

    smiles = [candidate_from_text(s, "smiles", "t").representation for s in _polymers()]
    smiles = list(dict.fromkeys(smiles))
    y = torch.tensor([s.count("O") - 0.5 * s.count("S") + 0.1 * len(s) for s in smiles], dtype=torch.float64)
    featurizer = MorganFeaturizer()
    bank = FingerprintBank(featurizer)
    train, pool = smiles[:60], smiles[60:]
    gp = TanimotoGP(bank).fit(bank.encode(train), y[:60])
    path = tmp_path / "lib.csv"
    pd.DataFrame({"smiles": pool[::-1] + ["not a smiles", "[Cu]C(F)(F)[Au]x"]}).to_csv(path, index=False)
    source = LibrarySource(path, "library").prepare(featurizer)
    assert len(source) == len(pool) + 2 and source.valid.sum() == len(pool)

    X_pool = bank.encode(pool)
    mean, std = gp.predict(X_pool)
    k = 50
    listed = [pool[i] for i in torch.argsort(mean + 2.0 * std, descending=True)[:k]]
    shortlisted = shortlist(gp, [source], k, skip=set(), chunk=64)
    assert [c.representation for c in shortlisted] == listed
    assert all(c.metadata["library"] == str(path.resolve()) for c in shortlisted)
    assert [pool[::-1][c.metadata["row"]] for c in shortlisted] == listed

    X_short = bank.encode(listed)
    m_short, s_short = gp.predict(X_short)
    X_train = bank.encode(train)
    in_memory = select("qlognei", gp, X_pool, X_train, q=5, seed=3, mean=mean, std=std, prescreen=k, mc_samples=32)
    from_library = select("qlognei", gp, X_short, X_train, q=5, seed=3, mean=m_short, std=s_short, prescreen=k,
                          mc_samples=32)
    assert [pool[p.index] for p in in_memory] == [listed[p.index] for p in from_library]

    known = {shortlisted[0].key, shortlisted[3].key}  # evaluated already: skipped, the next ones move up
    again = shortlist(gp, [source], k, skip=known, chunk=64)
    assert [c.representation for c in again] == [s for s in listed if s not in
                                                 {shortlisted[0].representation, shortlisted[3].representation}] \
        + [c.representation for c in again[-2:]]
    assert len(again) == k and not known & {c.key for c in again}


def test_a_surrogate_without_fingerprint_scoring_shortlists_from_the_rows_text(tmp_path):
    """The random forest has neither `predict_bits` nor `predict_representations`: the library's valid
    rows are encoded from their text a chunk at a time, with the same ranking as the listed pool."""
    from amala.models.random_forest import RandomForest

    smiles = _polymers(200, seed=1)
    y = torch.tensor([s.count("O") - 0.5 * s.count("S") for s in smiles], dtype=torch.float64)
    forest = RandomForest(MorganFeaturizer(radius=2), n_estimators=30, seed=0, n_jobs=1)
    forest.fit(forest.encode(smiles[:50]), y[:50])
    pool = smiles[50:]
    path = tmp_path / "lib.csv"
    pd.DataFrame({"smiles": ["CC(", *pool]}).to_csv(path, index=False)
    source = LibrarySource(path, "library").prepare()
    mean, std = forest.predict(forest.encode(pool))
    order = np.lexsort((np.arange(len(pool)), -(mean + 2.0 * std).numpy()))[:20]
    listed = [pool[i] for i in order]
    from amala.core.validity import candidate_from_text

    assert [c.representation for c in shortlist(forest, [source], 20, skip=set(), chunk=64)] == \
        [candidate_from_text(s, "smiles", "t").representation for s in listed]
