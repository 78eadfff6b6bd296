"""Students that ship with amala: potentials distilled once from the teacher, so a campaign starts from a
student that is already right on the glasses it was distilled on, instead of training one from scratch
on a few dozen frames of one cell (which the benchmarks measured at 170-340 meV/Å, useless for MD).

Each shipped student is a folder `data/students/<name>/` with two files:
- `<name>.nequip.zip`, made by `nequip-package`: the model with the code that built it, so a later nequip
  still loads it (a training checkpoint would not). It is compiled for the user's machine on first use
  (`nequip-compile`, AOTInductor) and the compiled file is cached under the data folder, keyed by the
  package's sha256 and the torch version, so each machine compiles once;
- `card.json`, its model card: teacher and version, elements, training compositions and temperatures,
  frames per generator, held-out errors per glass and temperature, D_Li(900 K) student/teacher, speed
  against the teacher, training time, known out-of-domain cases, sha256 and versions. The card's measured
  errors are what a campaign's gate compares a new glass's spot checks with (`family_force_mae`).

Units on the card: forces eV/Å, energies eV/atom (the `*_meV_*` keys of the per-glass rows say theirs).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from amala.core.settings import settings

__all__ = ["CARD_KEYS", "SHIPPED_FOLDER", "ShippedStudent", "UnknownStudent", "load", "names", "package"]

SHIPPED_FOLDER = Path(__file__).parent / "data" / "students"

# what every card says (the contract with users and with `amala potential card --json`)
CARD_KEYS = ("name", "elements", "teacher", "heldout_force_mae_eV_A", "heldout_energy_mae_eV_atom",
             "speedup_vs_teacher_128_atoms", "d_li_ratio_900K", "d_li_ratio_interval", "sha256")


class UnknownStudent(ValueError):
    """A shipped student's name that is not shipped (the message lists those that are)."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class ShippedStudent:
    """One shipped student: its package file and its card."""

    name: str
    folder: Path
    card: dict

    @property
    def package(self) -> Path:
        return self.folder / f"{self.name}.nequip.zip"

    @property
    def elements(self) -> list[str]:
        return list(self.card["elements"])

    def missing_elements(self, symbols) -> list[str]:
        """The elements of `symbols` the student has no type for (it cannot run such a cell)."""
        return sorted(set(symbols) - set(self.elements))

    def family_force_mae(self, family: str | None = None) -> float:
        """The card's held-out force MAE (eV/Å) for a glass family (thiophosphate, oxide, ...) at the
        production temperatures, else its overall held-out value: the scale a campaign's spot checks are
        judged against."""
        return float(self.card.get("families", {}).get(family or "", {}).get("force_mae_eV_A",
                                                                               self.card["heldout_force_mae_eV_A"]))

    def reference_force_mae(self, family: str | None, temperature_K: float) -> float:
        """The card's held-out force MAE (eV/Å) for a glass family at a temperature: linear in T between
        the card's per-temperature rows of that family (the melt's row included), constant beyond them;
        without such rows, `family_force_mae`.

        Why by temperature: the student's error grows with temperature (on a-Li3PS4-type glasses 152
        meV/Å at 500 K, 227 at the 1200 K melt), so a check at the melt judged against the production
        value would fail a student that is as good as its card, and a check at 500 K judged against an
        average would pass one that is worse."""
        import numpy as np

        rows = sorted((float(r["T_K"]), float(r["force_mae_meV_A"]) / 1000.0) for r in self.card.get("heldout", [])
                      if r.get("family") == family and r.get("force_mae_meV_A") is not None)
        if not rows:
            return self.family_force_mae(family)
        temperatures = sorted({T for T, _ in rows})  # two glasses of one family at one T: their mean
        errors = [float(np.mean([e for t, e in rows if t == T])) for T in temperatures]
        return float(np.interp(temperature_K, temperatures, errors))

    def verify(self) -> None:
        """Refuse a package whose bytes are not those the card was measured on."""
        found = _sha256(self.package)
        if found != self.card["sha256"]:
            raise ValueError(f"{self.package}: sha256 {found[:12]}… is not the card's {self.card['sha256'][:12]}…; "
                             "the file was changed after it was measured")

    def compiled(self, device: str = "cpu", timeout_s: float = 1800) -> tuple[Path | None, str | None]:
        """(compiled model, None), compiling on first use on this machine, or (None, why it failed): a
        failed compile, or one whose forces differ from the package's on a shipped frame, is remembered next
        to the cache entry, so it is not retried every glass."""
        import torch

        cache = settings().data_folder / "students"
        stem = f"{self.name}-{self.card['sha256'][:12]}-torch{torch.__version__.split('+')[0]}-{device}"
        output, failed = cache / f"{stem}.nequip.pt2", cache / f"{stem}.failed"
        if output.is_file():
            return output, None
        if failed.is_file():
            return None, failed.read_text()
        cache.mkdir(parents=True, exist_ok=True)
        partial = cache / f"{stem}.partial.nequip.pt2"
        from amala.oracles.mlip.nequip_student import aot_compile, compiled_disagrees

        reason = aot_compile(self.package, partial, cache / f"{stem}.log", device, timeout_s)
        if reason is None:
            reason = compiled_disagrees(partial, self.package, self.probe_frame(), device)
        if reason:
            failed.write_text(reason)
            return None, reason
        partial.replace(output)  # whole or absent: a killed compile leaves no half file under the final name
        return output, None

    def probe_frame(self):
        """One of the shipped replay frames: what a compiled model is checked on before it is used."""
        from ase.io import read

        path = self.folder / "replay.extxyz.gz"
        return read(path, 0) if path.is_file() else None

    def calculator(self, device: str = "cpu", compiled: bool = False):
        """An ASE calculator of the student: the package itself (eager; no compiler needed), or with
        `compiled` the model compiled for this machine (several times faster in MD; falls back to the
        package when compiling fails)."""
        from amala.oracles.mlip.nequip_student import load_calculator

        path = self.compiled(device)[0] if compiled else None
        return load_calculator(path if path is not None else self.package, device)


