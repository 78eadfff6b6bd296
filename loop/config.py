"""Campaign configuration: YAML validated by pydantic.

Every model forbids unknown keys, so a typo fails loudly instead of silently falling back to a
default; `load_config` turns pydantic's report into one line naming the key path and what was
expected.

`agents`, `oracle` and `surrogate` are chosen by `kind` among the registries' classes (see
`amala.core.plugins`): each kind's settings model sits next to its class, so a key the chosen kind
does not have fails naming the kind, and what each kind can do (representations, a dataset, a
Bayesian posterior, fidelity heads) is read from its class rather than kept in tables here.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal, Union

import yaml
from pydantic import BeforeValidator, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo

from amala.agents.registry import AGENTS
from amala.core.plugins import Float, HttpUrl, Int, Registry, Spec, Text
from amala.core.representations import Representation, RepresentationName
from amala.core.settings import settings
from amala.loop.strategies import (
    CONSTRAINED,
    DEFAULT_MULTI_OBJECTIVE,
    MULTI_OBJECTIVE,
    NON_BAYESIAN,
    SINGLE_OBJECTIVE,
    Strategy,
)
from amala.models.registry import SURROGATES, surrogate_class
from amala.oracles.registry import ORACLES

MAX_CONFIG_BYTES = 1_000_000  # a campaign config is a page of YAML; anything bigger is not one


class ConfigError(ValueError):
    """A bad campaign config; the message is one line naming the file and key."""


_Strict = Spec  # every settings model forbids unknown keys and non-finite floats (`amala.core.plugins`)


NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,63}")  # whole string (fullmatch)


class DataSpec(_Strict):
    dataset: Text = "htpmd"
    path: Text | None = None  # local copy; default: $AMALA_DATA_DIR/<dataset>.csv
    subset: Int | None = Field(None, ge=2, le=1_000_000, description="seeded random subset of the pool (at most "
                               "a million: the whole pool is featurised and held in memory)")
    temperature_gap_K: Float | None = Field(None, gt=0, le=1000, description="formulation campaigns: only "
                                            "formulations measured within this many K of 25 degC are in the pool "
                                            "(default: every formulation, at its measured temperature closest to "
                                            "25 degC)")


class ObjectiveSpec(_Strict):
    """The transform applies to every evaluation: with `log10`, a result <= 0 cannot be used and is
    recorded as a failed evaluation with that reason (see `amala.loop.objective.Objective.screen`)."""

    property: Text = "conductivity"
    direction: Literal["maximize", "minimize"] = "maximize"
    transform: Literal["log10", "none"] = "log10"
    reference: Float | None = Field(None, description="multi-objective campaigns: the hypervolume's reference "
                                    "point on this objective, transformed, in its own direction (e.g. -4.3 for log10 "
                                    "conductivity maximised): the worst value still worth having. Default: inferred "
                                    "from the evaluations (amala.loop.pareto.reference_point)")


CONSTRAINT = re.compile(r"\s*(?:(log10)\(\s*([A-Za-z_][\w.]*)\s*\)|([A-Za-z_][\w.]*))\s*(>=|<=)\s*(\S+)\s*")


def _constraint_text(value):
    """`transference_number >= 0.2` or `log10(conductivity) >= -4` is short for the mapping."""
    if not isinstance(value, str):
        return value
    match = CONSTRAINT.fullmatch(value)
    if match is None:
        raise ValueError(f"{value[:80]!r} is not a constraint: write e.g. 'transference_number >= 0.2' or "
                         "'log10(conductivity) >= -4'")
    log, logged, plain, op, number = match.groups()
    try:
        threshold = float(number)
    except ValueError:
        raise ValueError(f"{value[:80]!r}: {number!r} is not a number") from None
    return {"property": logged or plain, "op": op, "value": threshold, "transform": "log10" if log else "none"}


class ConstraintSpec(_Strict):
    """An outcome constraint: a measured property (optionally log10 of it) must be >= or <= a value. The
    campaign models it like an objective and weights each candidate's acquisition by its probability of
    being feasible (BoTorch's constraint handling); a result that breaks it is stored and shown as infeasible."""

    property: Text
    op: Literal[">=", "<="]
    value: Float
    transform: Literal["log10", "none"] = "none"

    @property
    def text(self) -> str:
        name = f"log10({self.property})" if self.transform == "log10" else self.property
        return f"{name} {self.op} {self.value:g}"


def _with_kind(default: str):
    """A settings mapping without `kind` is the default kind's (pool, lookup, gp), as before kinds had models."""
    return BeforeValidator(lambda value: {"kind": default, **value} if isinstance(value, dict) and "kind" not in value
                           else value)


def _union(registry: Registry, default: str):
    """One settings model per registered kind, chosen by `kind` (a pydantic discriminated union)."""
    specs = tuple(cls.Spec for cls in registry.classes().values())
    return Annotated[Annotated[Union[specs], Field(discriminator="kind")], _with_kind(default)]


def _build_unions() -> None:
    """(Re)build the kind unions from the registries; after plug-ins were found, `CampaignConfig` is rebuilt."""
    global AnyAgent, AnyOracle, AnySurrogate, _BUILT_WITH
    AnyAgent, AnyOracle, AnySurrogate = _union(AGENTS, "pool"), _union(ORACLES, "lookup"), _union(SURROGATES, "gp")
    _BUILT_WITH = [registry.kinds() for registry in REGISTRIES.values()]


def _kind_fields() -> dict[str, tuple]:
    """The config's plug-in fields: type and settings (defaults: pool, lookup, gp)."""
    return {"agents": (list[AnyAgent], Field(default_factory=lambda: [AGENTS["pool"].Spec()], min_length=1,
                                              max_length=32)),
            "oracle": (AnyOracle, Field(default_factory=lambda: ORACLES["lookup"].Spec())),
            "surrogate": (AnySurrogate, Field(default_factory=lambda: SURROGATES["gp"].Spec()))}


REGISTRIES = {"agents": AGENTS, "oracle": ORACLES, "surrogate": SURROGATES}  # config key -> registry of its kinds
AnyAgent = AnyOracle = AnySurrogate = None  # set by _build_unions
_BUILT_WITH: list[list[str]] = []  # the registries' kinds when the unions were built
_build_unions()


class ExecutionSpec(_Strict):
    """Where a batch's evaluations run: each candidate is one Prefect task on this task runner."""

    task_runner: Literal["threads", "processes", "dask"] = "threads"
    workers: Int = Field(1, ge=1, le=1024, description="evaluations at once (threads, processes, or the workers "
                         "of a local Dask cluster)")
    address: Text | None = Field(None, description="dask: scheduler address of an existing cluster, e.g. "
                                 "tcp://10.0.0.5:8786 (default: a local cluster of `workers` processes)")


class AcquisitionSpec(_Strict):
    strategy: Strategy = "qlognei"
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
    representation: RepresentationName = "smiles"  # formulation: polymer|salt|molality
    data: DataSpec | None = DataSpec()
    objective: ObjectiveSpec = ObjectiveSpec()
    objectives: list[ObjectiveSpec] | None = Field(None, min_length=1, max_length=4, description="several "
                                                   "objectives at once (a Pareto campaign); `objective` is the "
                                                   "one-objective shorthand and becomes the first of these")
    constraints: list[Annotated[ConstraintSpec, BeforeValidator(_constraint_text)]] = Field(
        default_factory=list, max_length=8, description="outcome constraints, e.g. 'transference_number >= 0.2'")
    agents: list[AnyAgent] = _kind_fields()["agents"][1]  # as in _kind_fields (load_plugins rebuilds them)
    oracle: AnyOracle = _kind_fields()["oracle"][1]
    surrogate: AnySurrogate = _kind_fields()["surrogate"][1]
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

    @property
    def all_objectives(self) -> list[ObjectiveSpec]:
        """The campaign's objectives, the first one first (`objective` alone: a list of one)."""
        return list(self.objectives) if self.objectives else [self.objective]

    @property
    def outputs(self) -> list[str]:
        """Every property the campaign models: its objectives, then its constraints' properties."""
        return [prop for _, prop in self.output_keys]

    @property
    def output_keys(self) -> list[tuple[str, str]]:
        """(config key, property) of every modelled output, for errors that name the key the user wrote."""
        keys = [f"objectives.{i}" for i in range(len(self.objectives))] if self.objectives else ["objective"]
        return [(f"{k}.property", o.property) for k, o in zip(keys, self.all_objectives)] + [
            (f"constraints.{i}.property", c.property) for i, c in enumerate(self.constraints)]

    def _objectives_consistent(self) -> None:
        """`objectives` and `objective` agree; a multi-objective campaign gets a multi-objective strategy."""
        if self.objectives:
            if "objective" in self.model_fields_set and self.objective != self.objectives[0]:
                raise ValueError("objective: give objectives (a list) or objective (one), not both")
            self.objective = self.objectives[0]
            names = [o.property for o in self.objectives]
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(f"objectives: {repeated[0]!r} appears twice")
        many = len(self.all_objectives) > 1
        strategy = self.acquisition.strategy
        if many and "strategy" not in self.acquisition.model_fields_set:
            self.acquisition.strategy = strategy = DEFAULT_MULTI_OBJECTIVE
        if many and strategy in SINGLE_OBJECTIVE:
            raise ValueError(f"acquisition.strategy: {strategy} optimises one objective; with "
                             f"{len(self.all_objectives)} objectives choose one of {', '.join(MULTI_OBJECTIVE)} "
                             "or random")
        if not many and strategy in MULTI_OBJECTIVE:
            raise ValueError(f"acquisition.strategy: {strategy} needs two objectives or more (objectives: [...]); "
                             "with one objective choose qlognei")
        if self.constraints and strategy not in CONSTRAINED:
            raise ValueError(f"acquisition.strategy: {strategy} does not take constraints; choose one of "
                             f"{', '.join(CONSTRAINED)}")
        if len(self.outputs) > 1 and SURROGATES[self.surrogate.kind].arrhenius_objective:
            raise ValueError(f"surrogate.kind: {self.surrogate.kind} reads out log10 conductivity only; objectives "
                             "and constraints on other properties need another kind (gp, random_forest, "
                             "gnn_ensemble)")

    def _oracle_gives(self, properties) -> None:
        """Every objective and constrained property is one the oracle measures."""
        produced = self.oracle.produces()  # a kind whose results are a fixed set of properties
        for key, name in self.output_keys:
            if properties is not None and name not in properties:
                what = "the objective" if key.startswith("objective") else "the constrained property"
                raise ValueError(f"oracle.properties must include {what} {name!r}")
            if produced is not None and name not in produced:
                raise ValueError(f"{key}: oracle kind {self.oracle.kind} does not give {name!r} (it gives "
                                 f"{', '.join(produced)})")

    @model_validator(mode="after")
    def _consistent(self):
        self._objectives_consistent()
        surrogate = SURROGATES[self.surrogate.kind]
        if not surrogate.bayesian and self.acquisition.strategy not in NON_BAYESIAN:
            raise ValueError(f"acquisition.strategy={self.acquisition.strategy} needs a Bayesian surrogate; "
                             f"{self.surrogate.kind} supports greedy or random")
        fidelity_heads = surrogate_class(self.surrogate.kind, self.representation).fidelities
        if self.surrogate.high_fidelities() and not fidelity_heads:
            raise ValueError(f"surrogate.high_fidelity: the {self.surrogate.kind} surrogate has no fidelity heads"
                             + (" (the gp has two fidelities in composition campaigns only)"
                                if self.surrogate.kind == "gp" else ""))
        if self.budget.initial > self.budget.max_evaluations:
            raise ValueError("budget.initial must not exceed budget.max_evaluations")
        arrhenius = surrogate.arrhenius_objective  # an Arrhenius readout models log10 sigma
        if arrhenius and (self.objective.property, self.objective.transform, self.objective.direction) != arrhenius:
            raise ValueError(f"surrogate.kind={self.surrogate.kind} reads out log10 conductivity (Arrhenius): "
                             f"objective must be property {arrhenius[0]}, transform {arrhenius[1]}, direction "
                             f"{arrhenius[2]}")
        oracle = ORACLES[self.oracle.kind]
        if oracle.asks_for_objective_only and self.oracle.asked_properties() is None:
            self.oracle.properties = list(dict.fromkeys(self.outputs))
        self._oracle_gives(self.oracle.asked_properties())
        for i, agent in enumerate(self.agents):  # components the oracle cannot simulate
            problem = next(filter(None, map(self.oracle.component_problem, agent.composition_bounds() or {})), None)
            if problem:
                raise ValueError(f"agents.{i}.bounds: {problem} (oracle kind {self.oracle.kind})")
        self._capabilities()
        if not oracle.thread_safe and self.execution.task_runner == "threads" \
                and self.execution.workers > 1:
            raise ValueError(f"execution.task_runner: threads would run several {self.oracle.kind} evaluations in one "
                             f"process; use processes or dask for execution.workers > 1 with oracle.kind "
                             f"{self.oracle.kind}")
        if self.data is not None and self.data.temperature_gap_K is not None \
                and self.representation != Representation.FORMULATION:
            raise ValueError("data.temperature_gap_K: only formulation campaigns have measurement temperatures")
        if self.representation == Representation.COMPOSITION and any(a.composition_bounds() == {}
                                                                     for a in self.agents):
            kinds = sorted({a.kind for a in self.agents if a.composition_bounds() is not None})
            raise ValueError(f"agents[].bounds: a composition campaign's agents ({', '.join(kinds)}) need the "
                             "mole-fraction range of each oxide")
        return self

    def _capabilities(self) -> None:
        """What each chosen kind declares on its class: the representation it works on, a dataset."""
        rep = self.representation
        agents = [kind for kind, cls in AGENTS.classes().items() if rep in cls.representations]
        oracles = [kind for kind, cls in ORACLES.classes().items() if rep in cls.representations]
        if any(a.kind not in agents for a in self.agents) or self.oracle.kind not in oracles:
            raise ValueError(f"representation {rep} takes agents of kind {agents} and oracle.kind {oracles}")
        if rep not in SURROGATES[self.surrogate.kind].representations:
            surrogates = [kind for kind, cls in SURROGATES.classes().items() if rep in cls.representations]
            raise ValueError(f"representation {rep} takes surrogate.kind {surrogates}")
        needy = [f"agent kind {a.kind!r}" for a in self.agents if AGENTS[a.kind].needs_dataset]
        needy += [f"oracle kind {self.oracle.kind!r}"] if ORACLES[self.oracle.kind].needs_dataset else []
        if self.data is None and needy:
            raise ValueError(f"data: {needy[0]} needs a dataset (the pool or the table it answers from)")

    @property
    def work_path(self) -> Path:
        return Path(self.workdir or Path("runs") / self.name)

    @property
    def database_url(self) -> str:
        return settings().db_url or self.database or f"sqlite:///{self.work_path / 'amala.db'}"


def _one_line(error: ValidationError, origin: str) -> str:
    first = error.errors()[0]
    loc, noun, kind = _without_tag(list(first["loc"]))
    path = ".".join(str(p) for p in loc) or "(top level)"
    got = first.get("input")
    own = first["type"] == "value_error"  # our validators quote the offending value themselves
    shown = "" if isinstance(got, dict) or first["type"] == "missing" or own else f" (got {_short(got)})"
    extra = f"; {len(error.errors()) - 1} more error(s)" if len(error.errors()) > 1 else ""
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        top = len(loc) == (3 if loc[:1] == ["agents"] else 2)  # agents.0.url / oracle.profile, not deeper
        message = f"not a setting of {noun} kind {kind!r}" if kind and top else "unknown key"
    if first["type"] == "union_tag_invalid":  # a kind no registry (nor any installed plug-in) has
        key = "agents" if loc[0] == "agents" else loc[0]
        registry = REGISTRIES[key]
        known = ", ".join(registry.kinds())
        message, shown = f"unknown {registry.noun} kind {first['ctx']['tag']!r} (known: {known})", ""
        path += ".kind"
    return " ".join(f"{origin}: {path}: {message}{shown}{extra}".split("\n"))


def _without_tag(loc: list) -> tuple[list, str, str | None]:
    """pydantic puts the chosen kind in the path (agents.0.pool.url); people wrote agents.0.url.
    Returns the path without it, the plug-in noun and the kind (None outside a kind's settings)."""
    at = 2 if loc[:1] == ["agents"] and len(loc) > 1 and isinstance(loc[1], int) else 1
    registry = REGISTRIES.get(loc[0]) if loc else None
    if registry is not None and len(loc) > at and isinstance(loc[at], str) and loc[at] in registry:
        return loc[:at] + loc[at + 1:], registry.noun, loc[at]
    return loc, "", None


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
        if _names_unknown_kind(error) and load_plugins():
            return parse_config(data, origin)
        raise ConfigError(_one_line(error, origin)) from None


def _names_unknown_kind(error: ValidationError) -> bool:
    return any(e["type"] == "union_tag_invalid" for e in error.errors())


def load_plugins() -> bool:
    """Read the plug-in entry points (amala.agents, amala.oracles, amala.surrogates) once; when they,
    or `Registry.register` calls, added kinds since the config model was built, rebuild it so that it
    accepts them. True when it was rebuilt."""
    for registry in REGISTRIES.values():
        registry.load_plugins()
    if _built_kinds() == _BUILT_WITH:
        return False
    _build_unions()
    fields = CampaignConfig.__pydantic_fields__  # new field types; a plain rebuild keeps the resolved ones
    for name, (annotation, field) in _kind_fields().items():
        fields[name] = FieldInfo.from_annotated_attribute(annotation, field)
    CampaignConfig.model_rebuild(force=True)
    return True


def _built_kinds() -> list[list[str]]:
    return [registry.kinds() for registry in REGISTRIES.values()]


def stored_config(data: dict) -> CampaignConfig:
    """A config stored by an older amala, validated. Before kinds had their own settings, every
    agent, oracle and surrogate was stored with every kind's keys (at their defaults); keys the
    stored kind does not have are dropped, anything else must still be valid."""
    data = dict(data)
    stored = [(item, registry) for key, registry in REGISTRIES.items()
              for item in (data[key] if isinstance(data.get(key), list) else [data.get(key)]) if isinstance(item, dict)]
    if any(item.get("kind") and item["kind"] not in registry for item, registry in stored):
        load_plugins()  # a campaign run with a plug-in kind: its entry point names the class
    for key, registry in REGISTRIES.items():
        items = data.get(key)
        many = isinstance(items, list)
        fixed = [_own_keys(item, registry) for item in (items if many else [items])]
        if key in data:
            data[key] = fixed if many else fixed[0]
    return CampaignConfig.model_validate(data)


def _own_keys(item, registry: Registry):
    if not isinstance(item, dict) or item.get("kind", "") not in registry:
        return item
    fields = registry[item["kind"]].Spec.model_fields
    return {k: v for k, v in item.items() if k in fields}


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
