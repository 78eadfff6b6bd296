"""A plain (non-editable) install must map the code folders into the `amala` namespace."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_the_namespace_subpackages_only(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(REPO)],
                   check=True, capture_output=True)
    wheel = next(tmp_path.glob("amala-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for package in ("loop", "agents", "models", "oracles", "flows"):
        assert f"amala/{package}/__init__.py" in names
        assert not any(n.startswith(f"{package}/") for n in names)
    assert not any(n == "amala/__init__.py" for n in names)  # a namespace, not a package
    assert "amala/loop/templates/report.html.j2" in names  # the report's template ships with the code
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "amala = amala.flows.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