def names(folder: Path | None = None) -> list[str]:
    """The shipped students' names (folders with a card)."""
    return sorted(p.parent.name for p in Path(folder or SHIPPED_FOLDER).glob("*/card.json"))


def load(name: str, folder: Path | None = None) -> ShippedStudent:
    """The shipped student `name`; an unknown name is refused in one line that lists the shipped ones."""
    card_file = Path(folder or SHIPPED_FOLDER) / name / "card.json"
    if not card_file.is_file():
        raise UnknownStudent(f"no shipped student {name!r} (shipped: {', '.join(names(folder)) or 'none'}; "
                             "`scratch` trains one from the campaign's own labels)")
    card = json.loads(card_file.read_text())
    missing = [key for key in CARD_KEYS if key not in card]
    if missing:
        raise ValueError(f"{card_file}: the card lacks {', '.join(missing)}")
    return ShippedStudent(name, card_file.parent, card)


def package(checkpoint: Path, name: str, card: dict, folder: Path | None = None) -> ShippedStudent:
    """Package a trained student (`nequip-package build`) as `folder/name/` with its card; the card gets
    the package's sha256 and the versions it was made with. Returns the shipped student."""
    from amala.oracles.mlip.nequip_student import StudentTrainingFailed, _last_error, _tool

    target = Path(folder or SHIPPED_FOLDER) / name
    target.mkdir(parents=True, exist_ok=True)
    output = target / f"{name}.nequip.zip"
    log = target.parent / f".{name}-package.log"
    with open(log, "w") as out:
        done = subprocess.run([_tool("nequip-package"), "build", str(checkpoint), str(output)],
                              stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0 or not output.is_file():
        raise StudentTrainingFailed(f"nequip-package failed ({log}): {_last_error(log)}")
    log.unlink()
    import torch

    card = {**card, "name": name, "sha256": _sha256(output), "package_bytes": output.stat().st_size,
            "versions": {"nequip": version("nequip"), "torch": torch.__version__}}
    missing = [key for key in CARD_KEYS if key not in card]
    if missing:
        raise ValueError(f"card of {name}: lacks {', '.join(missing)}")
    (target / "card.json").write_text(json.dumps(card, indent=1, default=str) + "\n")
    return load(name, folder)
