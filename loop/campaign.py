"""One campaign's active-learning loop as plain functions over the store.

propose -> fit -> score -> select -> (store the batch) -> evaluate -> store -> repeat.
Nothing here imports Prefect: `amala.flows` wraps these steps as tasks, and tests and benchmarks
call them directly. All state lives in the store, so a new `Campaign` over the same database
resumes exactly where the last one stopped.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from amala.agents import Candidate, ProposalContext, build_agent
from amala.loop.acquisition import select
from amala.loop.config import CampaignConfig
from amala.loop.objective import Objective
from amala.loop.store import Batch, SelectedCandidate, Store
from amala.models import build_featurizer, build_surrogate
from amala.models.composition_gp import CompositionFeaturizer
from amala.models.molecular_graph import GraphBank
from amala.models.similarity import SimilarityBank
from amala.oracles import Evaluation, build_oracle
from amala.oracles import datasets


@dataclass
class Observations:
    candidates: list[Candidate]
    y: torch.Tensor  # model space: transformed, 'higher is better'
    y_var: torch.Tensor | None = None  # measurement variances of y, when the oracle reports every one


@dataclass
class Stop:
    reason: str
    final: bool  # the campaign is over (budget, stopping rule), not merely paused until the next run


@dataclass
class IterationSummary:
    index: int
    n_selected: int
    n_ok: int
    n_failed: int
    best: float | None  # transformed objective, natural direction
    n_evaluations: int


class Campaign:
    """A campaign bound to its store, dataset, agents, oracle and surrogate settings."""

    def __init__(self, config: CampaignConfig, store: Store | None = None, table: datasets.Table | None = None,
                 oracle=None):
        """`oracle` replaces the one the config names (benchmarks share one trained emulator)."""
        self.config = config
        self.store = store or Store(config.database_url)
        self.table = table
        if self.table is None and config.data is not None:
            self.table = datasets.load(config.data.dataset, config.data.path, config.data.subset, config.seed)
        pool = list(self.table.frame.smiles) if self.table is not None else None
        self.agents = [build_agent(spec, pool) for spec in config.agents]
        self.oracle = oracle or build_oracle(config.oracle, self.table, workdir=config.work_path, seed=config.seed)
        if config.objective.property not in self.oracle.units:
            raise ValueError(f"objective.property: {config.objective.property!r} is not measured by oracle "
                             f"{self.oracle.name!r} (it gives {sorted(self.oracle.units)})")
        self.objective = Objective(config.objective, self.oracle.units[config.objective.property])
        # what the surrogate's inputs are made from, kept for the whole campaign (caches live in it)
        if config.representation == "composition":
            components = sorted({c for spec in config.agents for c in (spec.bounds or {})})
            self.bank = CompositionFeaturizer(components)
        elif config.surrogate.kind == "gnn_ensemble":
            self.bank = GraphBank()
        else:
            self.bank = SimilarityBank(build_featurizer(config.surrogate.featurizer))
        self._surrogate = None  # last fitted model, kept to warm-start the next fit
        self.row = self.store.open_campaign(config.name, config.model_dump(mode="json"))
        self.id = self.row.id

    # state --------------------------------------------------------------------------------
    def n_evaluations(self) -> int:
        return self.store.count_evaluations(self.id)

    def observations(self) -> Observations:
        pairs = [(c, e) for c, e in self.store.evaluations(self.id) if e.objective is not None]
        candidates = [Candidate(c.representation, kind=c.kind, agent=c.agent) for c, _ in pairs]
        y = torch.tensor([self.objective.sign * e.objective for _, e in pairs], dtype=torch.float64)
        measured = [e.values.get(self.objective.property, {}) for _, e in pairs]
        variances = [self.objective.variance(m.get("value", math.nan), m.get("std")) for m in measured]
        y_var = None if any(v is None for v in variances) else torch.tensor(variances, dtype=torch.float64)
        return Observations(candidates, y, y_var)

    def best(self) -> float | None:
        values = [self.objective.sign * e.objective for _, e in self.store.evaluations(self.id)
                  if e.objective is not None]
        return self.objective.sign * max(values) if values else None

    def stop_reason(self, iterations_this_run: int = 0, max_iterations: int | None = None) -> Stop | None:
        """Why the campaign should stop now, or None to go on. Checked only between batches."""
        budget = self.config.budget
        done = self.n_evaluations()
        if done >= budget.max_evaluations:
            return Stop(f"evaluation budget reached ({done}/{budget.max_evaluations})", final=True)
        if budget.patience is not None:
            stale = self._batches_since_improvement()
            if stale >= budget.patience:
                return Stop(f"no new best in the last {stale} batches (patience {budget.patience})", final=True)
        limit = max_iterations or budget.max_iterations
        if limit is not None and iterations_this_run >= limit:
            return Stop(f"iteration limit of this run reached ({iterations_this_run}); re-run to resume", final=False)
        return None

    def _batches_since_improvement(self) -> int:
        best, stale = None, 0
        sign = self.objective.sign
        by_iteration: dict[int, list[float]] = {}
        for _, e in self.store.evaluations(self.id):
            if e.objective is not None and e.iteration_id is not None:
                by_iteration.setdefault(e.iteration_id, []).append(sign * e.objective)
        for values in (by_iteration[k] for k in sorted(by_iteration)):
            top = max(values)
            if best is None or top > best:
                best, stale = top, 0
            else:
                stale += 1
        return stale

    # steps --------------------------------------------------------------------------------
    def propose(self) -> list[Candidate]:
        observed = self.observations()  # generators start from the best so far (higher is better)
        context = ProposalContext(iteration=self.store.next_iteration_index(self.id), seed=self.config.seed,
                                  known_keys=self.store.known_keys(self.id),
                                  evaluated=list(zip(observed.candidates, observed.y.tolist())))
        proposals: dict[str, Candidate] = {}
        for agent in self.agents:
            for candidate in agent.propose(context):
                proposals.setdefault(candidate.key, candidate)
        return list(proposals.values())

    def select_batch(self, candidates: list[Candidate]) -> Batch | None:
        """Fit the surrogate, score the candidates, choose a batch and store it (one transaction)."""
        if not candidates:
            return None
        budget, acq = self.config.budget, self.config.acquisition
        index = self.store.next_iteration_index(self.id)
        seed = _derived_seed(self.config.seed, index, "select")
        remaining = budget.max_evaluations - self.n_evaluations()
        observed = self.observations()
        initial = index == 0 or len(observed.y) < 2
        q = min(budget.initial if initial else acq.batch_size, remaining)
        if initial:
            picks = select("random", None, torch.empty(len(candidates), 0), None, q, seed)
            chosen = [SelectedCandidate(candidates[p.index]) for p in picks]
            return self.store.record_selection(self.id, "random (initial design)", chosen, n_scored=len(candidates))

        t0 = time.perf_counter()
        surrogate = build_surrogate(self.config.surrogate, self.bank, seed=seed, previous=self._surrogate)
        X_train = surrogate.encode([c.representation for c in observed.candidates])
        X = surrogate.encode([c.representation for c in candidates])
        self._surrogate = surrogate.fit(X_train, observed.y, observed.y_var)
        t1 = time.perf_counter()
        mean, std = surrogate.predict(X)
        t2 = time.perf_counter()
        picks = select(acq.strategy, surrogate, X, X_train, q, seed, mean=mean, std=std, ucb_beta=acq.ucb_beta,
                       prescreen=acq.prescreen, mc_samples=acq.mc_samples)
        t3 = time.perf_counter()
        chosen = [SelectedCandidate(candidates[p.index], self.objective.sign * float(mean[p.index]),
                                    float(std[p.index]), p.acquisition_value) for p in picks]
        model = {**surrogate.describe(), "featurizer": self.bank.describe(), "seed": seed,
                 "objective": self.objective.label}
        timings = {"fit": t1 - t0, "score": t2 - t1, "select": t3 - t2}
        return self.store.record_selection(self.id, acq.strategy, chosen, model=model, timings=timings,
                                           n_scored=len(candidates))

    def pending_batch(self) -> Batch | None:
        return self.store.pending_batch(self.id)

    def evaluate(self, batch: Batch) -> list[Evaluation]:
        """Run the oracle on the batch's candidates that have no evaluation yet."""
        todo = self.store.unevaluated(batch, self.oracle.name, self.oracle.fidelity)
        return self.oracle.evaluate(todo) if todo else []

    def record(self, batch: Batch, evaluations: list[Evaluation], seconds: float = 0.0) -> IterationSummary:
        self.store.record_evaluations(self.id, batch, evaluations, self.objective.of, evaluate_seconds=seconds)
        n_ok = sum(e.ok for e in evaluations)
        return IterationSummary(batch.index, len(batch.candidates), n_ok, len(evaluations) - n_ok, self.best(),
                                self.n_evaluations())

    def step(self) -> IterationSummary | None:
        """One whole iteration without a workflow engine (tests, benchmarks)."""
        batch = self.pending_batch() or self.select_batch(self.propose())
        if batch is None:  # every candidate has been proposed and evaluated
            return None
        start = time.perf_counter()
        evaluations = self.evaluate(batch)
        return self.record(batch, evaluations, time.perf_counter() - start)

    def finish(self, stop: Stop) -> None:
        self.store.set_status(self.id, "finished" if stop.final else "stopped", stop.reason)


def _derived_seed(seed: int, iteration: int, role: str) -> int:
    """Seed of one stochastic step, derived from (campaign seed, iteration, role)."""
    return (seed * 1_000_003 + iteration * 9_176 + sum(map(ord, role))) % (2**31 - 1)
