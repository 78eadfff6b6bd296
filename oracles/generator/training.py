"""Training a denoiser on glass snapshots: noise in, the same noise out, resumable after a kill.

Each step takes `batch` training cells, adds Gaussian noise to every atom with one σ per cell drawn
uniformly in [sigma_min, sigma_max] (DM²: no noise level is given to the network, it reads the noise
from the local structure) and regresses the noise (mean squared error, Å²). The learning rate falls
along a cosine to 1/20 of its start over `steps`. Every `validate_every` steps the held-out glasses are
scored at fixed noise levels (0.1, 0.3, 0.6 Å; the same noise every time, so the numbers are comparable
along the run), one row goes to `training.csv`, and `last.pt` keeps the weights, optimiser, step, clock
and random states: the same command after a kill continues from that step with the same random stream,
and `minutes` caps the wall time across resumes.

The loss a denoiser reaches is reported beside the loss of returning zero (the noise's own variance,
σ² averaged): the ratio says how much of the noise it can see.
"""

from __future__ import annotations

import csv
import math
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from ase import Atoms

from amala.oracles.generator.denoiser import graph
from amala.oracles.generator.generator import StructureGenerator, conditions, element_fractions, make_denoiser
from amala.oracles.generator.spec import GeneratorSpec
from amala.oracles.md.structure import density

VALIDATION_SIGMAS_A = (0.1, 0.3, 0.6)
CHECKPOINT = "last.pt"


def _cells(glasses: list[Atoms], elements: list[str]) -> list[tuple]:
    out = []
    for atoms in glasses:
        symbols = atoms.get_chemical_symbols()
        out.append((np.array([elements.index(s) for s in symbols]), atoms.get_positions(), atoms.get_cell().array,
                    conditions(elements, symbols, float(atoms.info["quench_K_per_ps"]))))
    return out


def _noisy(cells: list[tuple], sigmas: np.ndarray, rng: np.random.Generator) -> tuple[list[tuple], torch.Tensor]:
    batch, targets = [], []
    for (kinds, positions, cell, condition), sigma in zip(cells, sigmas):
        noise = sigma * rng.standard_normal(positions.shape)
        batch.append((kinds, positions + noise, cell, condition))
        targets.append(noise)
    return batch, torch.as_tensor(np.concatenate(targets), dtype=torch.float32)


def validation_loss(model, cells: list[tuple], cutoff: float) -> dict[str, float]:
    """Mean squared error (Å²) on the held-out cells at each fixed noise level, same noise every call."""
    out = {}
    with torch.no_grad():
        for sigma in VALIDATION_SIGMAS_A:
            rng = np.random.default_rng(12345)
            errors = []
            for cell in cells:
                batch, target = _noisy([cell], np.array([sigma]), rng)
                errors.append(float(((model(graph(batch, cutoff)) - target) ** 2).mean()))
            out[f"{sigma:g}"] = float(np.mean(errors))
    return out


def density_model(glasses: list[Atoms], elements: list[str]) -> dict:
    """Density (g/cm3) linear in element fractions, least squares over the training glasses (ridge 1e-6
    keeps it defined when a few compositions leave it underdetermined)."""
    x = np.array([element_fractions(elements, a.get_chemical_symbols()) for a in glasses])
    y = np.array([density(a) for a in glasses])
    mean_x, mean_y = x.mean(0), y.mean()
    xc = x - mean_x
    coef = np.linalg.solve(xc.T @ xc + 1e-6 * np.eye(len(elements)), xc.T @ (y - mean_y))
    residual = y - (xc @ coef + mean_y)
    return {"coefficients": coef.round(6).tolist(), "intercept": round(float(mean_y - mean_x @ coef), 6),
            "rms_residual_g_cm3": round(float(np.sqrt((residual ** 2).mean())), 5), "fit_glasses": len(glasses)}


