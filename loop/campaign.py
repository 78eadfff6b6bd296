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
from amala.core import datasets, sciglass, seeding
from amala.core.representations import Representation, pool_column
from amala.core.validity import ProposalFilter
from amala.loop.acquisition import select
from amala.loop.approval import BatchDecision
from amala.loop.config import CampaignConfig, stored_config
from amala.loop.executors import InlineExecutor, RunStopping
from amala.loop.lease import RunLease
from amala.loop.library_source import LibrarySource
from amala.loop.multi_objective import select_many
from amala.loop.objective import Constraint, Objective
from amala.loop.pareto import reference_point
from amala.loop.shortlist import random_candidates, shortlist
from amala.loop.states import UNDECIDED, Approval, CampaignStatus
from amala.loop.status import record_objective
from amala.loop.store import Batch, SelectedCandidate, Store
from amala.loop.threads import campaign_threads, use_threads
from amala.models import build_featurizer, build_surrogate
from amala.models.composition_gp import CompositionFeaturizer, ElementFeaturizer
from amala.models.formulation_features import FormulationFeaturizer
from amala.models.molecular_graph import GraphBank
from amala.models.multi_output import MultiOutput
from amala.models.registry import SURROGATES
from amala.models.similarity import FingerprintBank
from amala.oracles import Evaluation, build_oracle
from amala.oracles.registry import TransientOracleError
from amala.oracles.tables.formulation_lookup import formulation_table


@dataclass
class Observations:
    candidates: list[Candidate]
    y: torch.Tensor  # model space: transformed, 'higher is better'
    y_var: torch.Tensor | None = None  # measurement variances of y, when the oracle reports every one
    fidelities: list[str] | None = None  # each observation's evaluation fidelity (multi-fidelity surrogates)
    temperatures: torch.Tensor | None = None  # K, where each was measured, when the oracle reports every one
    # several modelled outputs (objectives, then constrained properties): n x outputs, model space; y is column 0
    Y: torch.Tensor | None = None
    Y_var: torch.Tensor | None = None  # their measurement variances (NaN where the oracle reported none)

    @staticmethod
    def measured_at(evaluations) -> torch.Tensor | None:
        """Each evaluation's `measurement_temperature` (K; e.g. formulation_lookup's temperature closest to
        25 degC), or None unless every one has it."""
        values = [e.values.get("measurement_temperature", {}) for e in evaluations]
        if not values or any(v.get("unit") != "K" or v.get("value") is None for v in values):
            return None
        return torch.tensor([float(v["value"]) for v in values], dtype=torch.float64)

    def high(self, labels: list[str]) -> torch.Tensor | None:
        """Which observations are high fidelity, or None when no labels are configured."""
        if not labels or self.fidelities is None:
            return None
        return torch.tensor([f in labels for f in self.fidelities], dtype=torch.bool)


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
    waiting: int = 0  # candidates of the batch still without a result (external oracles)


