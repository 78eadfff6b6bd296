"""Shared fixtures. The HTP-MD table is read from $AMALA_DATA_DIR (the Makefile points it at
../shared/data); tests that need it are skipped with a clear reason when no copy exists."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

torch.set_num_threads(2)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO.parent / "shared" / "data"


def _htpmd_dir() -> Path | None:
    for folder in (os.environ.get("AMALA_DATA_DIR"), DEFAULT_DATA_DIR):
        if folder and (Path(folder) / "htpmd.csv").is_file():
            return Path(folder)
    return None


@pytest.fixture(scope="session")
def htpmd_dir() -> Path:
    folder = _htpmd_dir()
    if folder is None:
        pytest.skip("no local HTP-MD copy: set AMALA_DATA_DIR or run `amala data fetch htpmd`")
    return folder


@pytest.fixture(scope="session")
def htpmd_table(htpmd_dir):
    from amala.oracles import datasets

    return datasets.load("htpmd", htpmd_dir / "htpmd.csv")


@pytest.fixture
def data_env(htpmd_dir, monkeypatch, tmp_path):
    """Run in a temporary folder with the data dir set, as a user would after a fetch."""
    monkeypatch.setenv("AMALA_DATA_DIR", str(htpmd_dir))
    monkeypatch.delenv("AMALA_DB_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def prefect_server():
    """A temporary Prefect API (SQLite) for flow tests, torn down at the end of the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
