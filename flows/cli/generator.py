"""`amala generator ...`: structure generators (DM²-style denoisers) trained on the oracle's own glasses."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from amala.flows.cli.app import app, console, err, fail, read_spec

generator_app = typer.Typer(no_args_is_help=True, help="Glass structure generators: trained on melt-quenched "
                            "glasses, they make starting structures without a melt-quench.")
app.add_typer(generator_app, name="generator")


@generator_app.command("train")
def train(config: Path = typer.Argument(None, help="YAML of the generator (GeneratorSpec); default: the demo "
                                        "generator of lithium (phospho/alumino)silicate glasses"),
          workdir: Path = typer.Option(Path("runs/generator"), help="folder of its glasses and training "
                                       "(resumable)"),
          minutes: float = typer.Option(None, min=0.1, help="wall-time limit of the training, across resumes"),
          workers: int = typer.Option(1, min=1, max=1024, help="glasses melt-quenched side by side"),
          install_it: bool = typer.Option(True, "--install/--no-install", help="install it by name when done")):
    """Melt-quench the training and held-out glasses with the LAMMPS oracle (skipping those on disk),
    then train the denoiser on their snapshots and install it under its name."""
    from amala.oracles.generator import generator as gen
    from amala.oracles.generator.training import train as train_denoiser
    from amala.oracles.generator.training_set import campaign_glasses, read_glasses

    spec = _spec(config)
    folder = workdir / spec.name
    glasses = _build(spec.recipes(), folder / "glasses", workers)
    heldout = _build(spec.heldout_recipes(), folder / "heldout", workers)
    try:
        earlier = campaign_glasses(spec.campaigns)
    except ValueError as exc:
        fail(str(exc))
    console.print(f"{len(glasses)} training and {len(heldout)} held-out snapshots in {folder}"
                  + (f", {len(earlier)} glasses of earlier campaigns" if spec.campaigns else ""), markup=False)

    def said(step, steps, row):
        val = ", ".join(f"σ {k.rsplit('sigma', 1)[1]} Å: {v:.4f}" for k, v in row.items() if k.startswith("val_"))
        err.print(f"step {step}/{steps} ({row['minutes']} min): train {row['train_loss_A2']:.4f} Å², held-out {val}",
                  markup=False)

    generator = train_denoiser(spec, read_glasses(glasses) + earlier, read_glasses(heldout), folder / "training",
                               minutes=minutes, on_progress=said)
    card = generator.card
    console.print(f"{spec.name}: {card['steps_done']}/{spec.training.steps} steps, {card['training_minutes']} min; "
                  f"held-out loss {json.dumps(card['heldout_loss_A2'])} Å² (returning zero: "
                  f"{json.dumps(card['heldout_zero_loss_A2'])})", markup=False)
    if install_it:
        console.print(f"installed: {gen.install(folder / 'training' / 'generator', spec.name)}", markup=False)


@generator_app.command("sample")
def sample(name: str = typer.Argument(..., help="an installed generator, or a generator's folder"),
           composition: str = typer.Argument(..., help='oxide mole fractions, e.g. "Li2O:0.3;SiO2:0.7"'),
           n: int = typer.Argument(1, min=1, max=1000, help="glasses to generate"),
           atoms: int = typer.Option(150, min=8, max=100_000, help="atoms per cell"),
           seed: int = typer.Option(0, help="seed of the first glass (then seed+1, ...)"),
           quench: float = typer.Option(None, min=0.001, help="quench rate to condition on, K/ps (default: the "
                                        "training glasses' median)"),
           steps: int = typer.Option(None, min=0, max=100_000, help="annealed denoising steps (default: DEFAULT_STEPS "
                                     "in oracles/generator/spec.py, the oracles' default)"),
           min_distance: float = typer.Option(1.0, min=0.0, help="closest pair allowed in a generated glass, Å"),
           relax: bool = typer.Option(False, "--relax", help="relax each glass in the LAMMPS oracle's potential "
                                      "(Pedone, fixed box) and report its energy per atom"),
           out: Path = typer.Option(Path("generated"), help="folder of the extxyz files")):
    """Generate N glasses and write each as extended XYZ with its measured structure (unrelaxed unless
    --relax: the oracle relaxes a generated glass in its own potential before simulating it)."""
    from amala.oracles.generator.generator import DEFAULT_STEPS, GenerationFailed, SamplingSettings, find
    from amala.oracles.md.glass_metrics import measure

    try:
        generator = find(name)
    except (GenerationFailed, ValueError) as exc:
        fail(str(exc))
    out.mkdir(parents=True, exist_ok=True)
    made = 0
    for k in range(n):
        started = time.perf_counter()
        try:
            glass = generator.sample(composition, atoms, seed=seed + k, quench_K_per_ps=quench,
                                     settings=SamplingSettings(DEFAULT_STEPS if steps is None else steps,
                                                               min_distance_A=min_distance))
        except GenerationFailed as exc:
            err.print(f"seed {seed + k}: {exc}", markup=False)
            continue
        path = out / f"{generator.name}-seed{seed + k}.extxyz"
        energy = None
        if relax:
            from amala.oracles.md.lammps_glass import relax as relax_glass
            from amala.oracles.md.protocol import SimulationFailed

            try:
                glass, energy = relax_glass(glass, out / "relax" / f"seed{seed + k}")
            except SimulationFailed as exc:
                err.print(f"seed {seed + k}: {exc}", markup=False)
                continue
            glass.info["energy_eV_atom"] = round(energy, 6)
        glass.write(path, format="extxyz")
        metrics = measure(glass, energy)
        console.print(f"{path}: {len(glass)} atoms, {metrics.density_g_cm3} g/cm3, coordination "
                      f"{metrics.coordination}, rings per former {metrics.rings}"
                      + (f", {energy:.4f} eV/atom relaxed" if energy is not None else "")
                      + f", {time.perf_counter() - started:.1f} s", markup=False)
        made += 1
    if not made:
        fail(f"no glass of {composition} was generated (reasons above)")


@generator_app.command("list")
def list_generators():
    """Installed generators: name, elements, training glasses, held-out loss."""
    from amala.oracles.generator.generator import installed

    rows = installed()
    if not rows:
        console.print("no generators installed (amala generator train CONFIG)", markup=False)
    for folder in rows:
        card = json.loads((folder / "card.json").read_text())
        console.print(f"{folder.name}: {'-'.join(card['elements'])}, {card['training_glasses']} training snapshots, "
                      f"{card['steps_done']} steps, held-out loss {card['heldout_loss_A2']} Å²", markup=False)


@generator_app.command("card")
def card(name: str = typer.Argument(..., help="an installed generator, or a generator's folder")):
    """The generator's card as JSON."""
    from amala.oracles.generator.generator import GenerationFailed, find

    try:
        console.print(json.dumps(find(name).card, indent=1), markup=False)
    except (GenerationFailed, ValueError) as exc:
        fail(str(exc))


