"""`amala potential distill`: the teacher's frames for a student that ships with amala."""

from __future__ import annotations

from pathlib import Path

import typer

from amala.flows.cli.app import app, console, fail

potential_app = typer.Typer(no_args_is_help=True, help="Machine-learned potentials: distillation of a teacher.")
app.add_typer(potential_app, name="potential")


@potential_app.command("distill")
def distill(config: Path = typer.Argument(None, help="YAML of the distillation (DistillSpec); default: the "
                                          "shipped composition set"),
            workdir: Path = typer.Option(Path("runs/distill"), help="folder of the frames (resumable)"),
            workers: int = typer.Option(1, min=1, max=1024, help="jobs side by side, one process and one core each")):
    """Label the distillation frames with the teacher: melt-quench MD of each glass (every step kept),
    rattled/strained/compressed copies, hot bursts, and held-out glasses. Killed or stopped, the same
    command resumes where it was."""
    import yaml
    from pydantic import ValidationError

    from amala.loop.distillation import distil
    from amala.oracles.mlip.distill import DistillSpec, summary

    try:
        data = yaml.safe_load(config.read_text()) if config else {}
        spec = DistillSpec.model_validate(data or {})
    except OSError as exc:
        fail(f"{config}: cannot read it: {exc.strerror or exc}")
    except (yaml.YAMLError, ValidationError) as exc:
        fail(f"{config}: {' '.join(str(exc).split())[:300]}")
    folder = workdir / spec.name

    def said(job, result):
        console.print(f"{result['composition']} {result['generator']}: {result['frames']} frames, "
                      f"{result['failures']} failed teacher calls", markup=False)

    distil(spec, folder, workers=workers, on_done=said)
    rows = summary(spec, folder)
    console.print(f"{folder}: {sum(r['frames'] for r in rows if not r['heldout'])} training frames, "
                  f"{sum(r['frames'] for r in rows if r['heldout'])} held-out frames", markup=False)
