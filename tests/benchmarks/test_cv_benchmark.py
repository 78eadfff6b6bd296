"""The CV benchmark script end to end on 80 polymers of the synthetic HTP-MD-shaped table: featurize, save,
load, and one row per fold comparing the GNN ensemble with the random forest on the same split."""

import math
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/ is a folder of scripts, not installed
from benchmarks import cv_benchmark  # noqa: E402


def test_cv_benchmark_runs_folds_and_summarises(synthetic_htpmd, tmp_path, capsys):
    subset = tmp_path / "htpmd.csv"
    pd.read_csv(synthetic_htpmd).sample(80, random_state=0).to_csv(subset, index=False)
    prepared = tmp_path / "cv.pt"
    assert cv_benchmark.main(["--data", str(subset), "--properties", "conductivity,transference_number",
                              "--prepare", str(prepared)]) == []
    summaries = cv_benchmark.main(["--from", str(prepared), "--properties", "conductivity,transference_number",
                                   "--folds", "4", "--max-folds", "2", "--members", "2", "--epochs", "2",
                                   "--rf-trees", "20", "--threads", "1"])
    assert [s["property"] for s in summaries] == ["conductivity", "transference_number"]
    for s in summaries:
        assert s["folds"] == 2 and s["mae_rf"] > 0 and s["mae_gnn"] > 0 and math.isfinite(s["mae_ratio"])
        assert 0 <= s["gnn_within_1std"] <= s["gnn_within_2std"] <= 1
    rows = [line for line in capsys.readouterr().out.splitlines() if '"fold"' in line]
    assert len(rows) == 4 and all('"n_test": 20' in r for r in rows)
    # Variants from docs/benchmarks/gnn-ensemble-cv.md: RDKit descriptors joined to the embedding, another property
    # as an extra head.
    variant = cv_benchmark.main(["--from", str(prepared), "--properties", "conductivity", "--descriptors",
                                 "--auxiliary", "transference_number", "--folds", "4", "--max-folds", "1",
                                 "--members", "2", "--epochs", "2", "--rf-trees", "20", "--threads", "1"])
    row = [line for line in capsys.readouterr().out.splitlines() if '"fold"' in line][0]
    assert variant[0]["folds"] == 1 and '"descriptors": true' in row and '"auxiliary": ["transference_number"]' in row
    assert '"periodic": true' in row