def _spec(config: Path | None):
    from amala.oracles.generator.spec import GeneratorSpec

    return read_spec(config, GeneratorSpec)


def _build(recipes, folder: Path, workers: int) -> list[Path]:
    """Melt-quench every recipe not on disk, `workers` at a time, with a progress bar; a glass that fails is
    named and left out. One worker runs here; more run in spawned processes (one LAMMPS each): a forked
    child of a process that holds threads (torch's, a Prefect client's) can deadlock on a lock held at fork."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from rich.progress import Progress

    from amala.oracles.generator.training_set import melt_quench, snapshot_paths
    from amala.oracles.md.protocol import SimulationFailed

    paths: list[Path] = []
    todo = [r for r in recipes if not all(p.is_file() for p in snapshot_paths(folder, r))]
    paths += [p for r in recipes if r not in todo for p in snapshot_paths(folder, r)]
    if not todo:
        return sorted(paths)

    def collect(recipe, result) -> None:
        try:
            paths.extend(result())
        except SimulationFailed as exc:
            err.print(f"{recipe.stem}: {exc}", markup=False)
        bar.advance(task)

    with Progress(console=err, transient=True) as bar:
        task = bar.add_task(f"melt-quench {folder.name}", total=len(todo))
        if workers == 1:
            for recipe in todo:
                collect(recipe, lambda recipe=recipe: melt_quench(recipe, folder))
        else:
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                futures = {pool.submit(melt_quench, r, folder): r for r in todo}
                for future in as_completed(futures):
                    collect(futures[future], future.result)
    return sorted(paths)
