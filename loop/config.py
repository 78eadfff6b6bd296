"""Campaign configuration: YAML validated by pydantic.

Every model forbids unknown keys, so a typo fails loudly instead of silently falling back to a
default; `load_config` turns pydantic's report into one line naming the key path and what was
expected.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class ConfigError(ValueError):
    """A bad campaign config; the message is one line naming the file and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataSpec(_Strict):
    dataset: str = "htpmd"
    path: str | None = None  # local copy; default: $AMALA_DATA_DIR/<dataset>.csv
    subset: int | None = Field(None, ge=2, description="seeded random subset of the pool")


class ObjectiveSpec(_Strict):
    property: str = "conductivity"
    direction: Literal["maximize", "minimize"] = "maximize"
    transform: Literal["log10", "none"] = "log10"


class AgentSpec(_Strict):
    kind: Literal["pool", "composition", "mutation", "gpt", "llm"] = "pool"
    name: str | None = None
    bounds: dict[str, tuple[float, float]] | None = None  # composition: mole-fraction range per oxide
    n: int = Field(64, ge=1, description="proposals per iteration: the quota of composition, mutation and gpt "
                   "agents (the pool agent proposes every unseen member)")
    checkpoint: str | None = Field(None, description="gpt: checkpoint folder to load, or to save the pre-trained model")
    epochs: int = Field(35, ge=1, description="gpt: pre-training epochs over the pool when no checkpoint exists "
                        "(35: >= 90% valid samples, BENCHMARKS.md)")
    finetune_steps: int = Field(20, ge=0, description="gpt: fine-tuning steps on the campaign's best, per iteration")
    condition: Literal["<high>", "<low>", "<any>"] = "<any>"
    step: float = Field(0.02, gt=0, le=0.5, description="composition: mole-fraction grid; a few-hundred-atom cell "
                        "cannot resolve finer differences")
    backend: Literal["openai", "local"] = Field("openai", description="llm: an OpenAI-compatible chat-completions "
                                                "endpoint, or a local transformers causal LM")
    url: str | None = Field(None, description="llm/openai: base URL, e.g. https://api.openai.com/v1")
    model: str | None = Field(None, description="llm/openai: model name")
    api_key_env: str = Field("OPENAI_API_KEY", description="llm/openai: environment variable holding the key "
                             "(the key itself never goes in a config)")
    path: str | None = Field(None, description="llm/local: folder of a transformers causal LM")
    timeout_seconds: float = Field(60.0, gt=0, description="llm: how long to wait for an answer")
    temperature: float = Field(0.7, ge=0, le=2)
    max_new_tokens: int = Field(512, ge=16, le=8192, description="llm/local: answer length")

    @model_validator(mode="after")
    def _llm_backend(self):
        if self.kind == "llm" and self.backend == "openai" and not (self.url and self.model):
            raise ValueError("agents[]: an llm agent with backend openai needs url and model")
        if self.kind == "llm" and self.backend == "local" and not self.path:
            raise ValueError("agents[]: an llm agent with backend local needs path (a transformers model folder)")
        return self


class OracleSpec(_Strict):
    kind: Literal["lookup", "md", "emulator", "queue"] = "lookup"
    name: str | None = None
    properties: list[str] | None = None  # lookup: default, every property the table has; queue: the objective
    profile: str = "quick"  # md: quick (tests, demo), standard (>= 500 atoms, 100 ps per temperature) or long (600 ps at 500-650 K)
    density_g_cm3: float = Field(2.35, gt=0, description="md: density of the starting cell (NPT then finds the glass's own)")
    units: dict[str, str] | None = Field(None, description="queue: property -> unit the results must be given in "
                                         "(default: the dataset's or the MD oracle's units)")
    wait_seconds: float = Field(0.0, ge=0, description="queue: how long a run waits for a batch's results before "
                                "it pauses (results that arrived are kept; the next run waits for the rest)")
    poll_seconds: float = Field(30.0, gt=0, description="queue: how often the inbox is read while waiting")
    give_up_hours: float | None = Field(None, gt=0, description="queue: a result missing this long after its "
                                        "request is stored as failed and the campaign moves on (default: wait)")
    retries: int = Field(2, ge=0, description="retries of an evaluation that raised (a transient error)")
    retry_delay_seconds: float = Field(10.0, ge=0)


