"""`amala screen` and `amala generate-eval`: a model trained on a published dataset and used outside
any campaign. `screen` ranks a library with the formulation surrogate; `generate-eval` measures what
the SMILES GPT samples."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table as RichTable

from amala.flows.cli.app import app, console, err, fail


@app.command()
def screen(config: Path = typer.Argument(..., help="screening YAML (configs/chemarr_screen.yaml)"),
           top: Optional[int] = typer.Option(None, help="rows to print (default: the config's top)")):
    """Virtual screen: train the formulation surrogate on measured data, rank a library (predictions)."""

    from amala.core import datasets
    from amala.loop.config import ConfigError
    from amala.loop.screening import check_screen, load_screen_config, run_screen

    try:
        cfg = load_screen_config(config)
    except ConfigError as exc:
        fail(str(exc))
    problems = check_screen(cfg)  # a missing table or an unwritable workdir: now, not after training
    if problems:
        fail(f"{config}: {problems[0]}")
    from amala.loop.threads import campaign_threads, use_threads

    use_threads(campaign_threads())  # the free cores (all of them on an idle machine)
    err.print(f"{cfg.name}: training the formulation ensemble on {cfg.train.dataset}, then scoring "
              f"{cfg.library.dataset} at {cfg.temperature_C:g} degC", highlight=False)
    try:
        frame, about = run_screen(cfg, progress=_bar("scoring chunks") if sys.stderr.isatty() else None)
    except (ValueError, datasets.DatasetError) as exc:
        fail(str(exc))
    table = RichTable(title=f"{cfg.name}: top {min(top or cfg.top, len(frame))} of {len(frame)} formulations "
                      f"at {about['temperature_K']:.2f} K ({about['level_of_theory']})")
    for column in ("rank", "log10 sigma [log10 S/cm]", "Ea [eV]", "nearest train sim.", "molality [mol/kg]",
                   "salt", "polymer"):
        table.add_column(column)
    for row in frame.head(top or cfg.top).itertuples():
        table.add_row(str(row.rank), f"{row.log10_sigma_S_cm:.2f} ± {row.log10_sigma_std:.2f}",
                      f"{row.Ea_eV:.3f} ± {row.Ea_std_eV:.3f}", f"{row.nearest_training_similarity:.2f}",
                      f"{row.molality_mol_kg:g}", row.salt_name or row.salt, row.polymer)  # LiTFSI, not its SMILES
    console.print(table)
    console.print(f"wrote {cfg.work_path / 'screen.csv'} (every formulation), screen.json (provenance), screen.png")


def _bar(label: str):
    """A rich progress bar over an iterable (long loops on a terminal)."""
    from rich.progress import track

    return lambda items: track(items, description=label, console=err)


@app.command(name="generate-eval")
def generate_eval(samples: int = typer.Option(1000, help="SMILES to sample"),
                  checkpoint: Optional[Path] = typer.Option(None, help="load this GPT checkpoint folder if it "
                                                            "exists, else train one and save it there"),
                  epochs: int = typer.Option(35, help="training epochs over the pool (35 gave >= 90% valid "
                                                      "samples, BENCHMARKS.md)"),
                  data: Optional[Path] = typer.Option(None, help="HTP-MD CSV (default: the dataset cache)"),
                  seed: int = typer.Option(0)):
    """Train (or load) the SMILES GPT on HTP-MD, sample, and print PolyGen's six metrics as JSON."""
    import time

    from rich.progress import Progress

    from amala.agents.generation_metrics import evaluate
    from amala.agents.smiles_gpt import SmilesGPT
    from amala.core import datasets

    try:
        pool = list(datasets.load("htpmd", data).frame.smiles)
    except datasets.DatasetError as exc:
        fail(str(exc).splitlines()[0])
    start = time.perf_counter()
    if checkpoint is not None and (checkpoint / "config.json").is_file():
        gpt = SmilesGPT.load(checkpoint)
        trained = 0.0
    else:
        gpt = SmilesGPT.for_smiles(pool, seed=seed)
        steps = epochs * -(-len(pool) // 64)
        with Progress(console=err, transient=True) as bar:
            task = bar.add_task("training the SMILES GPT", total=steps)
            gpt.train(pool, epochs=epochs, seed=seed, progress=lambda step, loss: bar.update(task, completed=step))
        trained = time.perf_counter() - start
        if checkpoint is not None:
            gpt.save(checkpoint)
    metrics = evaluate(gpt.sample(samples, seed=seed + 1), pool, seed=seed)
    console.print_json(json.dumps({**metrics, "training_seconds": round(trained, 1), "epochs": epochs}))

