"""`amala potential ...`: the teacher's frames (`distill`), the student trained on them (`train`), and the
students shipped with amala (`list`, `card`, `check`)."""

from __future__ import annotations

from pathlib import Path

import typer

from amala.flows.cli.app import app, console, fail, read_spec

potential_app = typer.Typer(no_args_is_help=True, help="Machine-learned potentials: a teacher distilled into a "
                            "student.")
app.add_typer(potential_app, name="potential")


@potential_app.command("distill")
def distill(config: Path = typer.Argument(None, help="YAML of the distillation (DistillSpec); default: the "
                                          "shipped composition set"),
            workdir: Path = typer.Option(Path("runs/distill"), help="folder of the frames (resumable)"),
            workers: int = typer.Option(1, min=1, max=1024, help="jobs side by side, one process and one core each"),
            dask: str = typer.Option(None, metavar="ADDRESS", help="run the jobs on this Dask scheduler (e.g. "
                                     "tcp://10.0.0.5:8786; its workers must see --workdir), --workers at a time")):
    """Label the distillation frames with the teacher: melt-quench MD of each glass (every step kept),
    rattled/strained/compressed copies, hot bursts, and held-out glasses. Killed or stopped, the same
    command resumes where it was. The jobs run on the campaign's executors: worker processes, or Dask."""
    from amala.loop.config import ExecutionSpec
    from amala.loop.distillation import distil
    from amala.oracles.mlip.distill import summary

    spec = _spec(config)
    folder = workdir / spec.name

    def said(job, result):
        console.print(f"{result['composition']} {result['generator']}: {result['frames']} frames, "
                      f"{result['failures']} failed teacher calls", markup=False)

    execution = ExecutionSpec(task_runner="dask" if dask else "processes" if workers > 1 else "threads",
                              workers=workers, address=dask)
    distil(spec, folder, execution=execution, on_done=said)
    rows = summary(spec, folder)
    console.print(f"{folder}: {sum(r['frames'] for r in rows if not r['heldout'])} training frames, "
                  f"{sum(r['frames'] for r in rows if r['heldout'])} held-out frames", markup=False)


def _spec(config: Path | None):
    """The distillation's settings: the YAML file's, else the shipped composition set; one line if bad."""
    from amala.oracles.mlip.distill import DistillSpec

    return read_spec(config, DistillSpec)


@potential_app.command("train")
def train(config: Path = typer.Argument(None, help="YAML of the distillation (as for distill)"),
          workdir: Path = typer.Option(Path("runs/distill"), help="folder of the frames (as for distill)"),
          epochs: int = typer.Option(None, min=1, max=10_000, help="maximum epochs (default: the shipped recipe's)"),
          thin: int = typer.Option(5, min=1, max=1000, help="keep every N-th step of each teacher MD"),
          minutes: float = typer.Option(None, min=1, help="wall-time limit of the training, across resumes "
                                        "(the best epoch so far is kept)"),
          size: str = typer.Option("medium", help="small, medium (l_max 1, 32 features: the CPU default) or gpu "
                                   "(l_max 2, 64 features, 3 layers)"),
          features: int = typer.Option(None, min=4, max=256, help="features per irrep (default: the size's)"),
          layers: int = typer.Option(None, min=1, max=8, help="interaction layers (default: the recipe's)"),
          l_max: int = typer.Option(None, min=0, max=3, help="highest rotation order (default: the recipe's)"),
          device: str = typer.Option("cpu", help="cpu or cuda")):
    """Train the distilled student on the frames (resumes a killed training from its last epoch) and
    print its errors on the held-out glasses, per composition and temperature."""
    import json

    from amala.oracles.mlip.distilled import SIZES, heldout_errors, train_distilled
    from amala.oracles.mlip.student import StudentTrainingFailed

    spec = _spec(config)
    changes = {"epochs": epochs, "max_minutes": minutes, "num_features": features, "num_layers": layers,
               "l_max": l_max}
    if size not in SIZES:
        fail(f"--size: {size!r} is not one of {', '.join(SIZES)}")
    student_spec = SIZES[size].model_copy(update={k: v for k, v in changes.items() if v is not None})
    try:
        student = train_distilled(spec, workdir / spec.name, student_spec, thin=thin, device=device)
    except (ValueError, StudentTrainingFailed) as exc:
        fail(str(exc))
    console.print(f"student {student.folder}: {student.n_train} training frames; validation "
                  f"{student.force_mae_meV_A:.0f} meV/Å, {student.energy_mae_meV_atom:.1f} meV/atom", markup=False)
    rows = heldout_errors(student.calculator(device), spec, workdir / spec.name)
    (student.folder / "heldout.json").write_text(json.dumps(rows, indent=1))
    for r in rows:
        console.print(f"held out {r['composition']} {r['T_K']:.0f} K{' (melt)' if r['melt'] else ''}: "
                      f"{r['force_mae_meV_A']:.0f} meV/Å, {r['energy_mae_meV_atom']:.1f} meV/atom "
                      f"({r['frames']} frames)", markup=False)