class ExecutionSpec(_Strict):
    """Where a batch's evaluations run: each candidate is one Prefect task on this task runner."""

    task_runner: Literal["threads", "processes", "dask"] = "threads"
    workers: int = Field(1, ge=1, le=1024, description="evaluations at once (threads, processes, or the workers "
                         "of a local Dask cluster)")
    address: str | None = Field(None, description="dask: scheduler address of an existing cluster, e.g. "
                                "tcp://10.0.0.5:8786 (default: a local cluster of `workers` processes)")


class FeaturizerSpec(_Strict):
    kind: Literal["morgan"] = "morgan"
    radius: int = Field(3, ge=0, le=6)  # r3 counts: best and steadiest in BENCHMARKS.md
    n_bits: int = Field(2048, ge=64)
    counts: bool = True
    count_cap: int = Field(4, ge=1, le=16)


class SurrogateSpec(_Strict):
    kind: Literal["gp", "random_forest", "gnn_ensemble"] = "gp"
    featurizer: FeaturizerSpec = FeaturizerSpec()
    n_estimators: int = Field(500, ge=1)
    members: int = Field(5, ge=2, description="gnn_ensemble: networks in the deep ensemble")
    epochs: int = Field(20, ge=1, description="gnn_ensemble: training epochs per member (20 with the decay below "
                        "beat 30 and 60 in BENCHMARKS.md §3)")
    lr_final: float | None = Field(1e-4, gt=0, description="gnn_ensemble: learning rate decays from 1e-3 to this")
    dropout: float = Field(0.15, ge=0, lt=1, description="gnn_ensemble: dropout in the message passing")
    reference_K: float = Field(353.0, gt=0, description="gnn_ensemble: temperature of single-temperature data "
                               "(HTP-MD: 353 K)")
    high_fidelity: list[str] = Field(default_factory=list, description="gnn_ensemble: evaluation fidelities "
                                     "(e.g. standard, external) that train the high-fidelity head; the rest train "
                                     "the low head, and predictions are made at high fidelity")


class AcquisitionSpec(_Strict):
    strategy: Literal["qlognei", "qucb", "thompson", "greedy", "random"] = "qlognei"
    batch_size: int = Field(10, ge=1)
    ucb_beta: float = Field(2.0, gt=0)
    prescreen: int | None = Field(500, ge=1)
    mc_samples: int = Field(128, ge=8)


class BudgetSpec(_Strict):
    initial: int = Field(50, ge=2, description="random evaluations before the first model fit")
    max_evaluations: int = Field(500, ge=1)
    max_iterations: int | None = Field(None, ge=1)
    patience: int | None = Field(None, ge=1, description="stop after this many batches without a new best")


class ApprovalSpec(_Strict):
    mode: Literal["none", "batch"] = Field("none", description="batch: every selected batch waits for a person")
    timeout_seconds: float = Field(3600.0, gt=0, description="how long a batch waits for an answer")
    on_timeout: Literal["approve", "reject", "stop"] = Field(
        "stop", description="nobody answered: evaluate the batch anyway, drop it and select another, or stop the "
                            "run (the batch keeps waiting for the next run)")
    poll_seconds: float = Field(10.0, gt=0, description="how often the paused run checks for an answer")


class NotifySpec(_Strict):
    webhook: str | None = Field(None, description="URL that receives a JSON POST (Slack-style 'text' field)")
    on: list[Literal["approval", "run"]] = Field(["approval", "run"], description="approval: a batch waits for a "
                                                 "person; run: a run ended (its summary line)")
    timeout_seconds: float = Field(10.0, gt=0)


