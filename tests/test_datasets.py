"""`amala data fetch` against a local HTTP server on 127.0.0.1 (the real source is on GitHub,
which tests cannot reach); the served file has the upstream layout, extra columns included, and
HTP-MD's 6,025 rows, made up (conftest's synthetic table), so it runs in any clone. One test reads
the real local copy, when there is one, and checks that it loads whole."""

import functools
import http.server
import threading

import pandas as pd
import pytest

from amala.oracles import datasets
from conftest import synthetic_polymer_table

HTPMD_ROWS = 6025


@pytest.fixture(scope="module")
def upstream_sized(tmp_path_factory):
    """A synthetic table as long as HTP-MD (the fetch checks the row count)."""
    return synthetic_polymer_table(tmp_path_factory.mktemp("upstream") / "htpmd.csv", n=HTPMD_ROWS)


@pytest.fixture
def served(tmp_path, upstream_sized):
    upstream = pd.read_csv(upstream_sized)
    assert len(upstream) == HTPMD_ROWS
    upstream.insert(0, "trajectory_id", range(len(upstream)))
    upstream["poly_smiles"] = "C"
    (tmp_path / "www").mkdir()
    upstream.to_csv(tmp_path / "www" / "htpmd_upstream.csv", index=False)
    upstream.head(10).to_csv(tmp_path / "www" / "short.csv", index=False)
    (tmp_path / "www" / "garbage.csv").write_bytes(b"\x00\xff not a table \x00")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "www"))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_fetch_verifies_and_keeps_used_columns(served, tmp_path, upstream_sized):
    path = datasets.fetch("htpmd", url=f"{served}/htpmd_upstream.csv", dest_dir=tmp_path / "cache")
    frame = pd.read_csv(path)
    assert list(frame.columns) == ["mol_smiles", *datasets.DATASETS["htpmd"].units]
    assert len(frame) == HTPMD_ROWS
    assert frame.conductivity.tolist() == pd.read_csv(upstream_sized).conductivity.tolist()  # values kept as served
    table = datasets.load("htpmd", path)
    assert len(table.frame) == HTPMD_ROWS and table.units["conductivity"] == "S/cm"


@pytest.mark.parametrize("name, message", [("short.csv", "10 rows, expected at least 6000"),
                                           ("missing.csv", "could not download"),
                                           ("garbage.csv", "missing column|not a readable CSV")])
def test_bad_download_is_refused_and_cache_kept(served, tmp_path, name, message):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "htpmd.csv").write_text("previous copy")
    with pytest.raises(datasets.DatasetError, match=message):
        datasets.fetch("htpmd", url=f"{served}/{name}", dest_dir=cache)
    assert (cache / "htpmd.csv").read_text() == "previous copy"


def test_missing_local_copy_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("AMALA_DATA_DIR", str(tmp_path))
    with pytest.raises(datasets.DatasetError, match="amala data fetch htpmd"):
        datasets.load("htpmd")


def test_subset_is_seeded(synthetic_data_dir):
    a = datasets.load("htpmd", synthetic_data_dir / "htpmd.csv", subset=300, seed=1)
    b = datasets.load("htpmd", synthetic_data_dir / "htpmd.csv", subset=300, seed=1)
    c = datasets.load("htpmd", synthetic_data_dir / "htpmd.csv", subset=300, seed=2)
    assert len(a.frame) == 300 and a.frame.smiles.tolist() == b.frame.smiles.tolist()
    assert a.frame.smiles.tolist() != c.frame.smiles.tolist()  # the seed, not the file order, picks the rows


def test_the_real_htpmd_copy_loads_whole(htpmd_table):
    """Needs the real table (skipped without one): it is about that file, not about the loader. Every
    one of HTP-MD's 6,025 rows is a valid repeat unit, with the units the registry promises."""
    assert len(htpmd_table.frame) == 6025 and htpmd_table.dropped == []
    assert htpmd_table.frame.smiles.is_unique and (htpmd_table.frame.conductivity > 0).all()
    assert htpmd_table.units == datasets.DATASETS["htpmd"].units
