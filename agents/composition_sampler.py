"""Proposes glass compositions spread evenly over the allowed region of composition space.

The region: each component's mole fraction within its bounds, all summing to 1. Scrambled Sobol
points (scipy.stats.qmc) fill the box of the first k-1 components; the last component takes the
remainder, and points where it falls outside its bounds are dropped. Low-discrepancy points cover
the region more evenly than independent random draws, which matters for a small initial design.

Every point is then snapped to a grid of `step` in mole fraction (largest-remainder rounding, so
it still sums to 1 exactly). A simulation cell of a few hundred atoms holds a few dozen formula
units, so it cannot tell 0.3712 from 0.3698, nor hold 0.1% of a component: proposing such
differences would spend simulations on glasses that are the same cell.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from amala.agents.protocol import Agent, Proposal, ProposalContext
from amala.core.candidate import Candidate
from amala.core.composition import canonical_composition
from amala.core.plugins import AgentSpec, Bounds, Float, Quota, Spec, Text
from amala.core.representations import Representation


class GlassLikeness(Spec):
    """Keep only compositions the glass prior (agents/glass_prior.py, trained on SciGlass's glasses of the
    bounds' compounds) finds at least as glass-like as the `quantile` of the known glasses' own ELBOs."""

    quantile: Literal[0.01, 0.05, 0.1, 0.25, 0.5] = 0.05
    data: Text | None = Field(None, description="SciGlass table (default: the dataset's local copy)")


class CompositionSpec(AgentSpec):
    kind: Literal["composition"] = "composition"
    bounds: Bounds | None = None  # mole-fraction range per oxide; a composition campaign requires it
    n: Quota = 64
    step: Float = Field(0.02, gt=0, le=0.5, description="mole-fraction grid; a few-hundred-atom cell cannot resolve "
                        "finer differences")
    glass_like: GlassLikeness | None = Field(None, description="propose only compositions that look like known "
                                             "glasses (the glass prior's likelihood; needs the SciGlass table)")

    def composition_bounds(self) -> dict[str, tuple[float, float]]:
        return self.bounds or {}


class CompositionSampler(Agent):
    Spec = CompositionSpec
    representations = (Representation.COMPOSITION,)
    needs_dataset = False

    @classmethod
    def from_spec(cls, spec: CompositionSpec, pool=None, representation="composition",
                  workdir=None) -> CompositionSampler:
        return cls(spec.bounds or {}, n=spec.n, step=spec.step, name=spec.name or "composition",
                   glass_like=spec.glass_like, workdir=workdir)

    def __init__(self, bounds: dict[str, tuple[float, float]], n: int = 64, step: float = 0.02,
                 name: str = "composition", glass_like: GlassLikeness | None = None, workdir=None):
        if len(bounds) < 2:
            raise ValueError("agents[].bounds: a glass needs at least two components")
        for component, (lo, hi) in bounds.items():
            if not 0 <= lo <= hi <= 1:
                raise ValueError(f"agents[].bounds.{component}: need 0 <= low <= high <= 1, got [{lo}, {hi}]")
        if sum(lo for lo, _ in bounds.values()) > 1 or sum(hi for _, hi in bounds.values()) < 1:
            raise ValueError(f"agents[].bounds: no composition within {bounds} sums to 1")
        self.bounds, self.n, self.step, self.name = dict(bounds), n, step, name
        self.glass_like, self.workdir, self._prior = glass_like, workdir, None

    def _glass_like(self, texts: list[str]) -> tuple[list[bool], list[float]]:
        """Whether each composition passes the glass-likeness threshold, and its ELBO (nats)."""
        from pathlib import Path

        from amala.agents.glass_prior import PriorSettings, trained_prior

        if self._prior is None:
            self._prior, _ = trained_prior(PriorSettings(compounds=tuple(sorted(self.bounds))),
                                           self.glass_like.data, Path(self.workdir or ".") / "glass_prior")
        threshold = self._prior.record["elbo_quantiles"][f"{self.glass_like.quantile:g}"]
        elbo = self._prior.log_likelihood(texts)
        return [bool(e >= threshold) for e in elbo], [float(e) for e in elbo]

    def snap(self, fractions: np.ndarray) -> np.ndarray:
        """The nearest point of the `step` grid that still sums to 1 (largest remainder first)."""
        units = round(1 / self.step)
        scaled = fractions * units
        whole = np.floor(scaled)
        short = int(units - whole.sum())
        whole[np.argsort(whole - scaled)[:short]] += 1  # largest remainders get the missing steps
        return whole / units

    def propose(self, context: ProposalContext, n: int | None = None) -> Proposal:
        wanted = n or self.n
        names = list(self.bounds)
        lows = np.array([self.bounds[c][0] for c in names])
        highs = np.array([self.bounds[c][1] for c in names])
        from scipy.stats import qmc  # lazy: the config imports this module for its spec

        sampler = qmc.Sobol(d=len(names) - 1, scramble=True, seed=context.rng(self.name))
        found: dict[str, Candidate] = {}
        for _ in range(64):  # rounds of 2^m points until enough valid, new compositions
            points = qmc.scale(sampler.random(256), lows[:-1], highs[:-1])
            points = np.column_stack([points, 1 - points.sum(1)])
            points = np.array([self.snap(p) for p in points if p[-1] >= 0])
            eps = 1e-9
            ok = ((points >= lows - eps) & (points <= highs + eps)).all(1) if len(points) else []
            texts = [canonical_composition(dict(zip(names, row))) for row in (points[ok] if len(points) else [])]
            keep, elbo = self._glass_like(texts) if self.glass_like and texts else ([True] * len(texts), [])
            for k, text in enumerate(texts):
                if not keep[k]:
                    continue
                candidate = Candidate(text, kind=Representation.COMPOSITION, agent=self.name)
                if elbo:
                    candidate.metadata.update(glass_elbo_nats=elbo[k], prior_version=self._prior.version)
                if candidate.key not in context.known_keys:
                    found.setdefault(candidate.key, candidate)
                if len(found) >= wanted:
                    return Proposal(list(found.values()))
        return Proposal(list(found.values()))
