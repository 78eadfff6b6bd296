"""A plain (non-editable) install must map the code folders into the `amala` package, data included."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_maps_the_code_folders_into_amala(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(REPO)],
                   check=True, capture_output=True)
    wheel = next(tmp_path.glob("amala-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for package in ("core", "loop", "loop/report", "agents", "models", "oracles", "oracles/tables", "oracles/md",
                    "oracles/mlip", "oracles/generator", "flows", "flows/cli"):
        assert f"amala/{package}/__init__.py" in names
        assert not any(n.startswith(f"{package}/") for n in names)
    assert "amala/__init__.py" in names and not any(n.startswith("api/") for n in names)  # api/ is `amala`
    assert not any(n.startswith(("amala/tests/", "amala/benchmarks/")) for n in names)
    for data in ("loop/report/templates/report.html.j2", "oracles/md/data/pedone2006.csv",
                 "oracles/mlip/data/crystal_references.json", "loop/migrations/env.py",
                 "oracles/mlip/data/students/glass-student/glass-student.nequip.zip",
                 "oracles/mlip/data/students/glass-student/card.json",
                 "oracles/mlip/data/students/glass-student/replay.extxyz.gz",
                 "oracles/generator/data/li-silicate-150/denoiser.pt",
                 "oracles/generator/data/li-silicate-150/card.json"):
        assert f"amala/{data}" in names  # data ship with the code
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "amala = amala.flows.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
