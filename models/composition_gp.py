"""A GP over glass compositions: mole fractions plus a few physically motivated descriptors (a campaign
over one box of compounds), or element fractions plus composition-weighted elemental descriptors (a pool
of glasses of many compound sets, `ElementFeaturizer`).

Descriptors: Li atoms per oxygen (charge-carrier density per anion) and the fraction of network
formers (Si, P, Al, B, Ti) among cations (network connectivity). An RBF kernel with one length scale
per feature and BoTorch's dimension-scaled length-scale prior (BoTorch's default for `SingleTaskGP`)
on min-max normalised inputs, so the GP learns which components matter; it plugs into every BoTorch
acquisition like the polymer GP.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import torch
from ase.formula import Formula
from botorch.models.transforms.input import Normalize

from amala.core.composition import NETWORK_FORMERS, parse_composition
from amala.models.gp import MIN_VARIANCE, ExactGP


def atom_amounts(fractions: dict[str, float]) -> dict[str, float]:
    """Atoms of each element per formula unit of the glass (mole fractions of compounds in)."""
    atoms: dict[str, float] = {}
    for compound, x in fractions.items():
        for element, n in Formula(compound).count().items():
            atoms[element] = atoms.get(element, 0.0) + x * n
    return atoms


class CompositionFeaturizer:
    def __init__(self, components: Sequence[str]):
        self.components = list(components)

    @property
    def dim(self) -> int:
        return len(self.components) + 2

    def _one(self, text: str) -> list[float]:
        fractions = parse_composition(text)
        atoms = atom_amounts(fractions)
        cations = sum(v for e, v in atoms.items() if e != "O")
        li_per_o = atoms.get("Li", 0.0) / atoms["O"] if atoms.get("O") else 0.0
        formers = sum(v for e, v in atoms.items() if e in NETWORK_FORMERS) / cations if cations else 0.0
        return [fractions.get(c, 0.0) for c in self.components] + [li_per_o, formers]

    def __call__(self, compositions: Sequence[str]) -> torch.Tensor:
        return torch.tensor([self._one(c) for c in compositions], dtype=torch.float64).reshape(-1, self.dim)

    def describe(self) -> dict:
        return {"kind": "composition", "components": self.components, "descriptors": ["li_per_o", "former_fraction"]}


# per-element descriptors, weighted by atom fraction: what lets one model compare glasses of different
# compound sets (SciGlass's 114 compounds), where a fixed box of mole fractions cannot
_DESCRIPTORS = ("covalent_radius_A", "atomic_mass_u", "outer_electrons", "atomic_number")


def _element_descriptors(symbol: str) -> tuple[float, ...]:
    from ase.data import atomic_masses, atomic_numbers, covalent_radii
    from rdkit.Chem import GetPeriodicTable

    z = atomic_numbers[symbol]
    return float(covalent_radii[z]), float(atomic_masses[z]), float(GetPeriodicTable().GetNOuterElecs(z)), float(z)


class ElementFeaturizer:
    """Features of a glass made of any compounds: the atom fraction of each of `elements` (the elements
    of the campaign's pool), the atom-fraction-weighted mean and standard deviation of per-element
    descriptors (covalent radius, mass, outer electrons, Z), Li atoms per anion (O and halogens) and the
    former fraction among cations. Used where a campaign's glasses do not share one set of compounds
    (a SciGlass pool): two glasses with the same elements in the same proportions are the same input."""

    ANIONS = ("O", "F", "Cl", "Br", "I")

    def __init__(self, elements: Sequence[str]):
        self.elements = list(elements)
        self._table = {e: _element_descriptors(e) for e in self.elements}

    @classmethod
    def of(cls, compositions: Sequence[str]) -> ElementFeaturizer:
        found = set()
        for text in compositions:
            for compound in parse_composition(text):
                found.update(Formula(compound).count())
        return cls(sorted(found))

    @property
    def dim(self) -> int:
        return len(self.elements) + 2 * len(_DESCRIPTORS) + 2

    def _one(self, text: str) -> list[float]:
        atoms = atom_amounts(parse_composition(text))
        unknown = set(atoms) - set(self._table)
        if unknown:
            raise ValueError(f"composition {text!r}: element(s) {sorted(unknown)} are not among the featurizer's")
        total = sum(atoms.values())
        weights = np.array([atoms.get(e, 0.0) / total for e in self.elements])
        table = np.array([self._table[e] for e in self.elements]).reshape(len(self.elements), len(_DESCRIPTORS))
        mean = weights @ table
        std = np.sqrt(np.maximum(weights @ (table - mean) ** 2, 0.0))
        anions = sum(atoms.get(a, 0.0) for a in self.ANIONS)
        cations = total - anions
        li_per_anion = atoms.get("Li", 0.0) / anions if anions else 0.0
        formers = sum(v for e, v in atoms.items() if e in NETWORK_FORMERS) / cations if cations else 0.0
        return [*weights, *mean, *std, li_per_anion, formers]

    def __call__(self, compositions: Sequence[str]) -> torch.Tensor:
        return torch.tensor([self._one(c) for c in compositions], dtype=torch.float64).reshape(-1, self.dim)

    def describe(self) -> dict:
        return {"kind": "elements", "elements": self.elements,
                "descriptors": [*(f"mean_{d}" for d in _DESCRIPTORS), *(f"std_{d}" for d in _DESCRIPTORS),
                                "li_per_anion", "former_fraction"]}


class CompositionGP(ExactGP):
    """Built for the `gp` kind in composition campaigns (`amala.models.registry.BY_REPRESENTATION`).

    Two fidelities (`surrogate.high_fidelity`, e.g. simulated glasses low and measured ones high): a
    BoTorch `MultiTaskGP`, the intrinsic coregionalisation model (Bonilla et al. 2008): one RBF kernel
    on the composition features times a learned 2x2 covariance between the fidelities, and a mean per
    fidelity, so a systematic offset between simulation and experiment (five decades of σ for the
    quick LAMMPS profile, docs/benchmarks/sciglass-retrospective.md) costs nothing and only the shape
    the two share carries over. Predictions are at high fidelity. With labels of one fidelity only it is
    the single-task GP."""

    fidelities = True

    @classmethod
    def from_spec(cls, spec, bank: CompositionFeaturizer, representation="composition", seed: int = 0,
                  warm_start: dict | None = None) -> CompositionGP:
        return cls(bank, warm_start=warm_start)

    def __init__(self, featurizer: CompositionFeaturizer | ElementFeaturizer, warm_start: dict | None = None):
        super().__init__(warm_start)
        self.featurizer = featurizer

    def encode(self, compositions: Sequence[str]) -> torch.Tensor:
        return self.featurizer(compositions)

    def _model_options(self, X: torch.Tensor) -> dict:
        return {"input_transform": Normalize(d=X.shape[-1])}

    def fit(self, X: torch.Tensor, y: torch.Tensor, y_var: torch.Tensor | None = None, *,
            high: torch.Tensor | None = None, temperature_K: torch.Tensor | None = None) -> CompositionGP:
        """Single-task unless both fidelities are present (`high` marks the high-fidelity rows)."""
        self.two_fidelities = high is not None and 0 < int(high.sum()) < len(high)
        if not self.two_fidelities:
            return super().fit(X, y, y_var, temperature_K=temperature_K)
        if temperature_K is not None:
            raise ValueError("surrogate gp: models one temperature; temperatures need kind gnn_ensemble")
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import MultiTaskGP
        from gpytorch.mlls import ExactMarginalLogLikelihood

        task = high.double().reshape(-1, 1)
        X_task = torch.cat([X.double(), task], dim=-1)
        self.fixed_noise = y_var is not None
        noise = {} if y_var is None else {"train_Yvar": y_var.double().clamp_min(MIN_VARIANCE).reshape(-1, 1)}
        d = X.shape[-1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = MultiTaskGP(X_task, y.double().reshape(-1, 1), task_feature=d, output_tasks=[1], rank=1,
                                all_tasks=[0, 1], input_transform=Normalize(d=d + 1, indices=list(range(d))),
                                **noise)
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
        model.eval()
        self.model = model
        return self

    def task_correlation(self) -> float | None:
        """The learned correlation between the low and high fidelity (None for one fidelity)."""
        if not getattr(self, "two_fidelities", False):
            return None
        covar = self.model.covar_module.kernels[1].covar_matrix.to_dense().detach()
        return float(covar[0, 1] / torch.sqrt(covar[0, 0] * covar[1, 1]))

    def describe(self) -> dict:
        two = getattr(self, "two_fidelities", False)
        out = {**super().describe(), "kernel": "RBF ARD on composition features"
               + (" x 2x2 fidelity covariance (ICM), predictions at high fidelity" if two else ""),
               "featurizer": self.featurizer.describe()}
        if two:
            out["fidelity_correlation"] = self.task_correlation()
        return out
