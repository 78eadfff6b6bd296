"""Campaign configuration: YAML validated by pydantic.

Every model forbids unknown keys, so a typo fails loudly instead of silently falling back to a
default; `load_config` turns pydantic's report into one line naming the key path and what was
expected.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt,
                      ValidationError, field_validator, model_validator)

MAX_CONFIG_BYTES = 1_000_000  # a campaign config is a page of YAML; anything bigger is not one


class ConfigError(ValueError):
    """A bad campaign config; the message is one line naming the file and key."""


class _Strict(BaseModel):
    """Unknown keys fail, and no float may be inf or nan: `retry_delay_seconds: .inf` is a typo, not a wish."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def _plain_text(value: str) -> str:
    """Paths, URLs and names are single-line printable text: a NUL or a newline in one is a paste
    accident, and would only fail later (an OS error) or look like something else in a log."""
    bad = next((ch for ch in value if ord(ch) < 32 or ord(ch) == 127), None)
    if bad is not None:
        raise ValueError(f"control character {bad!r} in {value[:40]!r}")
    if not value.strip():
        raise ValueError("empty text")
    return value


def _http_url(value: str) -> str:
    """An http(s) URL with a host: the only thing an LLM agent or a webhook can be sent to."""
    _plain_text(value)
    try:
        parts = urlsplit(value)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in value
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{value[:80]!r} is not an http(s) URL (e.g. https://host/path)")
    return value


# Counts are strict integers: YAML `true` (or 1.5) as a batch size is a mistake, not the number 1.
# Every size-like setting also has an upper bound, so a typo (1e9) fails here instead of exhausting
# memory hours into a run.
Int = StrictInt
Float = Annotated[float, Field(strict=True)]  # accepts YAML ints (2 -> 2.0) but not booleans or strings
Text = Annotated[str, AfterValidator(_plain_text)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,63}")  # whole string (fullmatch)


class DataSpec(_Strict):
    dataset: Text = "htpmd"
    path: Text | None = None  # local copy; default: $AMALA_DATA_DIR/<dataset>.csv
    subset: Int | None = Field(None, ge=2, le=1_000_000, description="seeded random subset of the pool (at most "
                               "a million: the whole pool is featurised and held in memory)")


class ObjectiveSpec(_Strict):
    """The transform applies to every evaluation: with `log10`, a result <= 0 cannot be used and is
    recorded as a failed evaluation with that reason (see `amala.loop.objective.Objective.screen`)."""

    property: Text = "conductivity"
    direction: Literal["maximize", "minimize"] = "maximize"
    transform: Literal["log10", "none"] = "log10"


class AgentSpec(_Strict):
    kind: Literal["pool", "composition", "mutation", "gpt", "llm"] = "pool"
    name: Text | None = None
    bounds: dict[Text, tuple[Float, Float]] | None = None  # composition: mole-fraction range per oxide
    n: Int = Field(64, ge=1, le=10_000, description="proposals per iteration: the quota of composition, mutation "
                   "and gpt agents (the pool agent proposes every unseen member); at most 10,000, since every "
                   "proposal is featurised and scored each iteration")
    checkpoint: Text | None = Field(None, description="gpt: checkpoint folder to load, or to save the pre-trained "
                                    "model")
    epochs: Int = Field(35, ge=1, le=1000, description="gpt: pre-training epochs over the pool when no checkpoint "
                        "exists (35: >= 90% valid samples, BENCHMARKS.md; more than 1000 is days of CPU)")
    finetune_steps: Int = Field(20, ge=0, le=10_000, description="gpt: fine-tuning steps on the campaign's best, "
                                "per iteration (bounded: they run inside every iteration)")
    condition: Literal["<high>", "<low>", "<any>"] = "<any>"
    step: Float = Field(0.02, gt=0, le=0.5, description="composition: mole-fraction grid; a few-hundred-atom cell "
                        "cannot resolve finer differences")
    backend: Literal["openai", "local"] = Field("openai", description="llm: an OpenAI-compatible chat-completions "
                                                "endpoint, or a local transformers causal LM")
    url: HttpUrl | None = Field(None, description="llm/openai: base URL, e.g. https://api.openai.com/v1")
    model: Text | None = Field(None, description="llm/openai: model name")
    api_key_env: str = Field("OPENAI_API_KEY", pattern=r"^([A-Za-z_][A-Za-z0-9_]{0,127})?$",
                             description="llm/openai: environment variable holding the key (the key itself never "
                             "goes in a config)")
    path: Text | None = Field(None, description="llm/local: folder of a transformers causal LM")
    timeout_seconds: Float = Field(60.0, gt=0, le=3600, description="llm: how long to wait for an answer (at most "
                                   "an hour: an iteration waits for it)")
    temperature: Float = Field(0.7, ge=0, le=2)
    max_new_tokens: Int = Field(512, ge=16, le=8192, description="llm/local: answer length")

    @field_validator("bounds")
    @classmethod
    def _fractions(cls, bounds):
        """Mole-fraction ranges: 0 <= low <= high <= 1 for each component."""
        for name, (lo, hi) in (bounds or {}).items():
            if not 0 <= lo <= hi <= 1:
                raise ValueError(f"{name}: range [{lo}, {hi}] is not within 0 <= low <= high <= 1")
        return bounds

    @model_validator(mode="after")
    def _llm_backend(self):
        if self.kind == "llm" and self.backend == "openai" and not (self.url and self.model):
            raise ValueError("agents[]: an llm agent with backend openai needs url and model")
        if self.kind == "llm" and self.backend == "local" and not self.path:
            raise ValueError("agents[]: an llm agent with backend local needs path (a transformers model folder)")
        return self


class OracleSpec(_Strict):
    kind: Literal["lookup", "md", "emulator", "queue"] = "lookup"
    name: Text | None = None
    properties: list[Text] | None = Field(None, min_length=1, max_length=64)  # lookup: default, every property
    # the table has; queue: the objective
    profile: Text = "quick"  # md: quick (tests, demo), standard (>= 500 atoms, 100 ps per temperature) or long
    # (600 ps at 500-650 K); the MD oracle checks the name against its profiles
    density_g_cm3: Float = Field(2.35, gt=0, le=20, description="md: density of the starting cell (NPT then finds "
                                 "the glass's own; no oxide glass is denser than 20 g/cm3)")
    units: dict[Text, Text] | None = Field(None, description="queue: property -> unit the results must be given in "
                                           "(default: the dataset's or the MD oracle's units)")
    wait_seconds: Float = Field(0.0, ge=0, le=7 * 86400, description="queue: how long a run waits for a batch's "
                                "results before it pauses (results that arrived are kept; the next run waits for "
                                "the rest); at most a week: the scheduled runs are what wait longer")
    poll_seconds: Float = Field(30.0, gt=0, le=86400, description="queue: how often the inbox is read while waiting")
    give_up_hours: Float | None = Field(None, gt=0, le=24 * 366, description="queue: a result missing this long "
                                        "after its request is stored as failed and the campaign moves on (default: "
                                        "wait; at most a year)")
    retries: Int = Field(2, ge=0, le=100, description="retries of an evaluation that raised (a transient error)")
    retry_delay_seconds: Float = Field(10.0, ge=0, le=86400, description="pause before a retry (at most a day)")


class ExecutionSpec(_Strict):
    """Where a batch's evaluations run: each candidate is one Prefect task on this task runner."""

    task_runner: Literal["threads", "processes", "dask"] = "threads"
    workers: Int = Field(1, ge=1, le=1024, description="evaluations at once (threads, processes, or the workers "
                         "of a local Dask cluster)")
    address: Text | None = Field(None, description="dask: scheduler address of an existing cluster, e.g. "
                                 "tcp://10.0.0.5:8786 (default: a local cluster of `workers` processes)")


class FeaturizerSpec(_Strict):
    kind: Literal["morgan"] = "morgan"
    radius: Int = Field(3, ge=0, le=6)  # r3 counts: best and steadiest in BENCHMARKS.md
    n_bits: Int = Field(2048, ge=64, le=16_384, description="fingerprint length; at most 16384 (with count_cap "
                        "4, 64 KiB per candidate: a pool of thousands stays in memory)")
    counts: StrictBool = True
    count_cap: Int = Field(4, ge=1, le=16)

    @model_validator(mode="after")
    def _feature_size(self):
        """Counts are stored in thermometer form, n_bits x count_cap features per candidate."""
        if self.counts and self.n_bits * self.count_cap > 65_536:
            raise ValueError(f"n_bits x count_cap = {self.n_bits * self.count_cap} features per candidate "
                             "(at most 65536)")
        return self


class SurrogateSpec(_Strict):
    kind: Literal["gp", "random_forest", "gnn_ensemble"] = "gp"
    featurizer: FeaturizerSpec = FeaturizerSpec()
    n_estimators: Int = Field(500, ge=1, le=10_000, description="random_forest: trees (more than 10,000 only "
                              "costs memory)")
    members: Int = Field(5, ge=2, le=64, description="gnn_ensemble: networks in the deep ensemble (each one is "
                         "trained every iteration; at most 64)")
    epochs: Int = Field(20, ge=1, le=1000, description="gnn_ensemble: training epochs per member (20 with the "
                        "decay below beat 30 and 60 in BENCHMARKS.md §3; at most 1000)")
    lr_final: Float | None = Field(1e-4, gt=0, le=1e-3, description="gnn_ensemble: learning rate decays from 1e-3 "
                                   "to this")
    dropout: Float = Field(0.15, ge=0, lt=1, description="gnn_ensemble: dropout in the message passing")
    reference_K: Float = Field(353.0, gt=0, le=5000, description="gnn_ensemble: temperature of single-temperature "
                               "data (HTP-MD: 353 K)")
    high_fidelity: list[Text] = Field(default_factory=list, max_length=16, description="gnn_ensemble: evaluation "
                                      "fidelities (e.g. standard, external) that train the high-fidelity head; the "
                                      "rest train the low head, and predictions are made at high fidelity")


class AcquisitionSpec(_Strict):
    strategy: Literal["qlognei", "qucb", "thompson", "greedy", "random"] = "qlognei"
    batch_size: Int = Field(10, ge=1, le=1000, description="candidates per batch (joint batch acquisition grows "
                            "with its square; at most 1000)")
    ucb_beta: Float = Field(2.0, gt=0, le=1000)
    prescreen: Int | None = Field(500, ge=1, le=100_000, description="candidates kept for joint acquisition after "
                                  "a cheap ranking (their covariance is prescreen^2; at most 100,000)")
    mc_samples: Int = Field(128, ge=8, le=4096, description="quasi-Monte-Carlo samples of the batch posterior "
                            "(memory grows with samples x prescreen; at most 4096)")


class BudgetSpec(_Strict):
    initial: Int = Field(50, ge=2, le=100_000, description="random evaluations before the first model fit")
    max_evaluations: Int = Field(500, ge=1, le=1_000_000)
    max_iterations: Int | None = Field(None, ge=1, le=1_000_000)
    patience: Int | None = Field(None, ge=1, le=1_000_000, description="stop after this many batches without a "
                                 "new best")


class ApprovalSpec(_Strict):
    mode: Literal["none", "batch"] = Field("none", description="batch: every selected batch waits for a person")
    timeout_seconds: Float = Field(3600.0, gt=0, le=366 * 86400, description="how long a batch waits for an "
                                   "answer (at most a year)")
    on_timeout: Literal["approve", "reject", "stop"] = Field(
        "stop", description="nobody answered: evaluate the batch anyway, drop it and select another, or stop the "
                            "run (the batch keeps waiting for the next run)")
    poll_seconds: Float = Field(10.0, gt=0, le=3600, description="how often the paused run checks for an answer")


class NotifySpec(_Strict):
    webhook: HttpUrl | None = Field(None, description="http(s) URL that receives a JSON POST (Slack-style 'text' "
                                    "field)")
    on: list[Literal["approval", "run"]] = Field(["approval", "run"], description="approval: a batch waits for a "
                                                 "person; run: a run ended (its summary line)")
    timeout_seconds: Float = Field(10.0, gt=0, le=300)


class CampaignConfig(_Strict):
    name: str = Field(..., description="1-64 characters of A-Z a-z 0-9 . _ -, not starting with . or -: it "
                      "becomes the folder runs/<name>, so '..' or a path must never get through")
    seed: Int = Field(0, ge=0, le=2**32 - 1, description="numpy and pandas take seeds in [0, 2^32)")
    workdir: Text | None = None  # default: runs/<name>
    database: Text | None = None  # SQLAlchemy URL; default sqlite:///<workdir>/amala.db; env AMALA_DB_URL wins
    representation: Literal["smiles", "composition"] = "smiles"
    data: DataSpec | None = DataSpec()
    objective: ObjectiveSpec = ObjectiveSpec()
    agents: list[AgentSpec] = Field(default_factory=lambda: [AgentSpec()], min_length=1, max_length=32)
    oracle: OracleSpec = OracleSpec()
    surrogate: SurrogateSpec = SurrogateSpec()
    acquisition: AcquisitionSpec = AcquisitionSpec()
    budget: BudgetSpec = BudgetSpec()
    approval: ApprovalSpec = ApprovalSpec()
    execution: ExecutionSpec = ExecutionSpec()
    notify: NotifySpec = NotifySpec()

    @field_validator("name", mode="before")
    @classmethod
    def _folder_name(cls, value):
        """The name is a folder under runs/: a safe, short, single path component."""
        if not isinstance(value, str):
            raise ValueError(f"must be text, got {type(value).__name__}")
        if not NAME.fullmatch(value):
            raise ValueError(f"{value[:80]!r} is not a campaign name: use 1-64 characters of A-Z a-z 0-9 . _ - "
                             "starting with a letter, digit or _ (it becomes the folder runs/<name>)")
        return value

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
    own = first["type"] == "value_error"  # our validators quote the offending value themselves
    shown = "" if isinstance(got, dict) or first["type"] == "missing" or own else f" (got {_short(got)})"
    extra = f"; {len(error.errors()) - 1} more error(s)" if len(error.errors()) > 1 else ""
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    return " ".join(f"{origin}: {path}: {message}{shown}{extra}".split("\n"))


def _short(value, limit: int = 80) -> str:
    """repr of an offending value, cut: a 50 kB string is not worth repeating in an error line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class DuplicateKey(yaml.constructor.ConstructorError):
    """The same key twice in one mapping: YAML keeps the last silently, which hides a typo."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in a mapping is an error (naming the
    key and both lines) instead of the second one silently winning."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` may be overridden on purpose
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node.start_mark.line)
            except TypeError:  # an unhashable key: the base class reports it
                continue
            if first != key_node.start_mark.line:
                raise DuplicateKey(None, None, f"duplicate key {_short(key, 40)} (first given on line {first + 1})",
                                   key_node.start_mark)
        return super().construct_mapping(node, deep)


def parse_config(data: dict, origin: str = "config") -> CampaignConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping of keys at the top level")
    try:
        return CampaignConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_one_line(error, origin)) from None


def load_config(path: str | os.PathLike) -> CampaignConfig:
    """Read and validate a campaign YAML; every problem is one `ConfigError` line naming the file."""
    path = Path(path)
    return parse_config(_read_yaml(path) or {}, str(path))


def _read_yaml(path: Path):
    """The YAML document of a config file: UTF-8 text, at most 1 MB, no duplicate keys."""
    try:
        if not path.is_file():
            raise ConfigError(f"{path}: no such config file")
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: {len(raw)} bytes, too large for a config (at most {MAX_CONFIG_BYTES})")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}: line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); save it as "
                          "UTF-8") from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except DuplicateKey as exc:
        raise ConfigError(f"{path}: line {exc.problem_mark.line + 1}: {exc.problem}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid YAML (nested too deeply)") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise ConfigError(f"{path}:{where}: not valid YAML ({problem})") from None
