"""The `amala` command line.

Every user-facing error is one line on stderr (exit code 2); `amala --debug ...` (or AMALA_DEBUG=1)
shows the traceback instead. Output is never hard-wrapped, so a piped or copied command line stays
whole. Commands that only read a campaign (`status`, `pending`, `report`) open its database and
nothing else, and find it by name from any folder (`amala.loop.known_campaigns`).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False,
                  help="amala: autonomous active-learning discovery of amorphous battery electrolytes.")
data_app = typer.Typer(no_args_is_help=True, help="Datasets: fetch published data into the local cache.")
app.add_typer(data_app, name="data")
library_app = typer.Typer(no_args_is_help=True, help="Candidate libraries: build one from amala's generators, "
                          "inspect one, cache its fingerprints.")
app.add_typer(library_app, name="library")
console = Console(soft_wrap=True, markup=False)  # names and SMILES like [Cu]C[nH] are text, not markup
err = Console(stderr=True, soft_wrap=True)
DEBUG = {"on": False}  # --debug; AMALA_DEBUG is read when an error is shown (_debug)


def _version(value: bool):
    if value:
        from importlib.metadata import version

        console.print(f"amala {version('amala')}", markup=False)
        raise typer.Exit()


@app.callback()
def _options(debug: bool = typer.Option(False, "--debug", help="show tracebacks instead of one-line errors"),
             version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                          help="print the version and exit")):
    if debug:
        DEBUG["on"] = True


def main() -> None:
    """Console entry point: one line for any error a command did not foresee (a bug or an
    environment problem), the traceback only with --debug; Ctrl-C exits quietly with 130. A usage
    error (a bad option value, a missing argument) and an OS error naming a file (a too-long name,
    a missing or unwritable folder) are the user's to fix: one line, exit 2."""
    errors = _click_errors()
    try:
        code = app(standalone_mode=False)
    except (KeyboardInterrupt, typer.Abort):  # click (or typer's copy of it) turns Ctrl-C into Abort
        print("interrupted; `amala run` resumes where this stopped", file=sys.__stderr__, flush=True)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:
        if isinstance(exc, typer.Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, getattr(errors, "NoArgsIsHelpError", ())):  # `amala` alone: the help, already shown
            if exc.format_message().strip():  # older click shows it here
                exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, errors.ClickException):
            ctx = getattr(exc, "ctx", None)
            hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            _say(" ".join(line.strip() for line in exc.format_message().splitlines() if line.strip()) + hint)
            sys.exit(2)
        if isinstance(exc, OSError) and exc.filename is not None and not _debug():
            _say(_os_text(exc))
            sys.exit(2)
        if _debug():
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        err.print(f"[red]error:[/red] {escape(type(exc).__name__)}: {escape(first)} (run with --debug for the "
                  "traceback)", highlight=False)
        sys.exit(1)
    if code == 130:  # typer turns Ctrl-C (and our SIGTERM) into exit code 130
        print("interrupted; `amala run` resumes where this stopped", file=sys.__stderr__, flush=True)
    sys.exit(code if isinstance(code, int) else 0)


def _debug() -> bool:
    """--debug, or AMALA_DEBUG set to a true value (a bad value counts as off: the error is still shown)."""
    from amala.core.settings import SettingsError, settings

    try:
        return DEBUG["on"] or "--debug" in sys.argv or settings().debug
    except SettingsError:
        return False


def _click_errors():
    """The exceptions of the click that typer runs on: a recent typer carries its own copy
    (typer._click), whose errors are not click's, so catching click's let every usage error through
    as a Python class name with exit 1."""
    try:
        from typer._click import exceptions
    except ImportError:  # an older typer: click itself
        from click import exceptions
    return exceptions


def _say(message: str) -> None:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)


def _fail(message: str) -> None:
    _say(message)
    raise typer.Exit(2)


def _os_text(exc: OSError, path=None) -> str:
    """An OS error as '<file>: <what the OS says>', e.g. 'out/x.csv: Permission denied' (a name
    the OS found too long is cut to its first 200 characters)."""
    name = exc.filename if exc.filename is not None else path
    name = name if name is None or len(str(name)) <= 200 else f"{str(name)[:200]}..."
    what = exc.strerror or str(exc) or type(exc).__name__
    return f"{name}: {what}" if name is not None else what


def _named(name: str) -> str:
    """A campaign name as typed, quoted, cut to 80 characters (a pasted 5,000-character one stays readable)."""
    return repr(name) if len(name) <= 80 else f"{name[:80]!r}..."


def _load(config: Path):
    from amala.loop.config import ConfigError, load_config

    try:
        return load_config(config)
    except ConfigError as exc:
        _fail(str(exc))


def _open(url: str, create: bool = False):
    """The store at `url`; a SQLite file that is not there is an error (read-only commands never
    create one), unless `create` (a run)."""
    from amala.loop.status import CampaignNotFound, open_existing
    from amala.loop.store import DatabaseDamaged, Store

    try:
        return Store(url) if create else open_existing(url)
    except (CampaignNotFound, DatabaseDamaged) as exc:
        _fail(str(exc))
    except Exception as exc:  # a bad URL, a missing driver, an unreadable file
        _fail(f"cannot open the database {url}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")


