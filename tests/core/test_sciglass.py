"""SciGlass's Li oxide glasses (`core/sciglass.py`): the derivation from the glasspy wheel, the pinned
download, and the reader of compound names. A tiny wheel of the same layout is built here (the real one is
75 MB); the real table is read where a shared copy exists."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import math
import os
import threading
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from amala.core import sciglass
from tests.conftest import DEFAULT_DATA_DIR

PROPERTIES = pd.DataFrame({  # SciGK: log10 resistivities (Ω·cm) at 20/100/150/300 °C, Tg in °C
    "KOD": [1, 1, 2, 3, 4, 5], "GLASNO": [1, 2, 1, 1, 1, 1],
    "RO20": [10.0, None, 9.0, 8.0, -1.0, None], "RO100": [8.0, None, 7.0, None, 5.0, None],
    "RO150": [7.0, None, None, None, None, None], "RO300": [5.0, None, 4.0, None, None, None],
    "TK100C": [None, None, None, None, None, 250.0], "TG": [400.0, 300.0, 100.0, None, 500.0, None],
    "Author": ["A", "B", "C", "D", "E", "F"], "Year": [1990, 1991, 1992, 1993, 1994, 1995]})


def _gcomp(kod: int, glasno: int, amounts: dict[str, float]) -> dict:
    fields = []
    for name, mol in amounts.items():
        fields += [name, "60.0", "10.0", f"{mol}"]  # compound, molar mass, wt%, mol%
    return {"Kod": kod, "GlasNo": glasno, "Composition": "'" + "\x7f".join(fields) + "'"}


GCOMP = pd.DataFrame([
    _gcomp(1, 1, {"Li2O": 33.3, "SiO2": 66.7, "Al2O3": 0.0}),  # kept; Al2O3 at 0 is not a component
    _gcomp(1, 2, {"Li2O": 50.0, "B2O3": 50.0}),  # no resistivity: dropped
    _gcomp(2, 1, {"LiCl": 10.0, "Li2O": 40.0, "P2O5": 50.0}),  # kept; Tg 100 °C: only 293 K is below Tg - 20 K
    _gcomp(3, 1, {"Na2O": 30.0, "SiO2": 70.0, "Li2O": 0.0}),  # Li only at 0 mol%: not a Li glass
    _gcomp(4, 1, {"Li2O": 50.0, "P2O5": 50.0}),  # a resistivity with the wrong sign: dropped
    _gcomp(5, 1, {"Li2S": 75.0, "P2S5": 25.0}),  # a sulfide: not an oxide glass
])


def tiny_wheel(folder: Path) -> Path:
    wheel = folder / "glasspy-0.4.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as outer:
        for name, frame in (("SciGK", PROPERTIES), ("Gcomp", GCOMP)):
            inner = io.BytesIO()
            with zipfile.ZipFile(inner, "w") as z:
                z.writestr(f"select_{name}.csv", frame.to_csv(sep="\t", index=False))
            outer.writestr(f"glasspy/data/datafiles/select_{name}.csv.zip", inner.getvalue())
    return wheel


def test_the_derivation_keeps_li_oxide_glasses_with_a_resistivity_and_fits_ea_below_tg(tmp_path):
    table = sciglass.derive(tiny_wheel(tmp_path))
    assert list(table.composition_mol_percent) == ["Li2O:33.3;SiO2:66.7", "Li2O:40;LiCl:10;P2O5:50"]
    assert list(table.components) == ["Li2O-SiO2", "Li2O-LiCl-P2O5"]
    first = table.iloc[0]
    assert first.log10_sigma_S_cm_293K == -10.0 and first.log10_sigma_S_cm_573K == -5.0
    # Tg 400 °C: 293, 373 and 423 K are below Tg - 20 K = 653 K, 573 K is too
    T = [293.15, 373.15, 423.15, 573.15]
    slope = pd.Series([-10.0, -8.0, -7.0, -5.0]).cov(pd.Series([1 / t for t in T])) / pd.Series(
        [1 / t for t in T]).var()
    assert first.n_temperatures_below_tg == 4
    assert first.ea_eV_fit == pytest.approx(-slope * math.log(10) * 8.617333e-5)
    second = table.iloc[1]  # Tg 100 °C: only 293 K is below 353 K: no fit
    assert second.n_temperatures_below_tg == 1 and math.isnan(second.ea_eV_fit)


def test_a_row_is_read_as_mole_fractions_or_refused_in_one_line():
    assert sciglass.read_row("Li2O:33.3;SiO2:66.7") == pytest.approx({"Li2O": 0.333, "SiO2": 0.667})
    assert sciglass.read_row("LiCl:10;Li:5;O:85") == pytest.approx({"LiCl": 0.1, "Li": 0.05, "O": 0.85})
    assert sum(sciglass.read_row("Li2O:33.4;SiO2:66.8").values()) == pytest.approx(1.0)  # 100.2: within 0.5
    for text, message in (("Li2O:30;Xy2O3:70", "unknown compound 'Xy2O3'"),
                          ("Li2O:60", "sum to 60 mol%, not 100 ± 0.5"),
                          ("Li2O:110;SiO2:-10", "SiO2: negative or non-finite amount -10"),
                          ("Li2O:abc;SiO2:50", "Li2O: amount 'abc' is not a number")):
        with pytest.raises(sciglass.SciGlassError, match=message):
            sciglass.read_row(text)


def test_the_reader_drops_refused_rows_and_counts_them_per_reason(tmp_path):
    table = sciglass.derive(tiny_wheel(tmp_path))
    bad = table.iloc[[0, 0, 0]].assign(composition_mol_percent=["Li2O:50", "Li2O:50;Qq:50", "Li2O:20;SiO2:60"])
    path = tmp_path / "subset.csv"
    pd.concat([table, bad]).to_csv(path, index=False)
    read = sciglass.read(path)
    assert list(read.frame.composition) == ["Li2O:0.333000;SiO2:0.667000", "Li2O:0.400000;LiCl:0.100000;P2O5:0.500000"]
    assert read.dropped == {"amounts not summing to 100 ± 0.5 mol%": 2, "unknown compound": 1}
    assert read.examples["unknown compound"] == "subset.csv row 5: unknown compound 'Qq'"
    assert not read.verified and read.units["log10_sigma_S_cm_373K"] == "log10(S/cm)"
    with pytest.raises(sciglass.SciGlassError, match="not found at .*amala data fetch sciglass_li_oxide"):
        sciglass.read(tmp_path / "nope.csv")
    table.drop(columns=["ea_eV_fit"]).to_csv(path, index=False)
    with pytest.raises(sciglass.SciGlassError, match=r"missing column\(s\) \['ea_eV_fit'\]"):
        sciglass.read(path)


def test_fetch_downloads_the_pinned_wheel_and_refuses_another(tmp_path, monkeypatch):
    """Over real HTTP (a local server): the wheel's sha256 decides, the table is derived from it."""
    served = tmp_path / "served"
    served.mkdir()
    wheel = tiny_wheel(served)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/{wheel.name}"
    try:
        with pytest.raises(sciglass.SciGlassError, match="not the pinned glasspy 0.4.0 wheel"):
            sciglass.fetch(tmp_path / "cache", url=url)
        assert not (tmp_path / "cache" / sciglass.FILE).exists()
        monkeypatch.setattr(sciglass, "WHEEL_SHA256", hashlib.sha256(wheel.read_bytes()).hexdigest())
        path, same = sciglass.fetch(tmp_path / "cache", url=url)
    finally:
        server.shutdown()
    assert path == tmp_path / "cache" / sciglass.FILE and not same  # the tiny table is not the pinned one
    assert len(sciglass.read(path).frame) == 2


def _shared_copy() -> Path:
    for folder in (os.environ.get("AMALA_DATA_DIR"), None if os.environ.get("AMALA_NO_SHARED") else DEFAULT_DATA_DIR):
        if folder and (Path(folder) / sciglass.FILE).is_file():
            return Path(folder) / sciglass.FILE
    pytest.skip("no local SciGlass copy: set AMALA_DATA_DIR or run `amala data fetch sciglass_li_oxide`")


def test_the_shared_copy_is_the_pinned_table_and_reads_whole():
    table = sciglass.read(_shared_copy())
    assert table.verified and len(table.frame) == 5701
    assert table.dropped == {"amounts not summing to 100 ± 0.5 mol%": 3}
    assert table.frame.composition.nunique() == 4759