def train(spec: GeneratorSpec, glasses: list[Atoms], heldout: list[Atoms], workdir: Path,
          minutes: float | None = None, on_progress: Callable[[int, int, dict], None] | None = None
          ) -> StructureGenerator:
    """Train (or continue training) the spec's denoiser in `workdir`; returns the generator, also saved
    to `workdir/generator`. Deterministic by `spec.training.seed` for one thread."""
    if not glasses:
        raise ValueError("no training glasses: build them first (amala generator train builds them)")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    t = spec.training
    elements = sorted({s for a in glasses + heldout for s in a.get_chemical_symbols()})
    torch.manual_seed(t.seed)
    settings = spec.denoiser.model_dump()
    train_cells, val_cells = _cells(glasses, elements), _cells(heldout, elements)
    settings["mean_neighbours"] = _mean_neighbours(train_cells[0], spec.denoiser.cutoff_A)
    model = make_denoiser(settings, len(elements), len(elements) + 1)
    optimiser = torch.optim.Adam(model.parameters(), lr=t.learning_rate)
    rng = np.random.default_rng(t.seed)
    step, elapsed = 0, 0.0
    checkpoint = workdir / CHECKPOINT
    if checkpoint.is_file():
        saved = torch.load(checkpoint, weights_only=False)
        if saved["elements"] != elements or saved["settings"] != settings:
            raise ValueError(f"{checkpoint}: made for other elements or another denoiser; delete it to start over")
        model.load_state_dict(saved["model"])
        optimiser.load_state_dict(saved["optimiser"])
        step, elapsed = saved["step"], saved["elapsed_s"]
        rng.bit_generator.state = saved["rng"]
        torch.set_rng_state(saved["torch_rng"])
    log = workdir / "training.csv"
    started, stopped_early = time.monotonic() - elapsed, False
    baseline = (t.sigma_max_A ** 3 - t.sigma_min_A ** 3) / (3 * (t.sigma_max_A - t.sigma_min_A))  # E[σ²]
    running = []
    model.train()
    while step < t.steps:
        if minutes is not None and time.monotonic() - started > 60 * minutes:
            stopped_early = True
            break
        lr = t.learning_rate * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / t.steps)))
        for group in optimiser.param_groups:
            group["lr"] = lr
        picks = rng.choice(len(train_cells), size=min(t.batch, len(train_cells)), replace=False)
        sigmas = rng.uniform(t.sigma_min_A, t.sigma_max_A, len(picks))
        batch, target = _noisy([train_cells[k] for k in picks], sigmas, rng)
        loss = ((model(graph(batch, model.cutoff)) - target) ** 2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        running.append(loss.item())
        step += 1
        if step % t.validate_every == 0 or step == t.steps:
            model.eval()
            val = validation_loss(model, val_cells, model.cutoff) if val_cells else {}
            model.train()
            row = {"step": step, "minutes": round((time.monotonic() - started) / 60, 2), "lr": round(lr, 7),
                   "train_loss_A2": round(float(np.mean(running)), 6), "zero_loss_A2": round(baseline, 6),
                   **{f"val_loss_A2_sigma{k}": round(v, 6) for k, v in val.items()}}
            running = []
            _append(log, row)
            torch.save({"model": model.state_dict(), "optimiser": optimiser.state_dict(), "step": step,
                        "elapsed_s": time.monotonic() - started, "rng": rng.bit_generator.state,
                        "torch_rng": torch.get_rng_state(), "elements": elements, "settings": settings},
                       checkpoint.with_suffix(".tmp"))
            checkpoint.with_suffix(".tmp").replace(checkpoint)
            if on_progress:
                on_progress(step, t.steps, row)
    model.eval()
    final = validation_loss(model, val_cells, model.cutoff) if val_cells else {}
    card = {"name": spec.name, "kind": "DM²-style denoiser (PaiNN), amala", "elements": elements,
            "denoiser": settings, "training": t.model_dump(), "steps_done": step, "stopped_early": stopped_early,
            "training_minutes": round((time.monotonic() - started) / 60, 1),
            "training_glasses": len(glasses), "heldout_glasses": len(heldout),
            "campaign_glasses": sorted(a.info["source_file"] for a in glasses if "source_file" in a.info),
            "compositions": sorted({a.info["composition"] for a in glasses}),
            "heldout_compositions": sorted({a.info["composition"] for a in heldout}),
            "quench_K_per_ps": sorted({float(a.info["quench_K_per_ps"]) for a in glasses}),
            "default_quench_K_per_ps": _most_common_rate(glasses),
            "n_atoms": sorted({len(a) for a in glasses}),
            "potential": glasses[0].info.get("potential"), "heldout_loss_A2": final,
            "heldout_zero_loss_A2": {f"{s:g}": s ** 2 for s in VALIDATION_SIGMAS_A},
            "density_model": density_model(glasses, elements), "torch": torch.__version__}
    generator = StructureGenerator(model, elements, card)
    generator.save(workdir / "generator")
    return generator


def _most_common_rate(glasses: list[Atoms]) -> float:
    """The quench rate most training glasses had (the faster on a tie): a rate the generator has seen,
    never an average of two it has."""
    rates = [float(a.info["quench_K_per_ps"]) for a in glasses]
    return max(set(rates), key=lambda r: (rates.count(r), r))


def _mean_neighbours(cell: tuple, cutoff: float) -> float:
    from matscipy.neighbours import neighbour_list
    kinds, positions, box, _ = cell
    i = neighbour_list("i", positions=positions, cell=box, pbc=[True] * 3, cutoff=cutoff)
    return round(len(i) / len(kinds), 2)


def _append(path: Path, row: dict) -> None:
    new = not path.is_file()
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)