def _open_or_warn(url: str):
    """The store at `url`, or None after one warning line saying why it is skipped (a damaged or
    unreadable database among several must not hide the others from `status` and `pending`)."""
    from amala.loop.status import open_existing

    try:
        return open_existing(url)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:400]
        err.print(f"[yellow]warning:[/yellow] skipped {escape(url)}: {escape(first)}", highlight=False)
        return None


def _locate(target: str | None, db: str | None) -> tuple[str | None, str | None]:
    """(name, database URL) of a campaign named by name or config file (`amala.loop.status.locate`)."""
    from amala.core.settings import SettingsError
    from amala.loop.config import ConfigError
    from amala.loop.status import locate

    try:
        return locate(target, db)
    except (ConfigError, SettingsError) as exc:  # a bad config file, a bad AMALA_DB_URL
        _fail(str(exc))


def _stores(campaign: str | None, db: str | None):
    """The stores to read and the campaign name to keep (None: every campaign in them)."""
    from amala.loop.status import every_database

    name, url = _locate(campaign, db)
    if name is None and url is None:  # every campaign: one database that cannot be read hides no other
        return None, [store for url in every_database() if (store := _open_or_warn(url)) is not None]
    if url is None:
        _fail(f"no database for campaign {_named(name)} (not under ./runs and not run from this account); "
              "pass --db URL or set AMALA_DB_URL")
    return name, [_open(url)]


def _stored_config(row):
    """The campaign's stored config, validated; a database written under older rules fails in
    one line naming the key instead of a pydantic traceback."""
    from pydantic import ValidationError

    from amala.loop.config import _one_line, stored_config

    try:
        return stored_config(row.config)
    except ValidationError as exc:
        _fail(_one_line(exc, f"campaign {row.name} (stored config)"))


def _campaign_row(campaign: str, db: str | None):
    name, [store] = _stores(campaign, db)
    row = store.campaign(name)
    if row is None:
        _fail(f"campaign {_named(name)} is not in {store.url}")
    return store, row


@app.command()
def validate(config: Path = typer.Argument(..., help="campaign or screening YAML")):
    """Check a campaign config and what it names on this machine (data file, database URL and
    driver, work folder); print each problem in one line and create nothing. A screening config
    (`amala screen`; it has `train`/`library`) is checked with the screen's own loader and checks."""
    from amala.loop.config import ConfigError
    from amala.loop.preflight import check
    from amala.loop.screening import check_screen, is_screen_config, load_screen_config

    screen = is_screen_config(config)
    try:
        cfg = load_screen_config(config) if screen else _load(config)
    except ConfigError as exc:
        _fail(str(exc))
    problems = check_screen(cfg) if screen else check(cfg)
    for problem in problems:
        err.print(f"[red]error:[/red] {escape(f'{config}: {problem}')}", highlight=False)
    if problems:
        raise typer.Exit(2)
    if screen:
        console.print(f"{config}: ok (screen {cfg.name!r}, {cfg.library.dataset} ranked by {cfg.surrogate.kind} "
                      f"trained on {cfg.train.dataset})")
        return
    console.print(f"{config}: ok (campaign {cfg.name!r}, {cfg.acquisition.strategy} on {cfg.surrogate.kind}, "
                  f"budget {cfg.budget.max_evaluations} evaluations)")


@app.command()
def run(config: Path = typer.Argument(..., help="campaign YAML"),
        iterations: Optional[int] = typer.Option(None, min=1, help="stop after this many batches (resume later)"),
        progress: bool = typer.Option(True, help="show a progress bar")):
    """Run a campaign as a Prefect flow, or resume it from its database."""
    cfg = _load(config)
    _preflight(cfg)
    _announce(cfg)
    from amala.core.datasets import DatasetError
    from amala.flows.prefect_api import PrefectUnavailable, prefect_api
    from amala.loop import known_campaigns
    from amala.loop.lease import CampaignBusy
    from amala.loop.store import LeaseLost

    known_campaigns.remember(cfg.name, cfg.database_url, cfg.work_path, config)
    from prefect.exceptions import TerminationSignal

    previous = _stop_on_sigterm()
    try:
        with prefect_api() as api_url:
            known_campaigns.remember(cfg.name, cfg.database_url, cfg.work_path, config, api_url=api_url)
            from amala.flows.campaign_flow import campaign_flow

            result = campaign_flow(str(config), max_iterations=iterations, progress=progress and sys.stderr.isatty())
    except (PrefectUnavailable, CampaignBusy, LeaseLost, DatasetError, ValueError) as exc:
        _fail(str(exc).splitlines()[0])
    except TerminationSignal:  # SIGTERM during the flow run (Prefect's own handler raises this)
        raise KeyboardInterrupt("SIGTERM") from None
    finally:
        import signal

        signal.signal(signal.SIGTERM, previous)
    best = "—" if result["best"] is None else f"{result['best']:.4f}"
    console.print(f"campaign {cfg.name}: {result['stop']}; {result['evaluations']} evaluations, best {best}",
                  markup=False)
    console.print(f"database: {result['database']}  ·  report: amala report {cfg.name}", markup=False)


