"""Candidate libraries: `amala library build` (valid, canonical, unique, the same bytes for a seed),
the chunked reader (CSV and Parquet, no row lost at chunk boundaries), the fingerprint cache (the
featurizer's own bits, reused, rebuilt when the file changes), `amala library info`, one-line errors."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from amala.agents.library_build import MAX_ROWS, build, max_workers, scan
from amala.core.library import ChunkWriter, LibraryError, open_library, read_chunks
from amala.core.polymer import canonical_smiles
from amala.flows.cli import app
from amala.models.featurizer import MorganFeaturizer
from amala.models.fingerprint_cache import cache_status, open_cache

N = 600


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("library")
    about = build(folder / "lib.csv", N, seed=3, workers=2)
    return folder, about


def test_build_gives_n_valid_canonical_unique_rows(built):
    folder, about = built
    frame = pd.read_csv(folder / "lib.csv")
    assert len(frame) == N == about["rows"]
    assert all(canonical_smiles(s) == s for s in frame.smiles)
    assert frame.smiles.is_unique
    assert set(frame.origin) >= {"seed", "crossover"} and (frame.generation >= 1).any()
    grown = frame[frame.generation >= 1]  # every generated row names parents made before it
    assert (grown.parent_a < grown.index).all() and (grown.parent_b < grown.index).all()
    assert json.loads((folder / "lib.csv.build.json").read_text())["seed"] == 3


def test_build_is_the_same_file_for_a_seed_whatever_the_workers(built, tmp_path):
    folder, _ = built
    build(tmp_path / "again.csv", N, seed=3, workers=1)
    assert (tmp_path / "again.csv").read_bytes() == (folder / "lib.csv").read_bytes()
    build(tmp_path / "other.csv", N, seed=4, workers=1)
    assert (tmp_path / "other.csv").read_bytes() != (folder / "lib.csv").read_bytes()


def test_chunks_keep_every_row_in_order(built):
    folder, _ = built
    whole = pd.read_csv(folder / "lib.csv")
    for size in (1, 7, N - 1, N, 5 * N):
        frames = list(read_chunks(folder / "lib.csv", chunksize=size))
        assert all(len(f) <= size for f in frames)
        joined = pd.concat(frames)
        assert list(joined.index) == list(range(N))
        pd.testing.assert_frame_equal(joined, whole)
    assert open_library(folder / "lib.csv").count_rows() == N


def test_parquet_gives_the_same_rows_as_csv(built, tmp_path):
    pytest.importorskip("pyarrow", reason="Parquet libraries need pyarrow, which amala does not install")
    folder, _ = built
    build(tmp_path / "lib.parquet", N, seed=3, workers=1)
    csv = pd.concat(read_chunks(folder / "lib.csv", chunksize=97))
    parquet = pd.concat(read_chunks(tmp_path / "lib.parquet", chunksize=97))
    pd.testing.assert_frame_equal(parquet, csv, check_dtype=False)


def test_fingerprint_cache_holds_the_featurizers_bits_and_is_reused(built, tmp_path):
    folder, _ = built
    library = tmp_path / "lib.csv"
    rows = pd.read_csv(folder / "lib.csv").head(200)
    rows.loc[5, "smiles"] = "not a polymer"
    rows.to_csv(library, index=False)
    cache = open_cache(library, {"radius": 3, "n_bits": 256, "counts": True, "count_cap": 4}, workers=2)
    assert cache.built and len(cache) == 200 and cache.packed.shape == (200, 256 * 4 // 8)
    assert isinstance(cache.packed, np.memmap)
    featurizer = MorganFeaturizer(radius=3, n_bits=256, counts=True, count_cap=4)
    smiles = [s for i, s in enumerate(rows.smiles) if i != 5]
    bits = cache.bits(0, 200)
    assert bits.dtype == featurizer(smiles[:1]).dtype
    assert bool((bits[[i for i in range(200) if i != 5]] == featurizer(smiles)).all())
    assert not cache.valid[5] and cache.valid.sum() == 199 and bits[5].sum() == 0
    assert sum(len(chunk) for _, chunk in cache.chunks(64)) == 200

    again = open_cache(library, {"radius": 3, "n_bits": 256, "counts": True, "count_cap": 4})
    assert not again.built and np.array_equal(np.asarray(again.packed), np.asarray(cache.packed))
    assert [c["current"] for c in cache_status(library)] == [True]

    rows.loc[0, "smiles"] = "[Cu]CCCCO[Au]" if rows.smiles[0] != "[Cu]CCCCO[Au]" else "[Cu]CCO[Au]"
    rows.to_csv(library, index=False)
    os.utime(library, ns=(1, 1))  # even with an old timestamp, the content decides
    assert [c["current"] for c in cache_status(library)] == [False]
    rebuilt = open_cache(library, {"radius": 3, "n_bits": 256, "counts": True, "count_cap": 4}, workers=1)
    assert rebuilt.built
    assert bool((rebuilt.bits(0, 1) == featurizer([canonical_smiles(rows.smiles[0])])).all())


def test_library_info_counts_valid_invalid_and_duplicates(tmp_path):
    library = tmp_path / "mixed.csv"
    pd.DataFrame({"smiles": ["[Cu]CCO[Au]", "[Au]OCC[Cu]", "C1CC1", "[Cu]CC(C)O[Au]", None],
                  "note": ["a", "b", "c", "d", "e"]}).to_csv(library, index=False)
    about = scan(library, workers=1)
    assert (about["rows"], about["valid_unique"], about["duplicates"], about["invalid"]) == (5, 2, 1, 2)
    result = CliRunner().invoke(app, ["library", "info", str(library), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "5 rows" in result.output and "duplicates 1" in result.output and "fingerprint cache: none" in result.output
    result = CliRunner().invoke(app, ["library", "info", str(library), "--workers", "1", "--json"])
    assert json.loads(result.output)["invalid"] == 2


def test_a_library_without_a_smiles_column_is_one_line(tmp_path):
    library = tmp_path / "bad.csv"
    library.write_text("name,value\nPEO,1\n")
    with pytest.raises(LibraryError, match="no representation column"):
        open_library(library)
    result = CliRunner().invoke(app, ["library", "info", str(library)])
    assert result.exit_code == 2
    assert "bad.csv" in result.output and "no representation column" in result.output
    assert len(result.output.strip().splitlines()) == 1
    for name, text, problem in (("empty.csv", "", "empty file"), ("lib.txt", "smiles\n", "unknown format")):
        (tmp_path / name).write_text(text)
        with pytest.raises(LibraryError, match=problem):
            open_library(tmp_path / name)


def _refused(*args) -> str:
    """`amala library ARGS` refused as every amala error is: exit code 2 and one line (returned)."""
    result = CliRunner().invoke(app, ["library", *args])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1, (args, result.exit_code, result.output, result.exception)
    return lines[0]


@pytest.mark.timeout(120)  # before the bound, --n 10^12 ran until killed
def test_build_refuses_up_front_a_row_count_or_worker_count_out_of_bounds(tmp_path):
    out = tmp_path / "huge.csv"
    assert "--n must be 1 to 10,000,000, not 1,000,000,000,000" in _refused("build", str(out), "--n", str(10**12))
    with pytest.raises(LibraryError, match="--n must be 1 to"):
        build(out, MAX_ROWS + 1, workers=1)
    for workers in ("0", "-3", str(max_workers() + 1), "100000"):
        for command in (["build", str(out), "--n", "5"], ["info", str(out)], ["fingerprints", str(out)]):
            assert f"--workers must be 1 to {max_workers()}" in _refused(*command, "--workers", workers)
    assert not any(tmp_path.iterdir())  # nothing was written


def test_build_overwrites_a_file_only_with_force_and_never_its_seeds_file(tmp_path):
    seeds = tmp_path / "seeds.csv"
    build(seeds, 3, workers=1)
    before = seeds.read_bytes()
    for force in ([], ["--force"]):
        said = _refused("build", str(seeds), "--n", "5", "--workers", "1", "--seeds-file",
                        str(tmp_path / "." / "seeds.csv"), *force)
        assert "seeds.csv: that is the seeds file" in said
    assert seeds.read_bytes() == before
    out = tmp_path / "lib.csv"
    out.write_text("smiles\n[Cu]CCO[Au]\n")
    assert "lib.csv: exists; pass --force" in _refused("build", str(out), "--n", "5", "--workers", "1")
    assert out.read_text() == "smiles\n[Cu]CCO[Au]\n"
    result = CliRunner().invoke(app, ["library", "build", str(out), "--n", "5", "--workers", "1", "--force"])
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out)) == 5


def test_build_os_errors_are_one_line_naming_the_file(tmp_path):
    (tmp_path / "folder.csv").mkdir()
    for out, said in (("/dev/null/x.csv", "/dev/null is not a folder"),
                      (tmp_path / "folder.csv", "a folder of that name exists"),
                      (tmp_path / "missing" / "x.csv", "its folder"),
                      (tmp_path / ("x" * 5000 + ".csv"), "File name too long")):
        line = _refused("build", str(out), "--n", "5", "--workers", "1")
        assert line.startswith(f"error: library {out}: ") and said in line, line
    assert "cannot read it: Is a directory" in _refused("build", str(tmp_path / "x.csv"), "--n", "5", "--seeds-file",
                                                        str(tmp_path))
    # the folder gone mid-build (or a full disk): one line, and no half-written file left behind
    (tmp_path / "gone").mkdir()
    writer = ChunkWriter(tmp_path / "gone" / "x.csv")
    writer.write(pd.DataFrame({"smiles": ["[Cu]CCO[Au]"]}))
    shutil.rmtree(tmp_path / "gone")
    with pytest.raises(LibraryError, match=r"x.csv: cannot write it: No such file"):
        writer.write(pd.DataFrame({"smiles": ["[Cu]CO[Au]"]}))


def test_info_and_fingerprints_os_errors_are_one_line_naming_the_file(tmp_path):
    (tmp_path / "folder.csv").mkdir()
    for command in ("info", "fingerprints"):
        assert "missing.csv: no such file" in _refused(command, str(tmp_path / "missing.csv"))
        assert "folder.csv: a folder, not a library file" in _refused(command, str(tmp_path / "folder.csv"))
        assert "File name too long" in _refused(command, str(tmp_path / ("x" * 5000 + ".csv")))
    library = tmp_path / "lib.csv"
    library.write_text("smiles\n[Cu]CCO[Au]\n")
    (tmp_path / "lib.csv.fp-r3-2048-c4.npy.partial.npy").mkdir()  # where the cache is written first
    line = _refused("fingerprints", str(library), "--workers", "1")
    assert "lib.csv.fp-r3-2048-c4.npy.partial.npy: Is a directory" in line, line
    if os.geteuid() != 0:  # root reads any file
        library.chmod(0)
        assert "lib.csv: cannot read it: Permission denied" in _refused("info", str(library))