@potential_app.command("list")
def list_students():
    """The students shipped with amala: name, elements, held-out errors and speed against the teacher."""
    from amala.oracles.mlip import shipped

    found = shipped.names()
    if not found:
        console.print("no shipped students", markup=False)
    for name in found:
        card = shipped.load(name).card
        console.print(f"{name}: {' '.join(card['elements'])}; teacher {card['teacher'].get('model', '?')}; held out "
                      f"{1000 * card['heldout_force_mae_eV_A']:.0f} meV/Å, "
                      f"{1000 * card['heldout_energy_mae_eV_atom']:.1f} meV/atom; "
                      f"{card['speedup_vs_teacher_128_atoms']:.0f}x the teacher at 128 atoms", markup=False)


@potential_app.command("card")
def card(name: str = typer.Argument(..., help="a shipped student (amala potential list)"),
         as_json: bool = typer.Option(False, "--json", help="the whole card as JSON")):
    """A shipped student's model card: how it was made and what it was measured to be worth."""
    import json

    from amala.oracles.mlip import shipped

    try:
        student = shipped.load(name)
    except ValueError as exc:
        fail(str(exc))
    if as_json:
        print(json.dumps(student.card, indent=1))
        return
    c = student.card
    lines = [f"{name} ({c.get('architecture', '')})", f"teacher: {c['teacher']}",
             f"elements: {' '.join(c['elements'])}",
             f"held-out force MAE {1000 * c['heldout_force_mae_eV_A']:.0f} meV/Å, energy MAE "
             f"{1000 * c['heldout_energy_mae_eV_atom']:.1f} meV/atom (500-900 K, glasses never trained on)",
             f"D_Li(900 K) student/teacher {c['d_li_ratio_900K']} (interval {c['d_li_ratio_interval']})",
             f"speed: {c['speedup_vs_teacher_128_atoms']:.0f}x the teacher per MD step at 128 atoms"]
    for row in c.get("heldout", []):
        lines.append(f"  {row['composition']} {row['T_K']:.0f} K{' (melt)' if row['melt'] else ''}: "
                     f"{row['force_mae_meV_A']:.0f} meV/Å, {row['energy_mae_meV_atom']:.1f} meV/atom")
    for case in c.get("out_of_domain", []):
        lines.append(f"out of domain: {case}")
    lines.append(f"sha256 {c['sha256']}; {c.get('versions', {})}")
    console.print("\n".join(lines), markup=False)


@potential_app.command("check")
def check(name: str = typer.Argument(..., help="a shipped student (amala potential list)"),
          composition: str = typer.Argument(..., help='e.g. "Li2S:0.72;P2S5:0.28"'),
          family: str = typer.Option("thiophosphate", help="the card's family to compare with"),
          density: float = typer.Option(1.9, min=0.5, max=10, help="g/cm3 of the starting cell"),
          atoms: int = typer.Option(64, min=8, max=2000, help="atoms in the cell"),
          melt_k: float = typer.Option(1200.0, "--melt-K", min=100, max=5000, help="melt temperature, K"),
          workdir: Path = typer.Option(Path("runs/check"), help="folder of the teacher's frames (resumable)")):
    """A fresh teacher melt-quench of COMPOSITION (a new cell; every 5th step compared), spot-checked:
    prints the student's force and energy error on it per temperature, beside the card's value."""
    from amala.oracles.mlip import shipped
    from amala.oracles.mlip.distill import DistillComposition, DistillSpec, Job, run_job
    from amala.oracles.mlip.distilled import heldout_errors

    try:
        student = shipped.load(name)
        glass = DistillComposition(composition=composition, family=family, density_g_cm3=density, atoms=atoms,
                                   melt_K=melt_k, quench_K=[900.0, 700.0, 500.0], heldout=True)
        missing = student.missing_elements(_symbols(composition))
        if missing:
            fail(f"{composition}: element(s) {', '.join(missing)} are not among {name}'s "
                 f"({' '.join(student.elements)})")
        spec = DistillSpec(name=f"check-{name}", compositions=[glass], melt_ps=0.2, segment_ps=[0.1])
    except ValueError as exc:
        fail(" ".join(str(exc).split())[:300])
    run_job(spec, Job(0, "md"), workdir / spec.name)
    reference = student.family_force_mae(family)
    for r in heldout_errors(student.calculator(), spec, workdir / spec.name):
        console.print(f"{r['T_K']:.0f} K{' (melt)' if r['melt'] else ''}: {r['force_mae_meV_A']:.0f} meV/Å "
                      f"({r['force_mae_meV_A'] / 1000 / reference:.1f}x the card's {1000 * reference:.0f} for "
                      f"{family}), {r['energy_mae_meV_atom']:.1f} meV/atom, {r['frames']} frames", markup=False)


def _symbols(composition: str) -> set[str]:
    from ase.formula import Formula

    from amala.core.composition import parse_composition

    return {element for compound in parse_composition(composition) for element in Formula(compound).count()}
