import json
import math
import runpy
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from amala.core import datasets
from amala.flows.cli import app
from amala.loop import replay as benchmark
from amala.loop.config import parse_config

KEYS = ["strategy", "surrogate", "seed", "e50", "found_at_100", "found_at_200", "found_at_500", "best_at_100",
        "best_at_500", "seconds_per_iteration"]


def test_parse_seeds():
    assert benchmark.parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert benchmark.parse_seeds("1,3-4") == [1, 3, 4]


def test_metrics_on_a_subset_count_top_hits_exactly(synthetic_data_dir):
    """The metrics on a 400-polymer table (synthetic: the arithmetic, not HTP-MD's values, is tested)."""
    table = datasets.load("htpmd", synthetic_data_dir / "htpmd.csv", subset=400, seed=0)
    assert len(table.frame) == 400
    cfg = parse_config({"name": "b", "budget": {"initial": 20, "max_evaluations": 60},
                        "acquisition": {"batch_size": 10, "prescreen": 100, "mc_samples": 32}})
    row = benchmark.run(cfg, table, "greedy", seed=1)
    assert list(row) == KEYS
    campaign_top = benchmark.top_set(table, benchmark.Campaign(
        benchmark.strategy_config(cfg, "random", 0, None), store=benchmark.Store("sqlite://"), table=table))
    assert len(campaign_top) == 4  # ceil(1% of 400)
    assert 0 <= row["found_at_100"] <= 4 and row["found_at_500"] == row["found_at_100"]  # budget 60 < 100
    best = math.log10(table.frame.conductivity.max())
    assert row["best_at_500"] <= round(best, 4) and row["best_at_100"] == row["best_at_500"]  # rows round to 4 digits


def test_benchmark_command_prints_json_lines(synthetic_data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("AMALA_DATA_DIR", str(synthetic_data_dir))  # `data: {subset: 300}` reads htpmd.csv there
    config = tmp_path / "b.yaml"
    config.write_text("name: b\ndata: {subset: 300}\nbudget: {initial: 10, max_evaluations: 30}\n"
                      "acquisition: {batch_size: 10, prescreen: 50, mc_samples: 32}\n")
    result = CliRunner().invoke(app, ["benchmark", str(config), "--seeds", "0", "--strategies", "random,greedy_rf"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [(r["strategy"], r["surrogate"]) for r in rows] == [("random", "gp"), ("greedy_rf", "random_forest")]
    assert all(list(r) == KEYS for r in rows)
    bad = CliRunner().invoke(app, ["benchmark", str(config), "--strategies", "oracle"])
    assert bad.exit_code == 2 and "unknown" in bad.output


def test_the_configs_own_strategy_keeps_the_configs_surrogate():
    """A formulation config's row runs its ensemble, not the GP its strategy's name maps to elsewhere."""
    ensemble = parse_config({"name": "f", "representation": "formulation", "agents": [{"kind": "pool"}],
                             "data": {"dataset": "chemarr"}, "oracle": {"kind": "formulation_lookup"},
                             "objective": {"property": "conductivity", "transform": "log10"},
                             "surrogate": {"kind": "formulation_ensemble", "members": 3},
                             "acquisition": {"strategy": "qlognei"}})
    own = benchmark.strategy_config(ensemble, "qlognei", 0, 100)
    assert own.surrogate.kind == "formulation_ensemble" and own.surrogate.members == 3
    assert own.acquisition.strategy == "qlognei" and own.budget.max_evaluations == 100
    assert benchmark.strategy_config(ensemble, "greedy_rf", 0, None).surrogate.kind == "random_forest"
    cfg = parse_config({"name": "b", "surrogate": {"kind": "random_forest", "n_estimators": 50},
                        "acquisition": {"strategy": "greedy"}})
    assert benchmark.strategy_config(cfg, "greedy", 0, None).surrogate.n_estimators == 50
    other = benchmark.strategy_config(cfg, "qlognei", 0, None)
    assert other.surrogate.kind == "gp" and other.acquisition.strategy == "qlognei"
    baseline = benchmark.strategy_config(cfg, "greedy_rf", 0, None)
    assert baseline.surrogate.kind == "random_forest" and baseline.surrogate.featurizer.n_bits == 2048


@pytest.mark.parametrize("script", ["cv_benchmark", "generative_benchmark", "md_overhead", "md_validation",
                                    "glass_generator", "generated_campaign", "sulfide_campaign",
                                    "sciglass_multifidelity"])
def test_benchmark_scripts_run_from_the_benchmarks_folder(script, monkeypatch, capsys):
    """Each script in benchmarks/ (not installed) runs as `python benchmarks/NAME.py` and parses `--help`."""
    path = Path(__file__).resolve().parents[2] / "benchmarks" / f"{script}.py"
    monkeypatch.setattr(sys, "argv", [str(path), "--help"])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_path(str(path), run_name="__main__")
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("usage:")