def _preflight(cfg) -> None:
    """What `run` would otherwise find only after starting Prefect: data path, database URL and
    driver, a writable work folder. The same checks as `amala validate`."""
    from amala.loop.preflight import check

    problems = check(cfg)
    if problems:
        _fail(problems[0])


def _announce(cfg) -> None:
    """Say before any heavy work whether this is a new campaign, a resume (after an interrupted
    run: when it was cut), or a campaign another live run holds (then refuse, in one line); and
    how long the remaining work should take when the oracle knows its cost."""
    from amala.loop.lease import holder, run_state
    from amala.loop.states import CampaignStatus
    from amala.loop.status import sqlite_file

    file = sqlite_file(cfg.database_url)
    new_file = file is not None and not file.exists()  # the campaign creates it once it is built
    store = None if new_file else _open(cfg.database_url, create=True)
    row = None if store is None else store.campaign(cfg.name)
    if row is None:
        console.print(f"campaign {cfg.name}: new; database {cfg.database_url}", markup=False)
    else:
        held = holder(row)
        if held.alive():
            _fail(f"campaign {cfg.name} is already being run by {held.owner}; wait for that run to end "
                  "(`amala status`) or stop it, then run again")
        state = run_state(row)
        done = store.count_evaluations(row.id)
        if done >= cfg.budget.max_evaluations:  # said in seconds, without starting Prefect or any model
            console.print(f"campaign {cfg.name}: finished ({done}/{cfg.budget.max_evaluations} evaluations, the "
                          f"budget); nothing to run. Report: amala report {cfg.name}", markup=False)
            raise typer.Exit(0)
        if state == CampaignStatus.FINISHED:
            console.print(f"campaign {cfg.name}: finished earlier ({done} evaluations); checking whether its "
                          "budget or stopping rule still holds", markup=False)
        else:
            cut = ""
            if state == CampaignStatus.INTERRUPTED and held.heartbeat:
                from amala.loop.status import utc_text

                cut = f", interrupted at {utc_text(held.heartbeat)} UTC"
            console.print(f"campaign {cfg.name}: resuming ({done} evaluations stored{cut})", markup=False)
    measured = [] if row is None else [e.cost_seconds for _, e in store.evaluations(row.id)
                                       if e.status == "ok" and e.cost_seconds > 0]
    estimate = _estimate_minutes(cfg, 0 if row is None else store.count_evaluations(row.id), measured)
    if estimate:
        console.print(estimate, markup=False)