class Campaign:
    """A campaign bound to its store, dataset, agents, oracle and surrogate settings."""

    def __init__(self, config: CampaignConfig, store: Store | None = None, table: datasets.Table | None = None,
                 oracle=None):
        """`oracle` replaces the one the config names (benchmarks share one trained emulator)."""
        self.config = config
        self.table = table
        if self.table is None and config.data is not None:
            self.table = datasets.load(config.data.dataset, config.data.path, config.data.subset, config.seed)
        if config.representation == Representation.FORMULATION and self.table is not None:
            gap = config.data.temperature_gap_K if config.data is not None else None
            self.table = formulation_table(self.table, max_gap_K=gap)  # one row per formulation: the pool
        if config.representation == Representation.COMPOSITION and self.table is not None:
            self.table = sciglass.pool_for(self.table, config.objective.property)  # glasses with the value measured
        pool = list(self.table.frame[pool_column(config.representation)]) if self.table is not None else None
        work = config.work_path.resolve()  # files referenced from the store by absolute paths, from any folder
        self.agents = [build_agent(spec, pool, config.representation, work) for spec in config.agents]
        self.oracle = oracle or build_oracle(config.oracle, self.table, workdir=work, seed=config.seed)
        for key, name in config.output_keys:
            if name not in self.oracle.units:
                raise ValueError(f"{key}: {name!r} is not measured by oracle {self.oracle.name!r} (it gives "
                                 f"{sorted(self.oracle.units)})")
        # the first objective is the one stored with each evaluation, ranked by `best` and the patience rule
        self.objectives = [Objective(spec, self.oracle.units[spec.property]) for spec in config.all_objectives]
        self.objective = self.objectives[0]
        self.constraints = [Constraint(spec, self.oracle.units[spec.property]) for spec in config.constraints]
        # what the surrogate's inputs are made from, kept for the whole campaign (caches live in it)
        if config.representation == Representation.COMPOSITION:
            # a box of compounds (sampled compositions): their fractions; a pool of many compound sets
            # (SciGlass): element fractions and elemental descriptors
            self.bank = ElementFeaturizer.of(pool) if pool is not None else CompositionFeaturizer(sorted(self.bounds))
        elif config.representation == Representation.FORMULATION:
            self.bank = FormulationFeaturizer()  # polymer, salt and molality features of each formulation
        elif SURROGATES[config.surrogate.kind].inputs == "graphs":
            self.bank = GraphBank()
        else:
            self.bank = FingerprintBank(build_featurizer(config.surrogate.featurizer))
        self._proposals: dict[int, list[Candidate]] = {}  # iteration -> what its batch was chosen from
        self._sources: list[LibrarySource] = []  # libraries the agents handed over, scored in chunks
        self._libraries: dict = {}  # (file, agent) -> its LibrarySource, prepared once per process
        # the store last: a campaign whose data, agents or oracle cannot be built leaves no database behind
        self.store = store or Store(config.database_url)
        self.row = self.store.open_campaign(config.name, config.model_dump(mode="json"),
                                           normalize=_current_form)
        self.id = self.row.id
        record_objective(self.store, self.id, self.objective, self.table,  # read by status/report, never rebuilt
                         others=self.objectives[1:] + self.constraints)
        self._warm_start = self._stored_warm_start()  # last fit's hyperparameters, to warm-start the next

    def _stored_warm_start(self) -> dict | None:
        """The hyperparameters of the last stored surrogate fit: a resumed campaign warm-starts
        exactly as the uninterrupted one would have (they are stored with every model version)."""
        for version in reversed(self.store.model_versions(self.id)):
            if "hyperparameters" in version.details:
                return version.details["hyperparameters"]
        return None

    # state --------------------------------------------------------------------------------
    def n_evaluations(self) -> int:
        return self.store.count_evaluations(self.id)

    @property
    def modelled(self) -> list[Objective]:
        """What the surrogate models, in its output order: the objectives, then the constrained properties."""
        return self.objectives + self.constraints

    @property
    def many(self) -> bool:
        """Several outputs are modelled (objectives at once, or an objective under constraints)."""
        return len(self.modelled) > 1

    def screen(self, evaluation: Evaluation) -> Evaluation:
        """The evaluation as it should be stored: a value an objective or constraint cannot transform fails it."""
        for target in self.modelled:
            evaluation = target.screen(evaluation)
        return evaluation

    def observations(self) -> Observations:
        if self.many:
            return self._many_observations()
        pairs = [(c, e) for c, e in self.store.evaluations(self.id) if e.objective is not None]
        candidates = [Candidate(c.representation, kind=c.kind, agent=c.agent) for c, _ in pairs]
        y = torch.tensor([self.objective.sign * e.objective for _, e in pairs], dtype=torch.float64)
        measured = [e.values.get(self.objective.property, {}) for _, e in pairs]
        variances = [self.objective.variance(m.get("value", math.nan), m.get("std")) for m in measured]
        y_var = None if any(v is None for v in variances) else torch.tensor(variances, dtype=torch.float64)
        return Observations(candidates, y, y_var, [e.fidelity for _, e in pairs],
                            Observations.measured_at([e for _, e in pairs]))

    def _many_observations(self) -> Observations:
        """The evaluations with every modelled output known: Y (objectives sign-adjusted, constraints as they are)."""
        rows, candidates, variances, evaluations = [], [], [], []
        signs = [o.sign for o in self.objectives] + [1] * len(self.constraints)
        for c, e in self.store.evaluations(self.id):
            if e.objective is None:
                continue
            values = [target.of_stored(e.values) for target in self.modelled]
            if any(v is None for v in values):
                continue
            rows.append([sign * v for sign, v in zip(signs, values)])
            measured = [e.values[target.property] for target in self.modelled]
            variances.append([target.variance(m.get("value", math.nan), m.get("std")) for target, m in
                              zip(self.modelled, measured)])
            candidates.append(Candidate(c.representation, kind=c.kind, agent=c.agent))
            evaluations.append(e)
        Y = torch.tensor(rows, dtype=torch.float64).reshape(-1, len(self.modelled))
        Y_var = torch.tensor([[math.nan if v is None else v for v in row] for row in variances],
                             dtype=torch.float64).reshape(-1, len(self.modelled))
        return Observations(candidates, Y[:, 0].clone(), None, [e.fidelity for e in evaluations],
                            Observations.measured_at(evaluations), Y=Y, Y_var=Y_var)

    def reference(self, observed: Observations) -> list[float]:
        """The hypervolume's reference point in model space (`amala.loop.pareto.reference_point`): configured
        per objective, else the median of the initial design."""
        n = len(self.objectives)
        given = [None if o.reference is None else o.sign * o.reference for o in self.objectives]
        return reference_point(observed.Y[:self.config.budget.initial, :n], given)

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
                                  evaluated=list(zip(observed.candidates, observed.y.tolist())),
                                  objective=f"{self.config.objective.direction} {self.objective.label}",
                                  sign=self.objective.sign)
        proposals: dict[str, Candidate] = {}
        self._sources = []
        for agent in self.agents:
            proposal = agent.propose(context)
            self._sources += [self._library(ref) for ref in proposal.sources]
            for candidate in proposal.candidates:
                proposals.setdefault(candidate.key, candidate)
            for level, message in proposal.events:  # what an agent had to say (an LLM's refusal, a garbage answer)
                self.store.log(self.id, "agent", message, level=level)
            if proposal.model_version:  # a generator (re)trained: its new weights are a model version
                self.store.record_model_version(self.id, context.iteration, proposal.model_version)
        return list(proposals.values())

    def _library(self, ref) -> LibrarySource:
        if (ref.path, ref.agent) not in self._libraries:
            self._libraries[ref.path, ref.agent] = LibrarySource.of(ref)
        return self._libraries[ref.path, ref.agent]

    def select_batch(self, candidates: list[Candidate]) -> Batch | None:
        """Fit the surrogate, score the candidates (and the libraries of the last `propose`), choose a
        batch and store it (one transaction)."""
        if not candidates and not self._sources:
            return None
        use_threads(campaign_threads())  # the free cores now: oversubscribed, torch ran 5-8x slower
        index = self.store.next_iteration_index(self.id)
        remaining = self.config.budget.max_evaluations - self.n_evaluations()
        observed = self.observations()
        initial = index == 0 or len(observed.y) < 2
        q = min(self.config.budget.initial if initial else self.config.acquisition.batch_size, remaining)
        strategy, chosen, model, timings, pool = self._choose(candidates, q, index, observed=observed,
                                                              sources=self._sources)
        self._proposals = {index: pool}
        n_scored = len(candidates) + sum(int(source.valid.sum()) for source in self._sources)
        return self.store.record_selection(self.id, strategy, chosen, model=model, timings=timings,
                                           n_scored=n_scored) if chosen else None

    def _choose(self, candidates: list[Candidate], q: int, index: int, role: str = "select",
                observed: Observations | None = None, sources=()):
        """The q candidates the acquisition function prefers, with the model's view of each, and
        what they were chosen from (`candidates` plus the rows of `sources` that were shortlisted)."""
        acq = self.config.acquisition
        seed = _derived_seed(self.config.seed, index, role)
        observed = observed or self.observations()
        skip = self.store.known_keys(self.id) | {c.key for c in candidates} if sources else set()
        for source in sources:  # fingerprints of the campaign's featurizer (cached next to the file)
            source.prepare(self.bank.featurizer if isinstance(self.bank, FingerprintBank) else None)
        if index == 0 or len(observed.y) < 2:
            candidates = candidates + random_candidates(sources, q, seed, skip)
            picks = select("random", None, torch.empty(len(candidates), 0), None, q, seed)
            return ("random (initial design)", [SelectedCandidate(candidates[p.index]) for p in picks], None, {},
                    candidates)
        t0 = time.perf_counter()
        torch.manual_seed(seed)  # optimiser restarts draw from torch's RNG: same data, same fit, in any process
        def build(warm_start):
            return build_surrogate(self.config.surrogate, self.bank, seed=seed, warm_start=warm_start,
                                   representation=self.config.representation)

        # one surrogate per modelled output when several are (objectives, constrained properties)
        surrogate = MultiOutput.build(build, len(self.modelled), self._warm_start) if self.many \
            else build(self._warm_start)
        kind = surrogate.members[0] if self.many else surrogate
        X_train = surrogate.encode([c.representation for c in observed.candidates])
        # fidelity labels for surrogates that declare fidelity heads, when the config names high fidelities
        high = observed.high(self.config.surrogate.high_fidelities()) if kind.fidelities else None
        # measurement temperatures for surrogates with a temperature readout (formulation_ensemble)
        at = {"temperature_K": observed.temperatures} if kind.temperatures \
            and observed.temperatures is not None else {}
        if self.many:
            surrogate.fit(X_train, observed.Y, observed.Y_var, high=high, **at)
        else:
            surrogate.fit(X_train, observed.y, observed.y_var, high=high, **at)
        t1 = time.perf_counter()
        if sources:  # each library's best rows by upper confidence bound join the candidates
            candidates = candidates + self._shortlist(surrogate, sources, acq.prescreen or 500, skip)
        X = surrogate.encode([c.representation for c in candidates])
        mean, std = surrogate.predict(X)
        t2 = time.perf_counter()
        extra = {}
        if self.many:
            reference = self.reference(observed) if len(self.objectives) > 1 else None
            picks = select_many(acq.strategy, surrogate, X, X_train, q, seed, mean, std, len(self.objectives),
                                [c.botorch(len(self.objectives) + k) for k, c in enumerate(self.constraints)],
                                reference, prescreen=acq.prescreen, mc_samples=acq.mc_samples)
            extra = {"outputs": [t.label for t in self.modelled], "constraints": [c.text for c in self.constraints],
                     "reference_point": None if reference is None else
                     [o.sign * r for o, r in zip(self.objectives, reference)]}
            mean, std = mean[:, 0], std[:, 0]  # the first objective's, stored with each pick
        else:
            picks = select(acq.strategy, surrogate, X, X_train, q, seed, mean=mean, std=std, ucb_beta=acq.ucb_beta,
                           prescreen=acq.prescreen, mc_samples=acq.mc_samples)
        t3 = time.perf_counter()
        chosen = [SelectedCandidate(candidates[p.index], self.objective.sign * float(mean[p.index]),
                                    float(std[p.index]), p.acquisition_value) for p in picks]
        model = {**surrogate.describe(), "featurizer": self.bank.describe(), "seed": seed,
                 "objective": self.objective.label, **extra}
        if role == "select":
            self._warm_start = model.get("hyperparameters", self._warm_start)
        return acq.strategy, chosen, model, {"fit": t1 - t0, "score": t2 - t1, "select": t3 - t2}, candidates

    def _shortlist(self, surrogate, sources, k: int, skip: set[str]) -> list[Candidate]:
        """Libraries' rows with the best upper confidence bounds; with several objectives, k / n of them by each."""
        if not self.many:
            return shortlist(surrogate, sources, k, skip)
        members = surrogate.members[:len(self.objectives)]
        chosen: list[Candidate] = []
        for member in members:
            more = shortlist(member, sources, max(k // len(members), 1), skip | {c.key for c in chosen})
            chosen += more
        return chosen

    def review(self, batch: Batch, decision: BatchDecision) -> Batch | None:
        """Apply a person's decision to a waiting batch and store it; returns the batch to evaluate
        (None if rejected). Added candidates pass the same validity rules as agents' proposals; a
        bad one is refused with its reason (stored with the decision), never evaluated."""
        return apply_decision(self.config, self.store, self.id, batch, decision, top_up=self._top_up)

    def _top_up(self, batch: Batch, extra: int, taken: set[str]) -> list[SelectedCandidate]:
        """`extra` more candidates for a batch a person enlarged, chosen by the acquisition function
        from the proposals this batch was chosen from (agents run again only in another process)."""
        pool = [c for c in (self._proposals.get(batch.index) or self.propose()) if c.key not in taken]
        if not pool:
            return []
        _, more, _, _, _ = self._choose(pool, min(extra, len(pool)), batch.index, role="top-up")
        return [SelectedCandidate(p.candidate, p.predicted_mean, p.predicted_std, p.acquisition_value,
                                  approval=Approval.APPROVED) for p in more]

    def check_additions(self, texts: list[str], by: str = "") -> tuple[list[Candidate], dict[str, str]]:
        """Hand-written candidates as canonical candidates, and the refused ones with reasons."""
        return check_additions(self.config, self.store.known_keys(self.id), texts, by)

    @property
    def bounds(self) -> dict[str, tuple[float, float]]:
        return composition_bounds(self.config)

    def needs_approval(self, batch: Batch) -> bool:
        """A batch waits for a person when the campaign asks for approvals and none was given yet."""
        if self.config.approval.mode == "none":
            return False
        return self.store.iteration(batch.iteration_id).approval in UNDECIDED

    def pending_batch(self) -> Batch | None:
        return self.store.pending_batch(self.id)

    def unevaluated(self, batch: Batch) -> list[Candidate]:
        return self.store.unevaluated(batch, self.oracle.name, self.oracle.fidelity)

    def evaluate(self, batch: Batch) -> list[Evaluation]:
        """Run the oracle, in this process, on the batch's candidates that have no evaluation yet."""
        todo = self.unevaluated(batch)
        evaluations = self.oracle.evaluate(todo) if todo else []
        self.log_oracle_notes()
        return evaluations

    def log_oracle_notes(self) -> None:
        """What the oracle had to say besides results (requests written, inbox rows rejected)."""
        for level, message in self.oracle.drain_notes():
            self.store.log(self.id, "oracle", message, level=level)

    def evaluate_one(self, batch: Batch, candidate: Candidate, executor=None) -> list[Evaluation]:
        """Evaluate one candidate and store the result at once (one transaction), so a crash or
        kill later in the batch cannot lose it. An oracle that raises on a candidate (it should
        return a failed evaluation instead) gets that failure recorded with the error as reason;
        a transient error (`TransientOracleError`) is raised for the caller's retry policy."""
        try:
            evaluations = (executor or InlineExecutor()).evaluate(self.oracle, candidate)
        except (TransientOracleError, RunStopping):
            raise
        except Exception as exc:  # a bug or an unexpected input in the oracle: one failed candidate
            evaluations = [self.failed(candidate, f"oracle error: {type(exc).__name__}: {exc}")]
        evaluations = [self.screen(e) for e in evaluations]
        for evaluation in evaluations:
            self.store.record_evaluation(self.id, batch, evaluation, self.objective.of)
        return evaluations

    def record_failure(self, batch: Batch, candidate: Candidate, reason: str) -> Evaluation:
        """Store a candidate's failure that happened outside the oracle (the engine lost its task)."""
        failed = self.failed(candidate, reason)
        self.store.record_evaluation(self.id, batch, failed, self.objective.of)
        return failed

    def failed(self, candidate: Candidate, reason: str) -> Evaluation:
        return Evaluation.failed(candidate.key, self.oracle.name, self.oracle.fidelity, reason)

    def record(self, batch: Batch, evaluations: list[Evaluation], seconds: float = 0.0) -> IterationSummary:
        """Store evaluations; the batch is closed only when every candidate has one (an external
        oracle's results may arrive over several runs: those that came are kept meanwhile)."""
        evaluations = [self.screen(e) for e in evaluations]  # a log10 of -1 is a failure, not a gap
        todo = {c.key for c in self.unevaluated(batch)}
        waiting = len(todo - {e.candidate_key for e in evaluations})
        self.store.record_evaluations(self.id, batch, evaluations, self.objective.of, evaluate_seconds=seconds,
                                      complete=waiting == 0)
        self.log_oracle_notes()  # a per-candidate oracle's (a per-batch one's were logged by `evaluate`)
        n_ok = sum(e.ok for e in evaluations)
        return IterationSummary(batch.index, len(batch.candidates), n_ok, len(evaluations) - n_ok, self.best(),
                                self.n_evaluations(), waiting)

    def step(self) -> IterationSummary | None:
        """One whole iteration without a workflow engine (tests, benchmarks)."""
        batch = self.pending_batch() or self.select_batch(self.propose())
        if batch is None:  # every candidate has been proposed and evaluated
            return None
        if self.needs_approval(batch):
            raise RuntimeError(f"campaign {self.config.name}: batch {batch.index} needs approval; run it through the "
                               "flow (`amala run`), which waits for the answer")
        start = time.perf_counter()
        if self.oracle.mode == "per_batch":
            evaluations = self.evaluate(batch)
        else:
            evaluations = [e for c in self.unevaluated(batch) for e in self.evaluate_one(batch, c)]
        return self.record(batch, evaluations, time.perf_counter() - start)

    def lease(self) -> RunLease:
        """The right to run this campaign (one run at a time; see `amala.loop.lease`)."""
        return RunLease(self.store, self.id, self.config.name)

    def finish(self, stop: Stop) -> None:
        status = CampaignStatus.FINISHED if stop.final else CampaignStatus.STOPPED
        self.store.set_status(self.id, status, stop.reason)


def composition_bounds(config: CampaignConfig) -> dict[str, tuple[float, float]]:
    """Mole-fraction bounds of composition campaigns (hand-written glasses must respect them)."""
    merged: dict[str, tuple[float, float]] = {}
    for spec in config.agents:
        for name, (lo, hi) in (spec.composition_bounds() or {}).items():
            old = merged.get(name, (lo, hi))
            merged[name] = (min(lo, old[0]), max(hi, old[1]))
    return merged


def check_additions(config: CampaignConfig, known: set[str], texts: list[str],
                    by: str = "") -> tuple[list[Candidate], dict[str, str]]:
    """Hand-written candidates (an approval's additions) through the same validity and bounds
    rules as agents' proposals; refused ones come back with their reasons. Needs only the config
    and the keys already in the campaign, so `amala approve` checks additions without building
    the campaign's dataset, agents or models."""
    gate = ProposalFilter(known, config.representation, composition_bounds(config),
                          already="already proposed in this campaign")  # in the campaign, or earlier in this list
    accepted = gate(texts, agent=f"human:{by or 'unknown'}", metadata={"added_by": by or "unknown"})
    return accepted, gate.refused


def top_up_needed(batch: Batch, decision: BatchDecision, n_added: int) -> int:
    """How many candidates the models must choose to reach the batch size a person asked for."""
    if not decision.approve or decision.batch_size is None:
        return 0
    kept = sum(c.key not in decision.reject for c in batch.candidates)
    return max(decision.batch_size - kept - n_added, 0)


def apply_decision(config: CampaignConfig, store: Store, campaign_id: int, batch: Batch, decision: BatchDecision,
                   top_up=None) -> Batch | None:
    """Store a person's decision on a waiting batch; returns the batch to evaluate (None if rejected).
    Only `top_up(batch, extra, taken)` needs the models, and only when the batch grows: without it
    (`amala approve` with no run waiting) nothing but the config and the store is used."""
    added, refused = check_additions(config, store.known_keys(campaign_id), decision.add, decision.by)
    in_batch = {c.key for c in batch.candidates}
    rejected = [key for key in decision.reject if key in in_batch]
    refused.update({key: "not a candidate of this batch" for key in decision.reject if key not in in_batch})
    picks = [SelectedCandidate(c, approval=Approval.ADDED) for c in added]
    kept = [c for c in batch.candidates if c.key not in rejected]
    if decision.approve and decision.batch_size is not None:
        if decision.batch_size < len(kept) + len(picks):  # keep the best-ranked, the person's additions first
            room = max(decision.batch_size - len(picks), 0)
            rejected += [c.key for c in kept[room:]]
            refused.update({p.candidate.representation: f"beyond the batch size {decision.batch_size}"
                            for p in picks[decision.batch_size:]})
            picks = picks[:decision.batch_size]
        else:
            extra = top_up_needed(batch, decision, len(picks))  # the same count `amala approve` decides by
            if extra and top_up is not None:
                picks += top_up(batch, extra, store.known_keys(campaign_id) | {p.candidate.key for p in picks})
    return store.record_decision(campaign_id, batch, decision, rejected, picks, refused)


def _derived_seed(seed: int, iteration: int, role: str) -> int:
    """Seed of one stochastic step, derived from (campaign seed, iteration, role) as agents' streams are."""
    return seeding.derived_seed(seed, iteration, role)


def _current_form(stored: dict) -> dict:
    """A stored config as this amala writes it (see `stored_config`), to compare with the new one."""
    return stored_config(stored).model_dump(mode="json")