class CampaignConfig(_Strict):
    name: str = Field(..., pattern=r"^[A-Za-z0-9_.-]+$")
    seed: int = 0
    workdir: str | None = None  # default: runs/<name>
    database: str | None = None  # SQLAlchemy URL; default sqlite:///<workdir>/amala.db; env AMALA_DB_URL wins
    representation: Literal["smiles", "composition"] = "smiles"
    data: DataSpec | None = DataSpec()
    objective: ObjectiveSpec = ObjectiveSpec()
    agents: list[AgentSpec] = Field(default_factory=lambda: [AgentSpec()], min_length=1)
    oracle: OracleSpec = OracleSpec()
    surrogate: SurrogateSpec = SurrogateSpec()
    acquisition: AcquisitionSpec = AcquisitionSpec()
    budget: BudgetSpec = BudgetSpec()
    approval: ApprovalSpec = ApprovalSpec()
    execution: ExecutionSpec = ExecutionSpec()
    notify: NotifySpec = NotifySpec()

    @field_validator("approval", mode="before")
    @classmethod
    def _approval_shorthand(cls, value):
        """`approval: batch` is short for `approval: {mode: batch}` (default timeout policy)."""
        return {"mode": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self):
        if self.surrogate.kind == "random_forest" and self.acquisition.strategy not in ("greedy", "random"):
            raise ValueError(f"acquisition.strategy={self.acquisition.strategy} needs a Bayesian surrogate; "
                             "random_forest supports greedy or random")
        if self.surrogate.high_fidelity and self.surrogate.kind != "gnn_ensemble":
            raise ValueError("surrogate.high_fidelity: only the gnn_ensemble surrogate has fidelity heads")
        if self.budget.initial > self.budget.max_evaluations:
            raise ValueError("budget.initial must not exceed budget.max_evaluations")
        if self.oracle.kind == "queue" and self.oracle.properties is None:  # ask the lab only for what is needed
            self.oracle.properties = [self.objective.property]
        if self.oracle.properties is not None and self.objective.property not in self.oracle.properties:
            raise ValueError(f"oracle.properties must include the objective {self.objective.property!r}")
        agents, oracles = {"smiles": ({"pool", "mutation", "gpt", "llm"}, {"lookup", "emulator", "queue"}),
                           "composition": ({"composition", "llm"}, {"md", "queue"})}[self.representation]
        if any(a.kind not in agents for a in self.agents) or self.oracle.kind not in oracles:
            raise ValueError(f"representation {self.representation} takes agents of kind {sorted(agents)} and "
                             f"oracle.kind {sorted(oracles)}")
        if self.representation == "smiles" and self.data is None:
            raise ValueError("data: a smiles campaign needs a dataset (the pool and the lookup table)")
        if self.oracle.kind == "md" and self.execution.task_runner == "threads" and self.execution.workers > 1:
            raise ValueError("execution.task_runner: threads would run several LAMMPS engines in one process; "
                             "use processes or dask for execution.workers > 1 with oracle.kind md")
        if any(a.kind in ("composition", "llm") and not a.bounds for a in self.agents
               if self.representation == "composition"):
            raise ValueError("agents[].bounds: a composition campaign's agents (composition, llm) need the "
                             "mole-fraction range of each oxide")
        return self

    @property
    def work_path(self) -> Path:
        return Path(self.workdir or Path("runs") / self.name)

    @property
    def database_url(self) -> str:
        return os.environ.get("AMALA_DB_URL") or self.database or f"sqlite:///{self.work_path / 'amala.db'}"


def _one_line(error: ValidationError, origin: str) -> str:
    first = error.errors()[0]
    path = ".".join(str(p) for p in first["loc"]) or "(top level)"
    got = first.get("input")
    shown = "" if isinstance(got, dict) or first["type"] == "missing" else f" (got {got!r})"
    extra = f"; {len(error.errors()) - 1} more error(s)" if len(error.errors()) > 1 else ""
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    return f"{origin}: {path}: {message}{shown}{extra}"


def parse_config(data: dict, origin: str = "config") -> CampaignConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping of keys at the top level")
    try:
        return CampaignConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_one_line(error, origin)) from None


def load_config(path: str | os.PathLike) -> CampaignConfig:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    return parse_config(data or {}, str(path))
