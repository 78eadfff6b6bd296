"""`amala data fetch` against a local HTTP server on 127.0.0.1 (the real source is on GitHub,
which tests cannot reach); the served file has the upstream layout, extra columns included."""

import functools
import http.server
import threading

import pandas as pd
import pytest

from amala.oracles import datasets


@pytest.fixture
def served(tmp_path, htpmd_dir):
    upstream = pd.read_csv(htpmd_dir / "htpmd.csv")
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


def test_fetch_verifies_and_keeps_used_columns(served, tmp_path):
    path = datasets.fetch("htpmd", url=f"{served}/htpmd_upstream.csv", dest_dir=tmp_path / "cache")
    frame = pd.read_csv(path)
    assert list(frame.columns) == ["mol_smiles", *datasets.DATASETS["htpmd"].units]
    assert len(frame) == 6025
    table = datasets.load("htpmd", path)
    assert len(table.frame) == 6025 and table.units["conductivity"] == "S/cm"


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


def test_subset_is_seeded(htpmd_dir):
    a = datasets.load("htpmd", htpmd_dir / "htpmd.csv", subset=300, seed=1)
    b = datasets.load("htpmd", htpmd_dir / "htpmd.csv", subset=300, seed=1)
    assert len(a.frame) == 300 and a.frame.smiles.tolist() == b.frame.smiles.tolist()
