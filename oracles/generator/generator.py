"""A trained structure generator: a glass of a composition from random positions, by repeated denoising.

Generation follows DM² (Yang & Schwalbe-Koda, arXiv 2507.05024): atoms placed at random in a cubic
cell at the composition's density (`cells.build`, the oracles' own starting cell), then `steps` rounds
of x <- x - D(x) + σ_k ε with σ_k falling linearly from `sigma_start_A` to zero (the denoiser D removes
the noise it sees, fresh smaller noise keeps the atoms exploring), then `final_steps` rounds of pure
denoising. Deterministic by seed (the starting cell and every noise draw come from it). The density is
the one the training glasses had, interpolated linearly in their element fractions (stored in the
card), since the denoiser moves atoms but never changes the cell.

A generated cell is unrelaxed: the oracle that uses it relaxes it with its own potential first. A
generation that leaves two atoms closer than `min_distance_A` raises `GenerationFailed` with the pair,
which the oracle stores as a failed evaluation.

On disk a generator is a folder: `denoiser.pt` (weights), `card.json` (what it learned from, how it was
trained, its held-out loss, the density model, sha256 of the weights).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from ase import Atoms

from amala.core.composition import InvalidComposition, canonical_composition, parse_composition
from amala.oracles.generator.denoiser import Denoiser, graph
from amala.oracles.generator.spec import DEFAULT_STEPS
from amala.oracles.md.cells import CellError, build, cell_symbols, formula_units, min_pair_distance

WEIGHTS, CARD = "denoiser.pt", "card.json"
QUENCH_SCALE = 2.0  # log10(K/ps) / 2: rates of 1-100 K/ps give conditions of 0-1, like the fractions


class GenerationFailed(RuntimeError):
    """A composition the generator cannot make, or a generated cell with overlapping atoms; one line."""


@dataclass(frozen=True)
class SamplingSettings:
    steps: int = DEFAULT_STEPS
    final_steps: int = 50
    sigma_start_A: float = 0.75
    min_distance_A: float = 1.0


class StructureGenerator:
    """A denoiser with its elements, its density model and its card."""

    def __init__(self, denoiser: Denoiser, elements: list[str], card: dict):
        self.denoiser = denoiser.eval()
        self.elements = list(elements)
        self.card = card
        self.name = card.get("name", "generator")

    # --- conditions and density ----------------------------------------------------------------------
    def condition(self, symbols: list[str], quench_K_per_ps: float) -> np.ndarray:
        return conditions(self.elements, symbols, quench_K_per_ps)

    def density(self, symbols: list[str]) -> float:
        """g/cm3 from the card's linear model in element fractions (fit on the training glasses)."""
        model = self.card["density_model"]
        fractions = element_fractions(self.elements, symbols)
        return float(np.dot(model["coefficients"], fractions) + model["intercept"])

    @property
    def version(self) -> str:
        return self.card.get("sha256", "")[:12]

    def provenance(self) -> dict:
        return {"generator": self.name, "generator_version": self.version,
                "generator_trained_on": self.card.get("training_glasses"),
                "generator_steps_trained": self.card.get("steps_done")}

    # --- generation ------------------------------------------------------------------------------------
    def sample(self, composition: str, n_atoms: int, seed: int = 0, quench_K_per_ps: float | None = None,
               density_g_cm3: float | None = None, settings: SamplingSettings | None = None) -> Atoms:
        """One generated glass of the composition (oxide mole fractions, e.g. "Li2O:0.3;SiO2:0.7")."""
        settings = settings or SamplingSettings()
        try:
            fractions = parse_composition(composition)
            symbols = cell_symbols(formula_units(fractions, n_atoms))
        except (InvalidComposition, CellError) as exc:
            raise GenerationFailed(f"generator {self.name}: {exc}") from None
        unknown = sorted(set(symbols) - set(self.elements))
        if unknown:
            raise GenerationFailed(f"generator {self.name} knows {', '.join(self.elements)}; the composition "
                                   f"{composition} has {', '.join(unknown)}")
        quench = quench_K_per_ps or self.card["default_quench_K_per_ps"]
        density = density_g_cm3 or self.density(symbols)
        try:
            atoms = build(fractions, density, n_atoms, seed=seed).atoms
        except CellError as exc:
            raise GenerationFailed(f"generator {self.name}: {exc}") from None
        kinds = np.array([self.elements.index(s) for s in atoms.get_chemical_symbols()])
        condition = self.condition(atoms.get_chemical_symbols(), quench)
        positions, cell = atoms.get_positions(), atoms.get_cell().array
        rng = torch.Generator().manual_seed(int(seed))
        sigmas = np.linspace(settings.sigma_start_A, 0.0, settings.steps, endpoint=False)
        with torch.no_grad():
            for sigma in [*sigmas, *[0.0] * settings.final_steps]:
                step = self.denoiser(graph([(kinds, positions, cell, condition)], self.denoiser.cutoff)).double()
                noise = sigma * torch.randn(positions.shape, generator=rng, dtype=torch.float64)
                positions = positions - step.numpy() + noise.numpy()
        atoms.set_positions(positions)
        atoms.wrap()
        closest = min_pair_distance(atoms)
        if not np.isfinite(positions).all() or closest < settings.min_distance_A:
            raise GenerationFailed(f"generator {self.name}: two atoms {closest:.2f} Å apart after denoising "
                                   f"{composition} (seed {seed}; limit {settings.min_distance_A} Å)")
        atoms.info.update({"composition": canonical_composition(fractions), "generator": self.name,
                           "generator_version": self.version, "seed": seed, "quench_K_per_ps": quench,
                           "density_g_cm3": round(density, 4),
                           "denoising_steps": settings.steps + settings.final_steps})
        return atoms

    # --- files -----------------------------------------------------------------------------------------
    def save(self, folder: Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        torch.save({"state": self.denoiser.state_dict(), "settings": self.card["denoiser"],
                    "elements": self.elements, "n_conditions": len(self.elements) + 1}, folder / WEIGHTS)
        self.card["sha256"] = hashlib.sha256((folder / WEIGHTS).read_bytes()).hexdigest()
        (folder / CARD).write_text(json.dumps(self.card, indent=1))
        return folder

    @classmethod
    def load(cls, folder: Path) -> StructureGenerator:
        folder = Path(folder)
        if not (folder / WEIGHTS).is_file() or not (folder / CARD).is_file():
            raise FileNotFoundError(f"{folder}: not a structure generator (no {WEIGHTS} and {CARD})")
        saved = torch.load(folder / WEIGHTS, map_location="cpu", weights_only=True)
        card = json.loads((folder / CARD).read_text())
        digest = hashlib.sha256((folder / WEIGHTS).read_bytes()).hexdigest()
        if card.get("sha256") and card["sha256"] != digest:
            raise ValueError(f"{folder / WEIGHTS}: sha256 {digest[:12]} is not the card's {card['sha256'][:12]}")
        denoiser = make_denoiser(saved["settings"], len(saved["elements"]), saved["n_conditions"])
        denoiser.load_state_dict(saved["state"])
        return cls(denoiser, saved["elements"], card)


def make_denoiser(settings: dict, n_species: int, n_conditions: int) -> Denoiser:
    return Denoiser(n_species, n_conditions, features=settings["features"], layers=settings["layers"],
                    cutoff=settings["cutoff_A"], n_rbf=settings["radial_basis"],
                    mean_neighbours=settings.get("mean_neighbours", 30.0))


def element_fractions(elements: list[str], symbols: list[str]) -> np.ndarray:
    counts = np.array([symbols.count(e) for e in elements], dtype=float)
    return counts / max(1, len(symbols))


def conditions(elements: list[str], symbols: list[str], quench_K_per_ps: float) -> np.ndarray:
    """The denoiser's condition vector: element fractions, then log10(quench rate in K/ps) / 2."""
    return np.append(element_fractions(elements, symbols), np.log10(quench_K_per_ps) / QUENCH_SCALE)


# --- where generators live ---------------------------------------------------------------------------

def generators_folder() -> Path:
    """Installed generators, found by name: `<AMALA_DATA_DIR or ~/.cache/amala>/generators/NAME`."""
    from amala.core.settings import settings

    return settings().data_folder / "generators"


def install(folder: Path, name: str) -> Path:
    """Copy a trained generator's folder to the installed ones under `name` (replacing an older one)."""
    import shutil

    StructureGenerator.load(folder)  # only a whole, matching generator is installed
    target = generators_folder() / name
    staging = target.with_name(f".{name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(folder, staging)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


SHIPPED_FOLDER = Path(__file__).parent / "data"  # generators that come with amala (package data)


def installed() -> list[Path]:
    """Installed generators, then the shipped ones that no installed one of the same name hides."""
    found = {}
    for root in (SHIPPED_FOLDER, generators_folder()):
        if root.is_dir():
            found.update({p.name: p for p in root.iterdir() if (p / CARD).is_file()})
    return [found[name] for name in sorted(found)]


def find(name_or_path: str, also: tuple[Path, ...] = ()) -> StructureGenerator:
    """A generator by folder path, or by name among `also` (e.g. a campaign's `generators/` folder), the
    installed ones and the shipped ones, in that order; one line naming where it looked when there is none."""
    path = Path(name_or_path).expanduser()
    if (path / CARD).is_file():
        return StructureGenerator.load(path)
    places = [*also, generators_folder(), SHIPPED_FOLDER]
    for place in places:
        if (Path(place) / name_or_path / CARD).is_file():
            return StructureGenerator.load(Path(place) / name_or_path)
    raise GenerationFailed(f"no structure generator {name_or_path!r} (looked in {', '.join(map(str, places))}; "
                           f"`amala generator train CONFIG` makes one)")


def replace_with_generated(generator: StructureGenerator, atoms: Atoms, composition: str, seed: int, steps: int,
                           quench_K_per_ps: float | None = None) -> dict:
    """Put a generated glass of `composition` into an oracle's starting cell `atoms` (same atoms in the same
    order: both come from `cells.build`'s formula units), in place; returns the provenance an evaluation
    stores. Raises GenerationFailed with the reason."""
    started = time.perf_counter()
    glass = generator.sample(composition, len(atoms), seed=seed, quench_K_per_ps=quench_K_per_ps,
                             settings=SamplingSettings(steps=steps))
    if sorted(glass.get_chemical_symbols()) != sorted(atoms.get_chemical_symbols()):
        raise GenerationFailed(f"generator {generator.name} made {glass.get_chemical_formula()}, not the cell's "
                               f"{atoms.get_chemical_formula()}")
    atoms.set_chemical_symbols(glass.get_chemical_symbols())
    atoms.set_cell(glass.get_cell())
    atoms.set_positions(glass.get_positions())
    atoms.info.update({k: glass.info[k] for k in ("generator", "generator_version", "quench_K_per_ps")})
    return {"structure_source": "generator", **generator.provenance(),
            "generation_seconds": round(time.perf_counter() - started, 2),
            "generated_density_g_cm3": glass.info["density_g_cm3"], "denoising_steps": glass.info["denoising_steps"]}


class GeneratedStarts:
    """The MD oracles' `structure: {source: generator}` (LAMMPS and MLIP alike): the generator found on first
    use, in the worker process that simulates, then each candidate's starting cell replaced by its glass."""

    def __init__(self, structure, workdir: Path):
        self.structure, self.workdir = structure, Path(workdir)
        self._generator: StructureGenerator | None = None

    def apply(self, atoms: Atoms, composition: str, seed: int) -> dict:
        """`atoms` replaced in place; returns the evaluation's provenance. Raises GenerationFailed."""
        if self._generator is None:
            self._generator = find(self.structure.generator, also=(self.workdir / "generators",))
        return {**replace_with_generated(self._generator, atoms, composition, seed, self.structure.steps,
                                         self.structure.quench_K_per_ps), "anneal_ps": self.structure.anneal_ps}
