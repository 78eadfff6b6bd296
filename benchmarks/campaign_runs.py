"""What the campaign benchmarks share: `amala run` of a config as a user would run it, timed."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def run(config: dict, path: Path, log: Path) -> float:
    """`amala run` on `config` (written to `path`), its output appended to `log`; wall seconds."""
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    began = time.perf_counter()
    with open(log, "a") as out:
        done = subprocess.run([str(Path(sys.executable).parent / "amala"), "run", str(path), "--no-progress"],
                              stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"amala run {path} failed (exit {done.returncode}); see {log}")
    return time.perf_counter() - began
