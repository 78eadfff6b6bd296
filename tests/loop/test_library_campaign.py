"""A campaign over a 20,000-row library file through the real Prefect flow: the library agent hands
the file over, the campaign scores it in chunks from its fingerprint cache (built once, next to the
file, and reused on resume) and only shortlisted rows become candidates. Oracle: the emulator (a
model, labelled as such), since generated polymers cannot be looked up."""

import itertools

import numpy as np
import pandas as pd
import pytest
import yaml

from amala.flows.campaign_flow import campaign_flow
from amala.loop.campaign import Campaign
from amala.loop.config import load_config

pytestmark = [pytest.mark.slow, pytest.mark.flow]

PARTS = ["CC", "OCC", "CCO", "C(C)C", "C(F)C", "N(C)C", "COC", "C(=O)O", "SCC", "C(C#N)C"]


def _library(path, n=20_000, seed=0):
    """n repeat units enumerated from fragments (2-5 of them, shuffled), plus two bad rows."""
    combos = [c for k in range(2, 6) for c in itertools.product(PARTS, repeat=k)]
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(combos), size=n - 2, replace=False)
    smiles = ["[Cu]" + "".join(combos[i]) + "[Au]" for i in picks] + ["not a polymer", "[Cu]CC"]
    pd.DataFrame({"smiles": smiles, "batch_tag": np.arange(n) % 7}).to_csv(path, index=False)
    return path


def test_a_campaign_over_a_20000_row_library_through_the_flow(data_env, prefect_server):
    library = _library(data_env / "library.csv")
    config = {
        "name": "lib", "seed": 2,
        "data": {"dataset": "htpmd", "subset": 300},  # the emulator's training table, not the pool
        "objective": {"property": "conductivity", "direction": "maximize", "transform": "log10"},
        "agents": [{"kind": "library", "path": str(library)}],
        "oracle": {"kind": "emulator", "properties": ["conductivity"]},
        "acquisition": {"strategy": "qlognei", "batch_size": 6, "prescreen": 100, "mc_samples": 32},
        "budget": {"initial": 10, "max_evaluations": 22},
    }
    path = data_env / "lib.yaml"
    path.write_text(yaml.safe_dump(config))
    result = campaign_flow(str(path), max_iterations=2)  # stops after 2 batches: 16 evaluations
    assert result["evaluations"] == 16
    cache = next(data_env.glob("library.csv.fp-*.npy"))
    built = cache.stat().st_mtime_ns

    result = campaign_flow(str(path))  # resumes: the cache is reused, not rebuilt
    assert result["evaluations"] == 22
    assert cache.stat().st_mtime_ns == built

    campaign = Campaign(load_config(path))
    rows = campaign.store.evaluations(campaign.id)
    assert len({c.key for c, _ in rows}) == 22  # no candidate twice
    frame = pd.read_csv(library)
    for candidate, evaluation in rows:
        provenance = candidate.provenance
        assert provenance["library"] == str(library.resolve())
        assert frame.smiles[provenance["row"]] != "not a polymer"  # invalid rows are never proposed
        assert evaluation.fidelity == "emulated"
    iterations = campaign.store.iterations(campaign.id)
    assert [it.n_scored for it in iterations] == [19_998] * len(iterations)  # every valid row scored
