"""`amala benchmark`: replay a lookup-oracle campaign per (strategy, seed), one JSON line each
(docs/benchmarks/htpmd-retrospective.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from amala.core.representations import Representation
from amala.flows.cli.app import app, err, fail
from amala.flows.cli.campaigns import load


@app.command()
def benchmark(config: Path = typer.Argument(..., help="campaign YAML (a lookup-oracle campaign)"),
              seeds: str = typer.Option("0-4", help="e.g. 0-4 or 0,2"),
              strategies: Optional[str] = typer.Option(None, help="comma list; default: config's, random, "
                                                       "greedy_rf (several objectives: config's, qlognparego, random, "
                                                       "rf_parego)"),
              budget: Optional[int] = typer.Option(None, help="evaluations per run (default: config's)")):
    """Retrospective benchmark: replay the campaign per (strategy, seed), one JSON line each (BENCHMARKS.md)."""

    from amala.core import datasets
    from amala.loop import replay

    cfg = load(config)
    names = strategies.split(",") if strategies else replay.default_strategies(cfg)
    unknown = [s for s in names if s not in replay.STRATEGIES]
    if unknown:
        fail(f"--strategies: unknown {unknown} (choose from {sorted(replay.STRATEGIES)})")
    try:
        seed_list = replay.parse_seeds(seeds)
        table = datasets.load(cfg.data.dataset, cfg.data.path, cfg.data.subset, cfg.seed)
    except ValueError as exc:
        fail(str(exc) if isinstance(exc, datasets.DatasetError) else f"--seeds: cannot parse {seeds!r}")
    if cfg.representation == Representation.FORMULATION:  # one row per formulation, built once for every replayed run
        from amala.oracles.tables.formulation_lookup import formulation_table

        table = formulation_table(table)  # the campaign applies data.temperature_gap_K to its pool
    for row, note in replay.run_many(cfg, table, names, seed_list, budget):
        print(json.dumps(row), flush=True)
        err.print(f"{row['strategy']} seed {row['seed']}: {note}", highlight=False, soft_wrap=True)
