"""What every plug-in's settings are made of, and the registry that maps a config's `kind` to a class.

A plug-in (agent, oracle, surrogate) is one class that carries its settings model as `Spec`, builds
itself from it (`from_spec`) and declares what it can do as class attributes (`representations`,
`needs_dataset`, ...): the whole contract is declared, with its defaults, on the protocols
`amala.agents.protocol.Agent`, `amala.models.protocol.Surrogate` and `amala.oracles.protocol.Oracle`,
which the plug-in classes subclass. The campaign config is assembled from these registries, so a new kind is one
module plus one registry line, and a key the chosen kind does not have fails instead of being
silently ignored.

This module is at the bottom layer (core), with pydantic as its only dependency, so that agents,
models and oracles can all define their settings next to their code without importing `loop`.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt


class Spec(BaseModel):
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


class PluginSpec(Spec):
    """Settings every plug-in kind has; a kind's own model adds `kind: Literal["..."]` and its fields."""

    kind: str


class Registry:
    """kind -> plug-in class. Built-in kinds are named as "module:Class" and imported on first use,
    so importing a registry loads no plug-in (and no torch or RDKit); third-party kinds come from
    the entry-point group (`[project.entry-points."amala.oracles"] mykind = "pkg.mod:MyOracle"`),
    read only when a config names a kind that is not built in."""

    def __init__(self, noun: str, group: str, builtin: dict[str, str]):
        self.noun, self.group = noun, group
        self._paths = dict(builtin)
        self._classes: dict[str, type] = {}
        self._plugins_read = False

    def register(self, kind: str, cls: type | str) -> None:
        """Add a kind (a class, or "module:Class"); the class's `Spec.kind` must be that literal."""
        self._classes.pop(kind, None)
        if isinstance(cls, str):
            self._paths[kind] = cls
        else:
            self._paths.pop(kind, None)
            self._classes[kind] = cls

    def unregister(self, kind: str) -> None:
        self._paths.pop(kind, None)
        self._classes.pop(kind, None)

    def kinds(self) -> list[str]:
        return sorted(set(self._paths) | set(self._classes))

    def __contains__(self, kind: str) -> bool:
        return kind in self._paths or kind in self._classes

    def __getitem__(self, kind: str) -> type:
        """The class of `kind`; an unknown kind reads the entry points once, then fails in one line."""
        if kind not in self:
            self.load_plugins()
        if kind not in self:
            raise ValueError(f"unknown {self.noun} kind {kind!r} (known: {', '.join(self.kinds())})")
        if kind not in self._classes:
            module, _, name = self._paths[kind].partition(":")
            self._classes[kind] = getattr(importlib.import_module(module), name)
        cls = self._classes[kind]
        declared = getattr(getattr(cls, "Spec", None), "model_fields", {}).get("kind")
        if declared is None or declared.default != kind:  # the config's union dispatches on that literal
            raise ValueError(f"{self.noun} kind {kind!r}: its class {cls.__name__} needs a `Spec` whose `kind` is "
                             f"Literal[{kind!r}] (got {None if declared is None else declared.default!r})")
        return cls

    def classes(self) -> dict[str, type]:
        """Every kind's class (imports them all: the config needs every kind's settings model)."""
        return {kind: self[kind] for kind in self.kinds()}

    def load_plugins(self) -> bool:
        """Register the group's entry points (once); True when that added a kind."""
        if self._plugins_read:
            return False
        self._plugins_read = True
        added = False
        for point in entry_points(group=self.group):
            if point.name not in self:
                self._paths[point.name] = point.value
                added = True
        return added


def _fractions(bounds: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    """Mole-fraction ranges of real components (`component_elements`): 0 <= low <= high <= 1 for each."""
    from amala.core.composition import InvalidComposition, component_elements

    for name, (lo, hi) in bounds.items():
        try:  # a typo such as 'Unobtanium' would otherwise be proposed, simulated or sent to a lab as a glass
            component_elements(name)
        except InvalidComposition as exc:
            raise ValueError(str(exc)) from None
        if not 0 <= lo <= hi <= 1:
            raise ValueError(f"{name}: range [{lo}, {hi}] is not within 0 <= low <= high <= 1")
    low, high = sum(lo for lo, _ in bounds.values()), sum(hi for _, hi in bounds.values())
    if bounds and (low > 1 + 1e-9 or high < 1 - 1e-9):  # else found only when the agent first proposes
        raise ValueError(f"no composition within these ranges sums to 1 (the low ends add up to {low:g}, the high "
                         f"ends to {high:g})")
    return bounds


Bounds = Annotated[dict[Text, tuple[Float, Float]], AfterValidator(_fractions)]  # oxide -> mole-fraction range
Quota = Annotated[Int, Field(ge=1, le=10_000, description="proposals per iteration; at most 10,000, since every "
                             "proposal is featurised and scored each iteration")]


class AgentSpec(PluginSpec):
    """Settings of every agent kind; what a kind's class declares is listed on `amala.agents.protocol.Agent`.
    The methods say what the config and the checks before a run need to know of any kind's settings."""

    name: Text | None = None

    def composition_bounds(self) -> dict[str, tuple[float, float]] | None:
        """The mole-fraction range per component the agent keeps to ({} when none is set); None for a
        kind without a `bounds` setting."""
        return None

    def local_folders(self) -> dict[str, str | None]:
        """Setting -> the folder on this machine the agent loads when built (a local model), so a
        missing one is found before a run; none by default."""
        return {}

