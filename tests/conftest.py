"""Shared fixtures.

Every test runs in a plain clone: tests that need *some* polymers get a synthetic HTP-MD-shaped
table written for the session (`synthetic_polymer_table`, `synthetic_data_dir`, `synthetic_table`,
`synthetic_htpmd`, and `data_env`, which points AMALA_DATA_DIR at it). Only tests that measure
something about the real HTP-MD table use `htpmd_dir`/`htpmd_table`; those read it from
$AMALA_DATA_DIR (the Makefile points it at ../shared/data) or ../shared/data next to the clone, and
are skipped with a clear reason when no copy exists.

`AMALA_NO_SHARED=1` ignores ../shared/data (only $AMALA_DATA_DIR counts), to see what a clone with
no ../shared next to it runs: `AMALA_NO_SHARED=1 AMALA_DATA_DIR=/tmp/empty pytest -rs`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

torch.set_num_threads(2)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO.parent / "shared" / "data"
SYNTHETIC_ROWS = 400  # the session's synthetic table: enough for `subset: 300` to be a real subset


def _htpmd_dir() -> Path | None:
    folders = [os.environ.get("AMALA_DATA_DIR")]
    if not os.environ.get("AMALA_NO_SHARED"):
        folders.append(DEFAULT_DATA_DIR)
    for folder in folders:
        if folder and (Path(folder) / "htpmd.csv").is_file():
            return Path(folder)
    return None


@pytest.fixture(scope="session")
def htpmd_dir() -> Path:
    """The folder with the real HTP-MD table, for tests about that table; skips without one."""
    folder = _htpmd_dir()
    if folder is None:
        pytest.skip("no local HTP-MD copy: set AMALA_DATA_DIR or run `amala data fetch htpmd`")
    return folder


@pytest.fixture(scope="session")
def htpmd_table(htpmd_dir):
    from amala.core import datasets

    return datasets.load("htpmd", htpmd_dir / "htpmd.csv")


@pytest.fixture(scope="session")
def synthetic_data_dir(tmp_path_factory) -> Path:
    """A data folder holding a synthetic `htpmd.csv` of SYNTHETIC_ROWS polymers, written once per
    session, where `datasets.load("htpmd")` finds it when AMALA_DATA_DIR points here."""
    folder = tmp_path_factory.mktemp("synthetic_data")
    synthetic_polymer_table(folder / "htpmd.csv", n=SYNTHETIC_ROWS)
    return folder


@pytest.fixture(scope="session")
def synthetic_table(synthetic_data_dir):
    """The session's synthetic table, loaded (canonical SMILES in `smiles`, units)."""
    from amala.core import datasets

    return datasets.load("htpmd", synthetic_data_dir / "htpmd.csv")


@pytest.fixture
def data_env(synthetic_data_dir, monkeypatch, tmp_path):
    """Run in a temporary folder with AMALA_DATA_DIR at the synthetic table, as a user would after a
    fetch: configs that name `dataset: htpmd` without a path read the synthetic `htpmd.csv`."""
    monkeypatch.setenv("AMALA_DATA_DIR", str(synthetic_data_dir))
    monkeypatch.delenv("AMALA_DB_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def prefect_server():
    """A temporary Prefect API (SQLite) for flow tests, torn down at the end of the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


FRAGMENTS = ["CC", "OCC", "CCO", "C(C)C", "C(F)C", "C(=O)O", "N(C)C", "COC", "CC(O)C", "C(CC)C", "OC(=O)C",
             "C(C#N)C", "c1ccc(cc1)", "C(Cl)C", "CS(=O)(=O)", "OP(=O)(OC)O"]


def synthetic_polymer_table(path: Path, n: int = 200, seed: int = 0) -> Path:
    """An HTP-MD-shaped CSV of `n` valid repeat units with made-up transport values that depend on
    the structure (ether oxygens help, rings hurt), so surrogates have something to learn. For tests
    that need *some* polymers, not HTP-MD's: it works in a clone without ../shared."""
    import itertools
    import random

    import numpy as np
    import pandas as pd

    from amala.core.polymer import InvalidPolymer, canonical_smiles

    rng = random.Random(seed)
    seen, rows = set(), []
    combos = [c for k in (2, 3) for c in itertools.product(FRAGMENTS, repeat=k)]
    rng.shuffle(combos)
    if n > 4000:  # two and three fragments give ~4,300 distinct units; four more for HTP-MD-sized tables
        longer = list(itertools.product(FRAGMENTS, repeat=4))
        random.Random(seed + 1).shuffle(longer)
        combos += longer
    for combo in combos:
        smiles = "[Cu]" + "".join(combo) + "[Au]"
        try:
            key = canonical_smiles(smiles)
        except InvalidPolymer:
            continue
        if key in seen:
            continue
        seen.add(key)
        score = smiles.count("O") - 2 * smiles.count("c1") + 0.5 * smiles.count("N") + rng.gauss(0, 0.3)
        sigma = 10 ** (-5 + 0.3 * score)
        rows.append({"mol_smiles": smiles, "conductivity": sigma, "li_diffusivity": sigma * 1e-3,
                     "tfsi_diffusivity": sigma * 2e-3, "poly_diffusivity": sigma * 5e-4,
                     "transference_number": float(np.clip(0.2 + 0.05 * score, 0.01, 0.99)), "molarity": 1.4})
        if len(rows) == n:
            break
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture
def synthetic_htpmd(tmp_path) -> Path:
    """A 200-polymer HTP-MD-shaped table written for the test (see `synthetic_polymer_table`)."""
    return synthetic_polymer_table(tmp_path / "synthetic_htpmd.csv")