def _estimate_minutes(cfg, done: int, measured: list[float] | None = None) -> str | None:
    """A rough duration for simulation oracles: this campaign's own median cost per evaluation once
    it has some, else the MD profile's typical cost (none is known for the MLIP oracle, whose cost
    depends on how much the potential must still learn: it says nothing until it has measured)."""
    if cfg.oracle.kind not in ("md", "mlip"):
        return None
    from statistics import median

    from amala.oracles.md.oracle import EXPECTED_SECONDS

    typical = EXPECTED_SECONDS.get(cfg.oracle.profile) if cfg.oracle.kind == "md" else None
    per = median(measured) if measured else typical
    left = max(cfg.budget.max_evaluations - done, 0)
    if not per or not left:
        return None
    workers = max(1, cfg.execution.workers)
    minutes = per * -(-left // workers) / 60
    source = "this campaign's median so far" if measured else "typical on one idle core"
    return (f"estimate: about {minutes:.0f} min for {left} simulation(s), {workers} at a time "
            f"({cfg.oracle.profile} profile, ~{per / 60:.1f} min each, {source}; longer on a busy machine)")


def _stop_on_sigterm():
    """SIGTERM (kill, systemd, a scheduler) stops a run as Ctrl-C does: running simulations are
    killed, the campaign reads `interrupted`, and the temporary Prefect API is shut down."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    return signal.signal(signal.SIGTERM, interrupt)


CAMPAIGN_HELP = "campaign name, or its config YAML (then its own database: `database`, else <workdir>/amala.db)"


@app.command()
def status(campaign: Optional[str] = typer.Argument(None, help=CAMPAIGN_HELP + " (default: all known)"),
           db: Optional[str] = typer.Option(None, help="SQLAlchemy URL of the store"),
           as_json: bool = typer.Option(False, "--json", help="one JSON object per campaign, one per line")):
    """Where campaigns stand: state, evaluations, failures, best value, last batch, last sign of life."""
    from amala.loop.status import summary

    name, stores = _stores(campaign, db)
    rows = [summary(store, row) for store in stores for row in store.campaigns() if not name or row.name == name]
    if not rows:
        _fail(f"no campaign {_named(name)} found" if name else "no campaigns found (under ./runs or run from "
              "this account)")
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    table = RichTable("campaign", "status", "evaluations", "failed", "batches", "best objective", "last batch (UTC)",
                      "last heartbeat (UTC)")
    for r in rows:
        best = "—" if r["best"] is None else f"{r['best']:.4f} ({r['objective']})"
        table.add_row(*(str(x) for x in (r["campaign"], r["state"], f"{r['evaluations']}/{r['budget']}",
                                         r["failed"], r["batches"], best, r["last_batch"] or "—",
                                         r["heartbeat"] or "—")))
    Console(width=max(console.width, 150), markup=False).print(table)  # never truncate names or numbers


@app.command()
def report(campaign: str = typer.Argument(..., help=CAMPAIGN_HELP),
           db: Optional[str] = typer.Option(None, help="SQLAlchemy URL of the store"),
           out: Optional[Path] = typer.Option(None, help="output folder (default <workdir>/report)")):
    """Write the HTML + PNG report of a campaign, from its database alone (nothing is loaded or trained)."""
    from amala.loop.report.html import write_report
    from amala.loop.status import stored_objective, workdir_of

    store, row = _campaign_row(campaign, db)
    objective = stored_objective(store, row)
    if objective.pool is None and (row.config.get("data") or None) is not None:
        err.print("note: this database has no record of the dataset's values, so the report has no random-search "
                  "baseline (a run with this amala version records them)", soft_wrap=True)
    if objective.unit is None:
        err.print(f"note: the unit of {objective.property} is not recorded in this database (unit unknown)",
                  soft_wrap=True)
    path = write_report(store, row, objective, out or workdir_of(row) / "report", objective.pool)
    console.print(f"report: {path}")


@app.command()
def pending(campaign: Optional[str] = typer.Argument(None, help=CAMPAIGN_HELP + " (default: all known)"),
            db: Optional[str] = typer.Option(None, help="SQLAlchemy URL of the store"),
            as_json: bool = typer.Option(False, "--json", help="one JSON object per waiting batch, one per line")):
    """Batches waiting for approval: each candidate's id, who proposed it, prediction and acquisition value."""
    from amala.loop.status import stored_objective

    name, stores = _stores(campaign, db)
    found = 0
    for store in stores:
        for row in store.campaigns():
            waiting = store.awaiting_approval(row.id) if (not name or row.name == name) else None
            if waiting is None:
                continue
            found += 1
            label = stored_objective(store, row).label
            rows = [{"rank": sel.rank, "id": cand.key, "agent": cand.agent, "candidate": cand.representation,
                     "predicted": sel.predicted_mean, "predicted_std": sel.predicted_std,
                     "acquisition": sel.acquisition_value}
                    for iteration, sel, cand in store.selections(row.id) if iteration.id == waiting.id]
            if as_json:
                print(json.dumps({"campaign": row.name, "batch": waiting.index, "strategy": waiting.strategy,
                                  "objective": label, "since": f"{waiting.created_at:%Y-%m-%d %H:%M:%S}",
                                  "flow_run_id": waiting.flow_run_id, "candidates": rows}))
                continue
            table = RichTable("rank", "id", "agent", "candidate", f"predicted {label} ± std", "acquisition",
                              title=f"campaign {row.name}: batch {waiting.index} ({waiting.strategy}) waits for "
                                    f"approval since {waiting.created_at:%Y-%m-%d %H:%M} UTC"
                                    + (f"; flow run {waiting.flow_run_id}" if waiting.flow_run_id else ""))
            for r in rows:
                predicted = "—" if r["predicted"] is None else f"{r['predicted']:.3f} ± {r['predicted_std']:.3f}"
                acquisition = "—" if r["acquisition"] is None else f"{r['acquisition']:.3g}"
                table.add_row(str(r["rank"]), r["id"], r["agent"], r["candidate"], predicted, acquisition)
            Console(width=max(console.width, 160), markup=False).print(table)
            console.print(f"answer: amala approve {row.name} [--reject ID ...] [--add SMILES|COMPOSITION ...] "
                          "[--batch-size N] [--comment TEXT] [--reject-all]")
    if not found and not as_json:
        console.print("no batch is waiting for approval" + (f" in campaign {name}" if name else ""))


def _resume_waiting_run(flow_run_id: str, decision, campaign: str) -> bool:
    """Hand the decision to the paused flow run; False if no run is paused for it any more. The
    run's own Prefect API (a temporary one that `amala run` recorded) is used when it answers, so
    no second temporary server has to start."""
    from uuid import UUID

    from prefect.exceptions import ObjectNotFound
    from prefect.flow_runs import NotPausedError, resume_flow_run
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from amala.loop import known_campaigns

    url = PREFECT_API_URL.value() or known_campaigns.known().get(campaign, {}).get("api_url")
    updates = {PREFECT_API_URL: url} if url and _answers(url) else {}
    try:
        with temporary_settings(updates=updates):
            resume_flow_run(UUID(flow_run_id), run_input=decision.model_dump())
    except (NotPausedError, ObjectNotFound):
        return False
    return True


def _answers(api_url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{api_url.rstrip('/')}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@app.command()
def approve(campaign: str = typer.Argument(..., help=CAMPAIGN_HELP),
            reject: list[str] = typer.Option([], "--reject", help="candidate id or rank to leave out (repeatable)"),
            add: list[str] = typer.Option([], "--add", help="candidate to add: SMILES or composition (repeatable)"),
            batch_size: Optional[int] = typer.Option(None, min=1, help="keep this many candidates"),
            comment: str = typer.Option("", help="why (stored with the decision)"),
            reject_all: bool = typer.Option(False, "--reject-all", help="reject the whole batch"),
            by: Optional[str] = typer.Option(None, help="who decides (default: your user name)"),
            db: Optional[str] = typer.Option(None, help="SQLAlchemy URL of the store")):
    """Answer the batch a campaign waits on: approve it, or edit it (reject, add, resize), or reject it."""
    import getpass

    from amala.loop.approval import BatchDecision
    from amala.loop.campaign import apply_decision, check_additions, top_up_needed

    store, row = _campaign_row(campaign, db)
    campaign = row.name  # also when named by its config file
    waiting = store.awaiting_approval(row.id)
    if waiting is None:
        _fail(f"campaign {campaign}: no batch is waiting for approval (see `amala pending`)")
    cfg = _stored_config(row)
    batch = store.pending_batch(row.id)
    in_batch = {c.key for c in batch.candidates}
    by_rank = {str(rank): c.key for rank, c in enumerate(batch.candidates)}  # `amala pending` shows both
    reject = [by_rank.get(key, key) if key not in in_batch else key for key in reject]
    for key in reject:
        if key not in in_batch:
            _fail(f"--reject {key}: not a candidate of batch {batch.index} (ids: `amala pending {campaign}`)")
    added, refused = check_additions(cfg, store.known_keys(row.id), add)
    for text, reason in refused.items():
        _fail(f"--add {text!r}: {reason}")
    decision = BatchDecision(approve=not reject_all, reject=reject, add=add, batch_size=batch_size,
                             comment=comment, by=by or getpass.getuser(), via="cli")
    if waiting.flow_run_id and _resume_waiting_run(waiting.flow_run_id, decision, campaign):
        console.print(f"campaign {campaign}: batch {batch.index} {decision.action}; flow run {waiting.flow_run_id} "
                      "goes on with it", soft_wrap=True)
        return
    # no run waits: store the decision here; only a batch made larger needs the models (to choose the rest)
    offline = decision.model_copy(update={"via": "store"})
    if top_up_needed(batch, decision, len(added)):
        from amala.loop.campaign import Campaign

        try:
            result = Campaign(cfg, store=store).review(batch, offline)
        except ValueError as exc:
            _fail(f"campaign {campaign!r}: {str(exc).splitlines()[0]}")
    else:
        result = apply_decision(cfg, store, row.id, batch, offline)
    size = 0 if result is None else len(result.candidates)
    console.print(f"campaign {campaign}: batch {batch.index} {decision.action} ({size} to evaluate); no run was "
                  f"waiting, so the next `amala run` evaluates it", soft_wrap=True)


@app.command()
def deploy(config: Path = typer.Argument(..., help="campaign YAML"),
           cron: str = typer.Option(..., help='when runs start, e.g. "0 22 * * *" (22:00 every day)'),
           until: Optional[str] = typer.Option(None, help="stop each run at this time of day, e.g. 07:00"),
           iterations: Optional[int] = typer.Option(None, min=1, help="stop each run after this many batches"),
           timezone: str = typer.Option("UTC", help="time zone of --cron and --until, e.g. Europe/Berlin"),
           name: Optional[str] = typer.Option(None, help="deployment name (default: the campaign's)")):
    """Schedule a campaign: a Prefect deployment whose runs resume it; `amala serve` runs them."""
    from amala.flows.campaign_flow import wall_clock_deadline
    from amala.flows.deployments import deploy as register
    from amala.loop.config import ConfigError

    try:
        wall_clock_deadline(until, timezone)
        deployment_id = register(config, cron, until=until, iterations=iterations, timezone=timezone, name=name)
    except (ConfigError, ValueError, KeyError) as exc:
        _fail(str(exc).strip("'\""))
    limits = ", ".join(x for x in (f"until {until}" if until else "", f"{iterations} batches" if iterations else "")
                       if x)
    console.print(f"deployment {deployment_id}: {config} on cron {cron!r} ({timezone})"
                  + (f", each run stops at {limits}" if limits else "")
                  + "; start `amala serve` in this folder to run it", soft_wrap=True)


@app.command()
def serve():
    """Run every scheduled amala campaign (see `amala deploy`) in this process until interrupted."""
    from prefect import serve as prefect_serve

    from amala.flows.deployments import registered

    deployments = registered()
    if not deployments:
        _fail("no amala deployments to serve; create one with `amala deploy CONFIG --cron ...`")
    console.print(f"serving {len(deployments)} campaign deployment(s): {', '.join(d.name for d in deployments)}")
    prefect_serve(*deployments)


@app.command()
def benchmark(config: Path = typer.Argument(..., help="campaign YAML (a lookup-oracle campaign)"),
              seeds: str = typer.Option("0-4", help="e.g. 0-4 or 0,2"),
              strategies: Optional[str] = typer.Option(None, help="comma list; default: config's, random, greedy_rf"),
              budget: Optional[int] = typer.Option(None, help="evaluations per run (default: config's)")):
    """Retrospective benchmark: replay the campaign per (strategy, seed), one JSON line each (BENCHMARKS.md)."""

    from amala.core import datasets
    from amala.loop import replay

    cfg = _load(config)
    names = strategies.split(",") if strategies else [cfg.acquisition.strategy, "random", "greedy_rf"]
    unknown = [s for s in names if s not in replay.STRATEGIES]
    if unknown:
        _fail(f"--strategies: unknown {unknown} (choose from {sorted(replay.STRATEGIES)})")
    try:
        seed_list = replay.parse_seeds(seeds)
        table = datasets.load(cfg.data.dataset, cfg.data.path, cfg.data.subset, cfg.seed)
    except ValueError as exc:
        _fail(str(exc) if isinstance(exc, datasets.DatasetError) else f"--seeds: cannot parse {seeds!r}")
    if cfg.representation == "formulation":  # one row per formulation, built once for every replayed run
        from amala.oracles.tables.formulation_lookup import formulation_table

        table = formulation_table(table)  # the campaign applies data.temperature_gap_K to its pool
    for row, note in replay.run_many(cfg, table, names, seed_list, budget):
        print(json.dumps(row), flush=True)
        err.print(f"{row['strategy']} seed {row['seed']}: {note}", highlight=False, soft_wrap=True)


@app.command()
def screen(config: Path = typer.Argument(..., help="screening YAML (configs/chemarr_screen.yaml)"),
           top: Optional[int] = typer.Option(None, help="rows to print (default: the config's top)")):
    """Virtual screen: train the formulation surrogate on measured data, rank a library (predictions)."""

    from amala.core import datasets
    from amala.loop.config import ConfigError
    from amala.loop.screening import check_screen, load_screen_config, run_screen

    try:
        cfg = load_screen_config(config)
    except ConfigError as exc:
        _fail(str(exc))
    problems = check_screen(cfg)  # a missing table or an unwritable workdir: now, not after training
    if problems:
        _fail(f"{config}: {problems[0]}")
    from amala.loop.threads import campaign_threads, use_threads

    use_threads(campaign_threads())  # the free cores (all of them on an idle machine)
    err.print(f"{cfg.name}: training the formulation ensemble on {cfg.train.dataset}, then scoring "
              f"{cfg.library.dataset} at {cfg.temperature_C:g} degC", highlight=False)
    try:
        frame, about = run_screen(cfg, progress=_bar("scoring chunks") if sys.stderr.isatty() else None)
    except (ValueError, datasets.DatasetError) as exc:
        _fail(str(exc))
    table = RichTable(title=f"{cfg.name}: top {min(top or cfg.top, len(frame))} of {len(frame)} formulations "
                      f"at {about['temperature_K']:.2f} K ({about['level_of_theory']})")
    for column in ("rank", "log10 sigma [log10 S/cm]", "Ea [eV]", "nearest train sim.", "molality [mol/kg]",
                   "salt", "polymer"):
        table.add_column(column)
    for row in frame.head(top or cfg.top).itertuples():
        table.add_row(str(row.rank), f"{row.log10_sigma_S_cm:.2f} ± {row.log10_sigma_std:.2f}",
                      f"{row.Ea_eV:.3f} ± {row.Ea_std_eV:.3f}", f"{row.nearest_training_similarity:.2f}",
                      f"{row.molality_mol_kg:g}", row.salt_name or row.salt, row.polymer)  # LiTFSI, not its SMILES
    console.print(table)
    console.print(f"wrote {cfg.work_path / 'screen.csv'} (every formulation), screen.json (provenance), screen.png")


def _bar(label: str):
    """A rich progress bar over an iterable (long loops on a terminal)."""
    from rich.progress import track

    return lambda items: track(items, description=label, console=err)


@app.command(name="generate-eval")
def generate_eval(samples: int = typer.Option(1000, help="SMILES to sample"),
                  checkpoint: Optional[Path] = typer.Option(None, help="load this GPT checkpoint folder if it "
                                                            "exists, else train one and save it there"),
                  epochs: int = typer.Option(35, help="training epochs over the pool (35 gave >= 90% valid "
                                                      "samples, BENCHMARKS.md)"),
                  data: Optional[Path] = typer.Option(None, help="HTP-MD CSV (default: the dataset cache)"),
                  seed: int = typer.Option(0)):
    """Train (or load) the SMILES GPT on HTP-MD, sample, and print PolyGen's six metrics as JSON."""
    import time

    from rich.progress import Progress

    from amala.agents.generation_metrics import evaluate
    from amala.agents.smiles_gpt import SmilesGPT
    from amala.core import datasets

    try:
        pool = list(datasets.load("htpmd", data).frame.smiles)
    except datasets.DatasetError as exc:
        _fail(str(exc).splitlines()[0])
    start = time.perf_counter()
    if checkpoint is not None and (checkpoint / "config.json").is_file():
        gpt = SmilesGPT.load(checkpoint)
        trained = 0.0
    else:
        gpt = SmilesGPT.for_smiles(pool, seed=seed)
        steps = epochs * -(-len(pool) // 64)
        with Progress(console=err, transient=True) as bar:
            task = bar.add_task("training the SMILES GPT", total=steps)
            gpt.train(pool, epochs=epochs, seed=seed, progress=lambda step, loss: bar.update(task, completed=step))
        trained = time.perf_counter() - start
        if checkpoint is not None:
            gpt.save(checkpoint)
    metrics = evaluate(gpt.sample(samples, seed=seed + 1), pool, seed=seed)
    console.print_json(json.dumps({**metrics, "training_seconds": round(trained, 1), "epochs": epochs}))


@data_app.command("list")
def data_list(as_json: bool = typer.Option(False, "--json", help="one JSON object per dataset, one per line")):
    """The datasets amala knows: source, licence, pinned sha256, and whether a local copy is there."""
    from amala.core import datasets

    rows = []
    for name, ds in datasets.DATASETS.items():
        local = datasets.data_dir() / ds.filename
        rows.append({"name": name, "rows_at_least": ds.min_rows, "license": ds.license, "source": ds.url,
                     "sha256": ds.sha256, "local_copy": str(local) if local.is_file() else None,
                     "citation": ds.citation})
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    table = RichTable("dataset", "rows", "licence", "local copy", "sha256 (pinned)")
    table.add_column("source", overflow="fold")  # an address is never cut
    for r in rows:
        table.add_row(r["name"], f"≥ {r['rows_at_least']:,}", r["license"],
                      r["local_copy"] or "none (`amala data fetch NAME`)", r["sha256"][:16] + "…", r["source"])
    Console(width=max(console.width, 200), markup=False).print(table)


@data_app.command("fetch")
def data_fetch(name: str = typer.Argument(..., help="dataset name (`amala data list` shows them)"),
               url: Optional[str] = typer.Option(None, help="override the download address (a mirror)"),
               dest: Optional[Path] = typer.Option(None, help="folder (default $AMALA_DATA_DIR or ~/.cache/amala)")):
    """Download a published dataset into the cache and check its sha256, columns and row count."""
    from amala.core import datasets

    try:
        spec = datasets.spec(name)
        console.print(f"fetching {name} from {url or spec.url} ({spec.license}; cite: {spec.citation})")
        path = datasets.fetch(name, url=url, dest_dir=dest)
    except datasets.DatasetError as exc:
        _fail(str(exc))
    table = datasets.load(name, path)
    console.print(f"{name}: {len(table.frame)} rows (sha256, columns and row count checked) -> {path}")



def _counter(label: str, total: int | None):
    """A rich progress bar on a terminal (None elsewhere): the callback takes the rows done so far."""
    if not sys.stderr.isatty():
        return None, None
    from rich.progress import Progress

    bar = Progress(console=err, transient=True)
    task = bar.add_task(label, total=total)
    return bar, lambda done: bar.update(task, completed=done)


WORKERS_HELP = "worker processes for RDKit (1 to 4 per CPU core, at most 64)"


@library_app.command("build")
def library_build(out: Path = typer.Argument(..., help="library to write: .csv or .parquet"),
                  n: int = typer.Option(..., "--n", help="rows: valid, canonical, unique repeat units (at most "
                                        "10,000,000: every row is kept in memory as a parent)"),
                  seed: int = typer.Option(0, help="same seed and N: the same file, byte for byte"),
                  source: str = typer.Option("mutation", "--from", help="mutation, gpt or both"),
                  seeds_file: Optional[Path] = typer.Option(None, help="starting polymers: a library file or one "
                                                            "SMILES a line (default: ~20 common electrolyte hosts)"),
                  gpt_checkpoint: Optional[Path] = typer.Option(None, help="--from gpt/both: load this GPT "
                                                                "checkpoint, or train one on the seeds and save it"),
                  gpt_epochs: int = typer.Option(35, help="training epochs when no checkpoint exists"),
                  workers: int = typer.Option(2, help=WORKERS_HELP),
                  force: bool = typer.Option(False, "--force", help="overwrite an existing library file")):
    """Generate a library of N repeat units (mutation/crossover enumeration and/or GPT sampling)."""
    from amala.agents.library_build import DEFAULT_SEEDS, build, check_request, load_gpt, read_seeds
    from amala.core.library import LibraryError

    try:
        check_request(out, n, workers)  # before a GPT is trained or a seed read
        if seeds_file is not None and seeds_file.exists() and out.exists() and os.path.samefile(out, seeds_file):
            _fail(f"library {out}: that is the seeds file (--seeds-file); write the library to another file")
        if out.exists() and not force:
            _fail(f"library {out}: exists; pass --force to overwrite it")
        seeds = read_seeds(seeds_file) if seeds_file else None
        gpt = None
        if source in ("gpt", "both"):
            gpt = load_gpt(seeds or list(DEFAULT_SEEDS.values()), gpt_checkpoint, gpt_epochs, seed)
        bar, progress = _counter(f"building {out.name}", n)
        if bar is not None:
            bar.start()
        try:
            about = build(out, n, seed=seed, source=source, seeds=seeds, gpt=gpt, workers=workers,
                          progress=progress)
        finally:
            if bar is not None:
                bar.stop()
    except LibraryError as exc:
        _fail(str(exc))
    except OSError as exc:  # what the library module did not foresee (a GPT checkpoint folder, a race)
        _fail(_os_text(exc, out))
    console.print(f"wrote {out}: {about['rows']} repeat units in {about['generations']} generations, "
                  f"{about['seconds']:.1f} s; {about['duplicates']} duplicates and {sum(about['rejected'].values())} "
                  f"invalid proposals dropped (settings: {out}.build.json)")


@library_app.command("info")
def library_info(file: Path = typer.Argument(..., help="library (.csv or .parquet)"),
                 examples: int = typer.Option(5, help="rows to show"),
                 workers: int = typer.Option(2, help=WORKERS_HELP),
                 as_json: bool = typer.Option(False, "--json", help="print JSON")):
    """Rows, valid / invalid / duplicate counts, examples, size, and its fingerprint caches."""
    from amala.agents.library_build import check_workers, scan
    from amala.core.library import LibraryError
    from amala.models.fingerprint_cache import cache_status

    try:
        check_workers(workers)
        bar, progress = _counter(f"checking {file.name}", None)
        if bar is not None:
            bar.start()
        try:
            about = scan(file, workers=workers, examples=examples, progress=progress)
        finally:
            if bar is not None:
                bar.stop()
        about["fingerprint_caches"] = cache_status(file)
    except LibraryError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(_os_text(exc, file))
    if as_json:
        console.print_json(json.dumps(about))
        return
    console.print(f"{file}: {about['format']}, {about['bytes'] / 1e6:.2f} MB, column {about['column']!r} "
                  f"({about['kind']}), {about['rows']} rows")
    console.print(f"  valid and unique {about['valid_unique']}, duplicates {about['duplicates']}, invalid "
                  f"{about['invalid']}" + (f" {about['invalid_reasons']}" if about["invalid"] else ""))
    for smiles in about["examples"]["valid"]:
        console.print(f"  {smiles}")
    for bad in about["examples"]["invalid"]:
        console.print(f"  row {bad['row']}: {bad['text']!r} refused ({bad['reason']})")
    if not about["fingerprint_caches"]:
        console.print("  fingerprint cache: none (`amala library fingerprints` builds one)")
    for cache in about["fingerprint_caches"]:
        console.print(f"  fingerprint cache {cache['file']}: {cache['rows']} rows, {cache['bytes'] / 1e6:.1f} MB, "
                      + ("current" if cache["current"] else "STALE (the library changed; rebuilt on next use)"))


@library_app.command("fingerprints")
def library_fingerprints(file: Path = typer.Argument(..., help="library (.csv or .parquet)"),
                         radius: int = typer.Option(3, help="Morgan radius (the GP featurizer's default: 3)"),
                         n_bits: int = typer.Option(2048, help="fingerprint length"),
                         counts: bool = typer.Option(True, help="thermometer-coded counts, as the featurizer"),
                         count_cap: int = typer.Option(4, help="count cap"),
                         workers: int = typer.Option(2, help=WORKERS_HELP)):
    """Build (or check) the library's bit-packed fingerprint cache, as the campaign's featurizer computes them."""
    import time

    from pydantic import ValidationError

    from amala.agents.library_build import check_workers
    from amala.core.library import LibraryError
    from amala.models.fingerprint_cache import open_cache

    settings = {"radius": radius, "n_bits": n_bits, "counts": counts, "count_cap": count_cap}
    started = time.perf_counter()
    try:
        check_workers(workers)
        bar, progress = _counter(f"fingerprints of {file.name}", None)
        if bar is not None:
            bar.start()
        try:
            cache = open_cache(file, settings, workers=workers, progress=progress)
        finally:
            if bar is not None:
                bar.stop()
    except LibraryError as exc:
        _fail(str(exc))
    except OSError as exc:  # the cache is written next to the library: an unwritable folder, a full disk
        _fail(_os_text(exc, file))
    except ValidationError as exc:
        _fail(f"fingerprint settings: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}")
    what = "built" if cache.built else "current, reused"
    console.print(f"{cache.bits_path}: {len(cache)} rows x {cache.dim} bits, {int(cache.valid.sum())} valid; {what} "
                  f"({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    app()
