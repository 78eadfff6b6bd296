"""`amala potential distill` and `amala potential train`: the teacher's frames, and the student trained on them."""

from __future__ import annotations

from pathlib import Path

import typer

from amala.flows.cli.app import app, console, fail

potential_app = typer.Typer(no_args_is_help=True, help="Machine-learned potentials: a teacher distilled into a "
                            "student.")
app.add_typer(potential_app, name="potential")


@potential_app.command("distill")
def distill(config: Path = typer.Argument(None, help="YAML of the distillation (DistillSpec); default: the "
                                          "shipped composition set"),
            workdir: Path = typer.Option(Path("runs/distill"), help="folder of the frames (resumable)"),
            workers: int = typer.Option(1, min=1, max=1024, help="jobs side by side, one process and one core each")):
    """Label the distillation frames with the teacher: melt-quench MD of each glass (every step kept),
    rattled/strained/compressed copies, hot bursts, and held-out glasses. Killed or stopped, the same
    command resumes where it was."""
    from amala.loop.distillation import distil
    from amala.oracles.mlip.distill import summary

    spec = _spec(config)
    folder = workdir / spec.name

    def said(job, result):
        console.print(f"{result['composition']} {result['generator']}: {result['frames']} frames, "
                      f"{result['failures']} failed teacher calls", markup=False)

    distil(spec, folder, workers=workers, on_done=said)
    rows = summary(spec, folder)
    console.print(f"{folder}: {sum(r['frames'] for r in rows if not r['heldout'])} training frames, "
                  f"{sum(r['frames'] for r in rows if r['heldout'])} held-out frames", markup=False)


def _spec(config: Path | None):
    """The distillation's settings: the YAML file's, else the shipped composition set; one line if bad."""
    import yaml
    from pydantic import ValidationError

    from amala.oracles.mlip.distill import DistillSpec

    try:
        data = yaml.safe_load(config.read_text()) if config else {}
        return DistillSpec.model_validate(data or {})
    except OSError as exc:
        fail(f"{config}: cannot read it: {exc.strerror or exc}")
    except (yaml.YAMLError, ValidationError) as exc:
        fail(f"{config}: {' '.join(str(exc).split())[:300]}")


@potential_app.command("train")
def train(config: Path = typer.Argument(None, help="YAML of the distillation (as for distill)"),
          workdir: Path = typer.Option(Path("runs/distill"), help="folder of the frames (as for distill)"),
          epochs: int = typer.Option(None, min=1, max=10_000, help="maximum epochs (default: the shipped recipe's)"),
          thin: int = typer.Option(5, min=1, max=1000, help="keep every N-th step of each teacher MD"),
          device: str = typer.Option("cpu", help="cpu or cuda")):
    """Train the distilled student on the frames (resumes a killed training from its last epoch) and
    print its errors on the held-out glasses, per composition and temperature."""
    import json

    from amala.oracles.mlip.shipped import DISTILLED_STUDENT, heldout_errors, train_distilled
    from amala.oracles.mlip.student import StudentTrainingFailed

    spec = _spec(config)
    student_spec = DISTILLED_STUDENT if epochs is None else DISTILLED_STUDENT.model_copy(update={"epochs": epochs})
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
