"""Oracles evaluate candidates. An oracle never raises for a bad candidate: it returns a failed
`Evaluation` with the reason, so one bad molecule never stops a campaign.

`LookupOracle` is loaded on first use: it needs pandas, which commands that only read the store
(`amala status`, `pending`, `approve`) should not pay for."""

from amala.core.evaluation import Evaluation, Measurement
from amala.oracles.registry import Oracle, build_oracle

__all__ = ["Evaluation", "LookupOracle", "Measurement", "Oracle", "build_oracle"]


def __getattr__(name: str):
    if name == "LookupOracle":
        from amala.oracles.tables.lookup import LookupOracle

        return LookupOracle
    raise AttributeError(f"module 'amala.oracles' has no attribute {name!r}")
