"""The campaign as a Prefect 3 flow: each step of `amala.loop.campaign.Campaign` is a task.

This is the only package that imports Prefect. Per batch: select (a task), wait for a person's
approval when the campaign asks for it (`approval_gate`), evaluate each candidate as a mapped task
(retries on transient errors; a candidate that still fails is a failed evaluation with its reason,
not a failed run) whose result is stored the moment it exists, then close the batch (a task). The
oracle's work runs on the configured executor (`amala.loop.executors`), never in a process that
needs a Prefect API of its own. A run killed at any moment loses only the evaluations still
running: the next run of the same config completes the open batch and goes on.

The flow takes the config as parsed (`amala run` parses it once, and hands on the store it opened
to announce the run), or a path or dict as a Python user or a scheduled run gives it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from prefect import Flow, get_run_logger, task, unmapped
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import TerminationSignal
from prefect.logging.handlers import PrefectConsoleHandler
from prefect.runtime import flow_run
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from amala.core.redaction import redact
from amala.flows.approval_gate import approval_gate
from amala.flows.artifacts import label_run, publish_batch
from amala.flows.notifications import notify
from amala.flows.task_runners import build_task_runner
from amala.loop.campaign import Campaign, Stop
from amala.loop.config import CampaignConfig, load_config, parse_config
from amala.loop.executors import RunStopping, build_executor
from amala.loop.report.data import redacted
from amala.loop.states import CampaignStatus
from amala.loop.status import utc_text
from amala.loop.store import Batch, LeaseLost, Store


@task(name="propose-and-select", cache_policy=NO_CACHE)
def select_task(campaign: Campaign) -> Batch | None:
    return campaign.select_batch(campaign.propose())


@task(name="evaluate", cache_policy=NO_CACHE)
def evaluate_task(campaign: Campaign, batch: Batch) -> tuple[list, float]:
    start = time.perf_counter()
    evaluations = campaign.evaluate(batch)
    return evaluations, time.perf_counter() - start


def _retry_unless_stopping(task, task_run, state) -> bool:
    """Retry a failed evaluation, except when the run itself is being stopped (Ctrl-C, SIGTERM) or
    has lost its lease."""
    try:
        state.result()
    except (RunStopping, LeaseLost):  # another run holds the campaign now: nothing may be stored
        return False
    except Exception:
        return True
    return True


@task(name="evaluate-candidate", task_run_name="evaluate {candidate.key}", cache_policy=NO_CACHE,
      retry_condition_fn=_retry_unless_stopping)
def evaluate_candidate(campaign: Campaign, batch: Batch, candidate, executor) -> list:
    """One candidate: the oracle runs on the executor (this thread, a worker process, Dask), and the
    result is stored here, the moment it exists."""
    return campaign.evaluate_one(batch, candidate, executor)


@task(name="record", cache_policy=NO_CACHE)
def record_task(campaign: Campaign, batch: Batch, evaluations: list, seconds: float):
    return campaign.record(batch, evaluations, seconds)


@contextlib.contextmanager
def _quiet_console(active: bool):
    """While the progress bar is drawn, keep Prefect's per-task INFO lines off the terminal (they
    still reach the Prefect API and UI); warnings and errors are still printed."""
    handlers = [h for name in ("", "prefect") for h in logging.getLogger(name).handlers
                if isinstance(h, PrefectConsoleHandler)]
    levels = [h.level for h in handlers]
    if active:
        for h in handlers:
            h.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for h, level in zip(handlers, levels):
            h.setLevel(level)


def _config(config: str | Path | dict | CampaignConfig) -> CampaignConfig:
    if isinstance(config, CampaignConfig):
        return config
    if isinstance(config, dict):
        return parse_config(config)
    return load_config(config)


def evaluate_batch(campaign: Campaign, batch: Batch, runner, executor, on_result=None) -> tuple[list, float]:
    """The batch's open candidates as mapped tasks, one per candidate, each storing its result as
    soon as it has one. An evaluation that still fails after its retries, or whose task the engine
    itself lost (an API time-out, a dead worker), becomes a failed evaluation with the error as its
    reason, so the campaign goes on. An oracle that works on whole batches (`mode` "per_batch":
    the file queue) runs as one task in this process."""
    start = time.perf_counter()
    spec = campaign.config.oracle
    if campaign.oracle.mode == "per_batch":
        evaluate = evaluate_task.with_options(retries=spec.retries, retry_delay_seconds=spec.retry_delay_seconds,
                                              retry_condition_fn=_retry_unless_stopping)
        evaluations, _ = evaluate(campaign, batch)
        return evaluations, time.perf_counter() - start
    todo = campaign.unevaluated(batch)
    one = evaluate_candidate.with_options(retries=spec.retries, retry_delay_seconds=spec.retry_delay_seconds)
    futures = runner.map(one, {"campaign": unmapped(campaign), "batch": unmapped(batch), "candidate": todo,
                               "executor": unmapped(executor)})
    evaluations = []
    for candidate, future in zip(todo, futures):
        try:
            result = future.result(raise_on_failure=False)
        except Exception as exc:  # the engine could not even give the task's state back
            result = exc
        if isinstance(result, RunStopping):
            raise KeyboardInterrupt(str(result))
        if isinstance(result, LeaseLost):
            raise result
        if isinstance(result, BaseException):
            result = [campaign.record_failure(batch, candidate, f"evaluation failed after {spec.retries} retries: "
                                                                f"{type(result).__name__}: {result}")]
        evaluations += result
        if on_result is not None:
            on_result(len(evaluations))
    return evaluations, time.perf_counter() - start


@contextlib.contextmanager
def _executor(spec):
    """The oracle's executor for one run: closed normally at the end, or with its running
    simulations killed when the run is interrupted (their candidates are evaluated on resume)."""
    executor = build_executor(spec)
    try:
        yield executor
    except BaseException:
        executor.close(cancel=True)
        raise
    executor.close()


class _CampaignFlow(Flow):
    """The campaign flow, whose parameters Prefect records as they can be read and shared: a config
    given parsed or as a dict as the report shows it (a database password or a webhook's path
    masked), an opened store as its URL (masked alike), a config file as its path. Prefect's own
    encoding would send a config's secrets to its API, and give up on a store only after walking
    its database engine."""

    def serialize_parameters(self, parameters: dict) -> dict:
        shown = dict(parameters)
        config = shown.get("config")
        if isinstance(config, CampaignConfig):
            config = config.model_dump(mode="json")
        if isinstance(config, dict):
            shown["config"] = redacted(config)
        if isinstance(shown.get("store"), Store):
            shown["store"] = redact(shown["store"].url)
        return super().serialize_parameters(shown)


@functools.partial(_CampaignFlow, name="amala-campaign", log_prints=True)
def campaign_flow(config: str | Path | dict | CampaignConfig, max_iterations: int | None = None,
                  progress: bool = False, until: str | None = None, timezone: str | None = None,
                  store: Store | None = None) -> dict:
    """Run (or resume) a campaign until its budget, its stopping rule, `max_iterations` batches or
    the wall-clock time `until` ("HH:MM" in `timezone`, default this machine's; no batch is started
    that would, judging by the longest batch of this run, end after it). `store`: the campaign's
    database already opened (else the flow opens it).

    The run holds the campaign's lease (one run at a time, with a heartbeat: `amala.loop.lease`).
    Ctrl-C or SIGTERM stops it at once: running simulations are killed, their candidates stay
    unevaluated (the next run evaluates them), and the campaign reads `interrupted`."""
    logger = get_run_logger()
    cfg = _config(config)
    campaign = Campaign(cfg, store=store)
    deadline = wall_clock_deadline(until, timezone)
    with campaign.lease() as lease:
        done = campaign.n_evaluations()
        if lease.previous is not None:
            message = (f"resuming after an interrupted run ({lease.previous.owner}, last heartbeat "
                       f"{utc_text(lease.previous.heartbeat) or 'never'} UTC); {done} evaluations stored")
        else:
            message = f"run started; {done} evaluations stored"
        logger.info("campaign %s: %s; database %s", cfg.name, message, campaign.store.url)
        label_run(campaign)
        campaign.store.set_status(campaign.id, CampaignStatus.RUNNING,
                                  f"{message} (Prefect flow run {flow_run.name})")
        try:
            stop, iterations, started = _run_batches(campaign, max_iterations, progress, deadline, until, logger)
        except (KeyboardInterrupt, TerminationSignal):  # Ctrl-C; SIGTERM, which Prefect turns into the latter
            campaign.store.set_status(campaign.id, CampaignStatus.INTERRUPTED, "interrupted (Ctrl-C or SIGTERM); "
                                      "running evaluations were stopped; `amala run` resumes")
            raise
        campaign.finish(stop)
        best = campaign.best()
        new = campaign.n_evaluations() - started
        line = (f"run {flow_run.name or '-'}: {iterations} batch(es), {new} new evaluations, "
                f"best {campaign.objective.label} = {'-' if best is None else f'{best:.4g}'}; "
                f"{'finished' if stop.final else 'paused'}: {stop.reason}")
        campaign.store.log(campaign.id, "run", line, data={"flow_run_id": str(flow_run.id) if flow_run.id else None,
                                                            "iterations": iterations, "final": stop.final})
        logger.info("campaign %s %s", cfg.name, line)
        notify(campaign, "run", line, final=stop.final, evaluations=campaign.n_evaluations())
    return {"campaign": cfg.name, "stop": stop.reason, "final": stop.final, "evaluations": campaign.n_evaluations(),
            "best": best, "database": campaign.store.url}


def _run_batches(campaign: Campaign, max_iterations, progress, deadline, until, logger) -> tuple[Stop, int, int]:
    """Batches until a stopping rule, each: select (or resume), approval, evaluate, close."""
    cfg = campaign.config
    iterations, started, longest = 0, campaign.n_evaluations(), 0.0
    with contextlib.ExitStack() as stack:
        runner = stack.enter_context(build_task_runner(cfg.execution))
        executor = stack.enter_context(_executor(cfg.execution))  # closed before the runner waits on threads
        stack.enter_context(_quiet_console(progress))
        bar = stack.enter_context(Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("best {task.fields[best]}"), TimeElapsedColumn(), disable=not progress))
        bar_task = bar.add_task(cfg.name, total=cfg.budget.max_evaluations, completed=started, best="-")
        while (stop := campaign.stop_reason(iterations, max_iterations)) is None:
            campaign.store.check_lease()  # a run stalled past the lease's ttl stops here, before any work
            if deadline is not None and time.time() + longest >= deadline:
                stop = Stop(f"wall-clock limit {until} reached (the next batch would end after it); "
                            "the next run resumes", final=False)
                break
            t0 = time.time()
            batch = campaign.pending_batch()
            if batch is not None:
                logger.info("resuming batch %d (%d candidates) left unevaluated by an earlier run",
                            batch.index, len(batch.candidates))
            else:
                batch = select_task(campaign)
            if batch is None:
                stop = Stop("no candidates left to propose", final=True)
                break
            if campaign.needs_approval(batch):
                batch, stop = approval_gate(campaign, batch)
                if stop is not None:
                    break
                if batch is None:  # rejected: nothing to evaluate; the next iteration selects anew
                    iterations += 1
                    continue
            done = campaign.n_evaluations()
            evaluations, seconds = evaluate_batch(campaign, batch, runner, executor,
                                                  lambda n, done=done: bar.update(bar_task, completed=done + n))
            summary = record_task(campaign, batch, evaluations, seconds)
            publish_batch(campaign, batch, summary)
            iterations += 1
            longest = max(longest, time.time() - t0)
            best = "-" if summary.best is None else f"{summary.best:.3f}"
            logger.info("iteration %d: %d ok, %d failed; %d evaluations; best %s = %s", summary.index, summary.n_ok,
                        summary.n_failed, summary.n_evaluations, campaign.objective.label, best)
            bar.update(bar_task, completed=summary.n_evaluations, best=best)
            if summary.waiting:
                stop = Stop(f"batch {summary.index} waits for {summary.waiting} external result(s); "
                            "re-run when they are in the inbox", final=False)
                break
    return stop, iterations, started


def wall_clock_deadline(until: str | None, timezone: str | None = None, now: datetime | None = None) -> float | None:
    """The next time of day `until` ("HH:MM") after `now`, as a UNIX time; None without a limit."""
    if until is None:
        return None
    try:
        hour, minute = (int(part) for part in until.split(":"))
        now = now or datetime.now(ZoneInfo(timezone) if timezone else None)
        end = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    except ValueError:
        raise ValueError(f"until: {until!r} is not a time of day like 07:00") from None
    if end <= now:
        end += timedelta(days=1)
    return end.timestamp()
