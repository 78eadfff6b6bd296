"""`amala data fetch` against a local HTTP server on 127.0.0.1 standing in for the download (the real
source is on GitHub, which tests cannot reach: no test needs the network); the served file has the
upstream layout, extra columns included, and HTP-MD's 6,025 rows, made up (conftest's synthetic
table), so it runs in any clone. Its bytes are not the published ones, so tests of the later checks
pass its own sha256, and the pinned hash refuses it. One test reads the real local copy, when there
is one, and checks that it loads whole and is a known copy of the published bytes. ChemArr's tables
are served the same way, in ChemArr's layout (blank molality and salt cells included), made of
tests/data/formulations_small.csv repeated to ChemArr's length; the real copy is tests/test_formulation.py's."""

import functools
import hashlib
import http.server
import threading
import warnings
from pathlib import Path

import pandas as pd
import pytest

from amala.core import datasets
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
    yield from _serve(tmp_path / "www")


def _serve(folder):
    """An HTTP server on 127.0.0.1 serving `folder`, for as long as the fixture lives."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_fetch_verifies_and_keeps_used_columns(served, tmp_path, upstream_sized):
    served_hash = _sha256(tmp_path / "www" / "htpmd_upstream.csv")
    path = datasets.fetch("htpmd", url=f"{served}/htpmd_upstream.csv", dest_dir=tmp_path / "cache",
                          sha256=served_hash)
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
    file = tmp_path / "www" / name
    with pytest.raises(datasets.DatasetError, match=message):  # bytes as pinned: the next check refuses it
        datasets.fetch("htpmd", url=f"{served}/{name}", dest_dir=cache, sha256=_sha256(file) if file.exists() else None)
    assert (cache / "htpmd.csv").read_text() == "previous copy"


def test_a_download_with_other_bytes_than_the_pinned_ones_is_refused(served, tmp_path):
    """The served table has every column and row amala checks, but it is not the published file."""
    cache = tmp_path / "cache"
    served_hash = _sha256(tmp_path / "www" / "htpmd_upstream.csv")
    with pytest.raises(datasets.DatasetError) as error:
        datasets.fetch("htpmd", url=f"{served}/htpmd_upstream.csv", dest_dir=cache)
    pinned = datasets.DATASETS["htpmd"].sha256
    assert str(error.value) == (f"{served}/htpmd_upstream.csv: sha256 mismatch for htpmd.csv: expected {pinned}, "
                                f"got {served_hash}; download refused")
    assert not (cache / "htpmd.csv").exists()


def test_a_local_copy_that_is_not_the_published_file_warns(synthetic_data_dir):
    file = synthetic_data_dir / "htpmd.csv"
    with pytest.warns(datasets.UnverifiedCopy, match=f"{file}: sha256 {_sha256(file)} is not the published"):
        table = datasets.load("htpmd", file, subset=10)
    assert not table.verified and table.sha256 == _sha256(file)


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
    assert htpmd_table.verified and htpmd_table.sha256 in datasets.DATASETS["htpmd"].known_copies
    with warnings.catch_warnings():
        warnings.simplefilter("error", datasets.UnverifiedCopy)  # a known copy loads without a warning
        datasets.load("htpmd", htpmd_table.source)


CHEMARR_ROWS = 10114


@pytest.fixture
def served_chemarr(tmp_path):
    """A ChemArr-layout table as long as the published one, and a copy with a blank temperature."""
    small = pd.read_csv(Path(__file__).parents[1] / "data" / "formulations_small.csv", dtype={"salt smiles": str})
    table = pd.concat([small] * (CHEMARR_ROWS // len(small) + 1), ignore_index=True).head(CHEMARR_ROWS)
    (tmp_path / "www").mkdir()
    table.to_csv(tmp_path / "www" / "clean_train_data.csv", index=False)
    table.assign(temperature=table.temperature.where(table.index != 5)).to_csv(tmp_path / "www" / "blank_t.csv",
                                                                                index=False)
    yield from _serve(tmp_path / "www")


def test_chemarr_fetch_keeps_the_published_bytes_where_amala_reads_them(served_chemarr, tmp_path, monkeypatch):
    served = tmp_path / "www" / "clean_train_data.csv"
    path = datasets.fetch("chemarr", url=f"{served_chemarr}/clean_train_data.csv", dest_dir=tmp_path / "cache",
                          sha256=_sha256(served))
    assert path == tmp_path / "cache" / "chemarr" / "clean_train_data.csv"  # AMALA_DATA_DIR=../shared/data layout
    assert path.read_bytes() == served.read_bytes()  # every column is used: no rewrite, the sha256 survives
    monkeypatch.setenv("AMALA_DATA_DIR", str(tmp_path / "cache"))
    assert datasets.resolve_path("chemarr") == path
    with pytest.warns(datasets.UnverifiedCopy):  # the served bytes are not the published ones
        table = datasets.load("chemarr")
    assert len(table.frame) == CHEMARR_ROWS - len(table.dropped)  # one row per measurement, not per polymer
    assert set(table.dropped) == {"[Cu]CC(C(=O)[N-]S(=O)(=O)C(F)(F)F)[Au]", "CCO"}  # not valid repeat units
    assert table.units == {"log10_conductivity": "log10(S/cm)", "mw": "g/mol", "molality": "mol/kg",
                           "temperature_C": "degC"}
    assert {"smiles", "salt_smiles", "log10_conductivity", "temperature_C"} <= set(table.frame.columns)
    assert table.frame.molality.isna().any() and table.frame.mw.isna().any()  # blank = not reported, kept as NaN
    assert (table.frame.log10_conductivity < 0).all()  # already log10: not a column anyone takes the log of again


def test_chemarr_refuses_a_blank_where_a_value_is_required(served_chemarr, tmp_path):
    served = tmp_path / "www" / "blank_t.csv"
    with pytest.raises(datasets.DatasetError, match="column 'temperature' has blank, non-numeric or non-finite values"):
        datasets.fetch("chemarr", url=f"{served_chemarr}/blank_t.csv", dest_dir=tmp_path / "cache",
                       sha256=_sha256(served))
    with pytest.raises(datasets.DatasetError, match="sha256 mismatch for chemarr/clean_train_data.csv"):
        datasets.fetch("chemarr", url=f"{served_chemarr}/clean_train_data.csv", dest_dir=tmp_path / "cache")
    assert not (tmp_path / "cache" / "chemarr" / "clean_train_data.csv").exists()


def test_chemarr_is_pinned_to_one_commit():
    for name in ("chemarr", "chemarr_screen"):
        spec = datasets.spec(name)
        assert "/39b0c16f70c4142b32a67531a093718c767ad43d/data/" in spec.url and spec.filename.startswith("chemarr/")
        assert "MIT" in spec.license and "ACS Cent. Sci. 9, 206 (2023)" in spec.citation
    assert datasets.spec("chemarr_screen").units["mw"] == "log10(g/mol)"  # unlike the training file's g/mol


def test_data_list_shows_every_registered_dataset_and_its_local_copy(tmp_path, monkeypatch):
    import json

    from typer.testing import CliRunner

    from amala.core import sciglass
    from amala.core.datasets import DATASETS
    from amala.flows.cli import app

    monkeypatch.setenv("AMALA_DATA_DIR", str(tmp_path))
    (tmp_path / "htpmd.csv").write_text("smiles\n")
    result = CliRunner().invoke(app, ["data", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in map(json.loads, result.output.splitlines())}
    assert set(rows) == set(DATASETS) | {sciglass.NAME}  # SciGlass's glasses: derived from a pinned wheel
    assert rows[sciglass.NAME]["sha256"] == sciglass.SHA256 and rows[sciglass.NAME]["license"].startswith("ODbL")
    rows.pop(sciglass.NAME)
    assert rows["htpmd"]["local_copy"] == str(tmp_path / "htpmd.csv") and rows["chemarr"]["local_copy"] is None
    assert all(row["sha256"] == DATASETS[name].sha256 and row["license"] and row["source"].startswith("https://")
               for name, row in rows.items())
    table = CliRunner().invoke(app, ["data", "list"])
    assert table.exit_code == 0 and DATASETS["htpmd"].url.replace("/", "") in table.output.replace("\n", "")\
        .replace("│", "").replace(" ", "").replace("/", "")
