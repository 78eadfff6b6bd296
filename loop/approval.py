"""The answer a person gives to a batch waiting for approval.

Two models, on purpose. `BatchDecision` is the decision as the campaign stores and applies it
(`Campaign.review`): resolved candidate ids, an optional new batch size, who decided and via what.
`ApprovalForm` is what a person fills in: the flow pauses with it as Prefect run input, so the
Prefect UI draws it as a form and `amala approve` fills the same fields from a terminal. The form
hides the internal `via` field and shows the batch size as a plain integer field; its answer is
never trusted: `check_answer` turns it into a decision or into the reasons it was refused, so a
bad answer is asked again instead of being evaluated. Plain pydantic, no Prefect here.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator
from pydantic.json_schema import SkipJsonSchema

from amala.loop.states import Approval

if TYPE_CHECKING:  # campaign.py imports this module
    from amala.loop.campaign import Campaign
    from amala.loop.store import Batch


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
    def action(self) -> Approval:
        if not self.approve:
            return Approval.REJECTED
        return Approval.EDITED if (self.reject or self.add or self.batch_size) else Approval.APPROVED


def _drop_default(schema: dict[str, Any]) -> None:
    """An optional field without a JSON-schema default: Prefect's server then accepts null for it
    (`amala approve` sends null for "keep the size") while the UI draws a plain integer input."""
    schema.pop("default", None)


class ApprovalForm(BaseModel):
    """The approval form (Prefect run input). Every field's JSON schema is a plain type the Prefect
    UI can draw; extra keys are ignored rather than forbidden, because `amala approve` sends the
    hidden `via` and the server checks answers against this schema."""

    model_config = ConfigDict(extra="ignore")

    approve: bool = Field(True, title="Approve the batch",
                          description="untick to reject the whole batch (nothing is evaluated, another is selected)")
    reject: list[str] = Field(default_factory=list, title="Leave out",
                              description="candidates not to evaluate: their id or rank from the table above")
    add: list[str] = Field(default_factory=list, title="Add",
                           description="candidates to evaluate as well: repeat-unit SMILES with [Cu]/[Au] ends, "
                                       "or compositions like 'Li2O:0.3;SiO2:0.7'")
    batch_size: Annotated[int | None, WithJsonSchema({"type": "integer", "minimum": 0})] = Field(
        None, ge=0, title="Batch size", json_schema_extra=_drop_default,
        description="empty or 0 keeps the batch as selected; fewer keeps the best-ranked, more lets the "
                    "acquisition function choose the rest")
    comment: str = Field("", max_length=2000, title="Comment", description="why (stored with the decision)")
    by: str = Field("", max_length=100, title="Your name")
    via: SkipJsonSchema[str] = "ui"  # set by `amala approve` ("cli"); the UI never offers it

    @field_validator("reject", "add", mode="before")
    @classmethod
    def _list(cls, value):
        """The UI may send null or blank entries for an untouched list: they mean nothing."""
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        return [v.strip() for v in value if isinstance(v, str) and v.strip()] if isinstance(value, list) else value

    @field_validator("comment", "by", mode="before")
    @classmethod
    def _text(cls, value):
        return "" if value is None else value


def rank_ids(batch: Batch) -> dict[str, str]:
    """Rank (as text) -> candidate id, in the order `amala pending` and the form show them."""
    return {str(rank): c.key for rank, c in enumerate(batch.candidates)}


def resolve_rejects(batch: Batch, texts: list[str]) -> tuple[list[str], dict[str, str]]:
    """Ids or ranks -> the batch's candidate ids (each once), and the unknown ones with reasons."""
    in_batch, by_rank = {c.key for c in batch.candidates}, rank_ids(batch)
    keys, refused = [], {}
    for text in texts:
        key = text if text in in_batch else by_rank.get(text)
        if key is None:
            refused[text] = f"not a candidate of batch {batch.index} (give an id or a rank from the table)"
        elif key not in keys:
            keys.append(key)
    return keys, refused


def check_answer(campaign: Campaign, batch: Batch, form: ApprovalForm) -> tuple[BatchDecision | None, dict[str, str]]:
    """The form's answer as a decision, or None with every reason it was refused (what was
    entered -> why). Additions pass the same rules as agents' proposals; nothing is stored."""
    reject, refused = resolve_rejects(batch, form.reject)
    _, bad_additions = campaign.check_additions(form.add, by=form.by)
    refused.update(bad_additions)
    if refused:
        return None, refused
    via = "cli" if form.via == "cli" else "ui"  # only the terminal says where it is; anything else is the UI
    return BatchDecision(approve=form.approve, reject=reject, add=form.add, batch_size=form.batch_size or None,
                         comment=form.comment, by=form.by.strip() or "anonymous", via=via), {}


