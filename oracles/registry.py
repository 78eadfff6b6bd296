"""The map from config names to oracle classes (`ORACLES`, `build_oracle`). The interface every
oracle meets is in `protocol`; it is re-exported here for code that imports it from the registry.

Each kind's class carries its settings (`Spec`, a subclass of `OracleSpec`), its capabilities
(`representations`, `needs_dataset`, ... as declared on `Oracle`) and `from_spec`; the classes are
imported on first use."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from amala.core.plugins import Float, Int, PluginSpec, Registry, Text
from amala.oracles.protocol import Oracle, OracleMode

__all__ = ["ORACLES", "Oracle", "OracleMode", "OracleSpec", "Properties", "PropertiesSpec", "TransientOracleError",
           "build_oracle"]

# The `properties` setting of oracles that give several: which ones (each kind says its default).
Properties = Annotated[list[Text] | None, Field(min_length=1, max_length=64)]


class TransientOracleError(RuntimeError):
    """Raised (never for a bad candidate) when a retry may succeed: a busy queue, a lost node."""


class OracleSpec(PluginSpec):
    """Settings of every oracle kind; what a kind's class declares is listed on `amala.oracles.protocol.Oracle`.
    The methods say what the config and the checks before a run need to know of any kind's settings."""

    name: Text | None = None

    retries: Int = Field(2, ge=0, le=100, description="retries of an evaluation that raised (a transient error)")
    retry_delay_seconds: Float = Field(10.0, ge=0, le=86400, description="pause before a retry (at most a day)")

    def asked_properties(self) -> list[str] | None:
        """The properties the config asks for (`properties`); None: the kind's default set, or a kind
        without a `properties` setting."""
        return None

    def produces(self) -> list[str] | None:
        """The properties an evaluation can hold, when that is a fixed set (the campaign config refuses
        an objective outside it); None: whatever the oracle reports."""
        return None

    def describe(self) -> str:
        """These settings in a few words, for messages (a simulation oracle names its profile)."""
        return f"{self.kind} oracle"

    @staticmethod
    def component_problem(name: str) -> str | None:
        """Why a campaign component cannot be evaluated (e.g. its glass cell cannot be built), None when it can."""
        return None



class PropertiesSpec(OracleSpec):
    """Settings of a kind that gives several properties and lets the config choose them (`properties`);
    each kind redeclares the field with its own default's description."""

    properties: Properties = None

    def asked_properties(self) -> list[str] | None:
        return self.properties

ORACLES = Registry("oracle", "amala.oracles", {
    "lookup": "amala.oracles.tables.lookup:LookupOracle",
    "formulation_lookup": "amala.oracles.tables.formulation_lookup:FormulationLookupOracle",
    "glass_lookup": "amala.oracles.tables.glass_lookup:GlassLookupOracle",
    "md": "amala.oracles.md.oracle:GlassMDOracle",
    "emulator": "amala.oracles.tables.emulator:EmulatorOracle",
    "queue": "amala.oracles.tables.queue:QueueOracle",
    "mlip": "amala.oracles.mlip.oracle:MLIPOracle",
})


def build_oracle(spec, table=None, workdir=None, seed: int = 0) -> Oracle:
    """Instantiate the oracle a config names (`spec.kind`)."""
    cls = ORACLES[spec.kind]
    if cls.needs_dataset and table is None:
        raise ValueError(f"oracle.kind={spec.kind} needs a dataset (data.dataset or data.path)")
    return cls.from_spec(spec, table=table, workdir=workdir, seed=seed)
