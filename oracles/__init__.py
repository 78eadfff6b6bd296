"""Oracles evaluate candidates. An oracle never raises for a bad candidate: it returns a failed
`Evaluation` with the reason, so one bad molecule never stops a campaign."""

from amala.oracles.evaluation import Evaluation, Measurement
from amala.oracles.lookup import LookupOracle
from amala.oracles.registry import Oracle, build_oracle

__all__ = ["Evaluation", "LookupOracle", "Measurement", "Oracle", "build_oracle"]
