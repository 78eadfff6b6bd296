"""The answer a person gives to a batch waiting for approval.

`BatchDecision` is the form: the flow pauses with it as Prefect run input, so the Prefect UI draws
it, and `amala approve` fills it from the terminal. It is a plain pydantic model (no Prefect here);
`Campaign.review` turns it into stored facts: which candidates were rejected or added, the new
batch size, who decided and why.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class BatchDecision(BaseModel):
    approve: bool = Field(True, description="false rejects the whole batch (nothing is evaluated)")
    reject: list[str] = Field(default_factory=list, description="candidate ids to leave out (see `amala pending`)")
    add: list[str] = Field(default_factory=list,
                           description="candidates to evaluate as well: repeat-unit SMILES with [Cu]/[Au] ends, "
                                       "or compositions like 'Li2O:0.3;SiO2:0.7'")
    batch_size: int | None = Field(None, ge=1, description="keep this many (best-ranked first; more are chosen "
                                                           "by the acquisition function)")
    comment: str = Field("", max_length=2000)
    by: str = Field("", max_length=100, description="who decides")
    via: str = Field("ui", max_length=20, description="where the answer came from (ui, cli, timeout, store)")

    @property
    def action(self) -> str:
        if not self.approve:
            return "rejected"
        return "edited" if (self.reject or self.add or self.batch_size) else "approved"


def timeout_decision(policy: str, seconds: float) -> BatchDecision | None:
    """What the timeout policy decides when nobody answered in time; None means stop the run."""
    if policy == "stop":
        return None
    return BatchDecision(approve=policy == "approve", by="timeout policy", via="timeout",
                         comment=f"no answer within {seconds:g} s; policy '{policy}'")
