"""What a multi-objective campaign's report shows: the Pareto front of its evaluated candidates, its
hypervolume against evaluations beside what random search would be expected to reach, and the
non-dominated candidates with every objective's value and unit.

Read from the store alone (the stored config's `objectives` and `constraints`, the units and pool rows the
running campaign recorded: `amala.loop.status.record_objective`), so the report of a finished campaign needs
neither its oracle nor its dataset. With constraints, the front is that of the feasible candidates (every
constrained value known and within its bound). The reference point follows the campaign's own rule
(`amala.loop.pareto.reference_point`: configured, else the initial design's median).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from amala.loop import pareto
from amala.loop.config import ConstraintSpec, ObjectiveSpec
from amala.loop.objective import Constraint, Objective
from amala.loop.status import recorded_outputs

N_FRONT = 50  # non-dominated candidates listed at most


@dataclass
class FrontRow:
    key: str
    representation: str
    kind: str
    values: list[float]  # each objective, transformed, natural direction
    measured: dict  # every stored value of the evaluation ({name: {value, unit, std}})


@dataclass
class ParetoFront:
    labels: list[str]  # each objective with its transform and unit
    directions: list[str]
    Y: np.ndarray  # every evaluation's objectives (transformed, natural direction), NaN where unknown
    feasible: np.ndarray  # every evaluation: ok, every objective known and every constraint met
    on_front: np.ndarray  # every evaluation: non-dominated among the feasible ones
    rows: list[FrontRow]  # the non-dominated candidates, best first objective first
    constraints: list[str]
    reference: list[float]  # natural direction
    hypervolume: np.ndarray  # after each evaluation (in the objectives' own units multiplied)
    random: tuple[np.ndarray, np.ndarray] | None  # (evaluations, expected hypervolume of random search)


def targets(config: dict, units: dict[str, str]) -> tuple[list[Objective], list[Constraint]]:
    """The stored config's objectives and constraints, with the units the campaign recorded."""
    specs = [ObjectiveSpec.model_validate(o) for o in (config.get("objectives") or [])]
    constraints = [ConstraintSpec.model_validate(c) for c in (config.get("constraints") or [])]
    return ([Objective(s, units.get(s.property, "")) for s in specs],
            [Constraint(c, units.get(c.property, "")) for c in constraints])


def pareto_front(store, campaign, evaluations) -> ParetoFront | None:
    """The front of a campaign with two objectives or more; None for a one-objective campaign."""
    config = campaign.config or {}
    if len(config.get("objectives") or []) < 2:
        return None
    recorded = recorded_outputs(store, campaign.id) or {}
    units = {recorded.get("property"): recorded.get("unit")} | {o["property"]: o["unit"]
                                                                for o in recorded.get("others", [])}
    objectives, constraints = targets(config, units)
    Y = np.array([[_value(o, e) for o in objectives] for _, e in evaluations], dtype=float).reshape(-1, len(objectives))
    C = np.array([[_value(c, e) for c in constraints] for _, e in evaluations], dtype=float).reshape(len(Y), -1)
    met = np.array([all(np.isfinite(v) and c.feasible(v) for c, v in zip(constraints, row)) for row in C], dtype=bool)
    ok = np.array([e.status == "ok" for _, e in evaluations], dtype=bool)
    feasible = ok & np.all(np.isfinite(Y), axis=1) & met if len(Y) else np.zeros(0, dtype=bool)
    signs = np.array([o.sign for o in objectives], dtype=float)
    model = Y * signs  # maximised
    on_front = np.zeros(len(Y), dtype=bool)
    if feasible.any():
        on_front[np.nonzero(feasible)[0][pareto.pareto_mask(model[feasible])]] = True
    reference = _reference(store, campaign, config, objectives, model[ok & np.all(np.isfinite(model), axis=1)])
    curve = pareto.hypervolume_curve(np.where(feasible[:, None], model, np.nan), reference) \
        if reference is not None and len(Y) else np.zeros(len(Y))
    random = None
    rows = recorded.get("pool_rows")
    if rows and reference is not None and len(Y):
        pool = np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=float)
        pool_model = pool[:, :len(objectives)] * signs
        if constraints:
            pool_met = np.array([all(v is not None and c.feasible(v)
                                     for c, v in zip(constraints, row[len(objectives):])) for row in rows], dtype=bool)
            pool_model[~pool_met] = np.nan
        random = pareto.random_hypervolume(pool_model, reference, len(Y), draws=100)
    order = sorted(np.nonzero(on_front)[0], key=lambda i: -model[i, 0])[:N_FRONT]
    front_rows = [FrontRow(c.key, c.representation, c.kind, Y[i].tolist(), e.values or {})
                  for i, (c, e) in ((i, evaluations[i]) for i in order)]
    return ParetoFront([o.label for o in objectives], [o.direction for o in objectives], Y, feasible, on_front,
                       front_rows, [c.text for c in constraints],
                       [] if reference is None else (np.asarray(reference) * signs).tolist(), curve, random)


def _reference(store, campaign, config: dict, objectives: list[Objective], known: np.ndarray) -> list[float] | None:
    """The reference point (model space) the campaign's last selection used, else its rule applied here."""
    for version in reversed(store.model_versions(campaign.id)):
        used = version.details.get("reference_point")
        if used and len(used) == len(objectives):
            return [o.sign * r for o, r in zip(objectives, used)]
    initial = int((config.get("budget") or {}).get("initial", 50))
    given = [None if o.reference is None else o.sign * o.reference for o in objectives]
    try:
        return pareto.reference_point(known[:initial], given)
    except ValueError:
        return None


def _value(target: Objective, evaluation) -> float:
    value = target.of_stored(evaluation.values) if evaluation.status == "ok" else None
    return np.nan if value is None else value