def form_answer(decision: BatchDecision) -> dict[str, Any]:
    """A decision as the form's answer (what `amala approve` hands to a paused flow run)."""
    return ApprovalForm(**decision.model_dump()).model_dump()


def batch_rows(campaign: Campaign, batch: Batch) -> list[dict[str, Any]]:
    """The waiting batch as a person judges it: rank, id, representation, agent and the model's
    prediction (transformed objective, natural direction) with the acquisition value."""
    keys = [c.key for c in batch.candidates]
    by_key = {}
    for iteration, selection, candidate in campaign.store.selections(campaign.id):
        if iteration.id == batch.iteration_id and candidate.key in keys:
            by_key[candidate.key] = (selection, candidate)
    rows = []
    for rank, candidate in enumerate(batch.candidates):
        selection, row = by_key.get(candidate.key, (None, None))
        rows.append({"rank": rank, "id": candidate.key, "representation": candidate.representation,
                     "agent": row.agent if row is not None else candidate.agent,
                     "predicted": getattr(selection, "predicted_mean", None),
                     "std": getattr(selection, "predicted_std", None),
                     "acquisition": getattr(selection, "acquisition_value", None)})
    return rows


def fmt_prediction(mean: float | None, std: float | None) -> str:
    if mean is None or not math.isfinite(mean):
        return "— (initial design: no model yet)"
    return f"{mean:.3f} ± {std:.3f}" if std is not None and math.isfinite(std) else f"{mean:.3f}"


def fmt_number(value: float | None) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.3g}"


def md_code(text: str) -> str:
    """Text as inline code in a Markdown table cell (a pipe would split the cell)."""
    return "`" + str(text).replace("`", "'").replace("|", "\\|") + "`"


def md_text(text: str) -> str:
    """Plain text in a Markdown table cell: pipes escaped, newlines flattened."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def batch_table_markdown(campaign: Campaign, batch: Batch) -> str:
    """The ranked batch as a Markdown table (the approval form's description). What a person
    judges comes first: the Prefect UI's form is narrow, and the last columns scroll sideways."""
    lines = ["| rank | predicted ± std | acquisition | representation | agent | id |", "|---:|---:|---:|---|---|---|"]
    for r in batch_rows(campaign, batch):
        lines.append(f"| {r['rank']} | {fmt_prediction(r['predicted'], r['std'])} | {fmt_number(r['acquisition'])} "
                     f"| {md_code(r['representation'])} | {md_text(r['agent'])} | {md_code(r['id'])} |")
    return "\n".join(lines)


def form_description(campaign: Campaign, batch: Batch, refused: dict[str, str] | None = None,
                     seconds_left: float | None = None) -> str:
    """What the form shows above its fields: the refusal of the last answer (if any), the batch
    table, and how to answer, so nobody needs `amala pending` to decide. Compact and table first:
    the Prefect UI gives the description a small scroll box when the window is not tall."""
    spec, name = campaign.config.approval, campaign.config.name
    parts = []
    if refused:
        parts += ["**⚠ The last answer was refused; nothing was evaluated. Correct it and submit again:**", "",
                  "\n".join(f"- {md_code(text)}: {md_text(reason)}" for text, reason in refused.items()), ""]
    strategy = campaign.store.iteration(batch.iteration_id).strategy
    left = spec.timeout_seconds if seconds_left is None else seconds_left
    parts += [f"**Campaign `{name}`, batch {batch.index}: {len(batch.candidates)} candidates wait for approval** "
              f"(chosen by {md_text(strategy)}, best first; predicted: {md_text(campaign.objective.label)})", "",
              batch_table_markdown(campaign, batch), "",
              "Submit as is to approve. **Leave out** takes ids or ranks, **Add** SMILES or compositions "
              "(checked like agents' proposals), **Batch size** resizes the batch; untick **Approve** to reject "
              f"it all. Terminal: `amala pending {name}`, `amala approve {name}`. Without a valid answer within "
              f"{left:.0f} s the policy `{spec.on_timeout}` applies."]
    return "\n".join(parts)


def timeout_decision(policy: str, seconds: float) -> BatchDecision | None:
    """What the timeout policy decides when nobody answered in time; None means stop the run."""
    if policy == "stop":
        return None
    return BatchDecision(approve=policy == "approve", by="timeout policy", via="timeout",
                         comment=f"no answer within {seconds:g} s; policy '{policy}'")
