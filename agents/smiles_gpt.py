"""A small GPT-2, trained from scratch on repeat-unit SMILES, that proposes new repeat units.

PolyGen-style generation: a decoder-only transformer (transformers' `GPT2LMHeadModel`, configured
small: 4 layers, 4 heads, 128 dimensions) learns the pool's SMILES token by token; a conditioning
token after <bos> (<high>/<low> conductivity, or <any>) lets it be asked for the kind of polymer a
campaign wants. It is pre-trained on the known pool and fine-tuned on the campaign's best
candidates; nothing is downloaded — the weights start random and live in a checkpoint folder.
Samples pass through `validity.ProposalFilter` like every agent's proposals.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Sequence

import numpy as np
import torch
from pydantic import Field

from amala.agents.protocol import Agent, Proposal, ProposalContext
from amala.agents.smiles_tokenizer import SmilesTokenizer
from amala.core.plugins import AgentSpec, Int, Quota, Text
from amala.core.representations import Representation
from amala.core.validity import ProposalFilter


class GPTSpec(AgentSpec):
    kind: Literal["gpt"] = "gpt"
    n: Quota = 64
    checkpoint: Text | None = Field(None, description="checkpoint folder to load, or to save the pre-trained model")
    epochs: Int = Field(35, ge=1, le=1000, description="pre-training epochs over the pool when no checkpoint exists "
                        "(35: >= 90% valid samples, docs/benchmarks/generators.md; more than 1000 is days of CPU)")
    finetune_steps: Int = Field(20, ge=0, le=10_000, description="fine-tuning steps on the campaign's best, per "
                                "iteration (bounded: they run inside every iteration)")
    condition: Literal["<high>", "<low>", "<any>"] = "<any>"


def small_config(vocab_size: int, max_tokens: int = 64, layers: int = 4, heads: int = 4, width: int = 128):
    from transformers import GPT2Config

    return GPT2Config(vocab_size=vocab_size, n_positions=max_tokens, n_embd=width, n_layer=layers, n_head=heads,
                      bos_token_id=1, eos_token_id=2, pad_token_id=0)


class SmilesGPT:
    def __init__(self, tokenizer: SmilesTokenizer, model=None, max_tokens: int = 64, seed: int = 0, **config):
        from transformers import GPT2LMHeadModel
        from transformers.utils import logging

        logging.set_verbosity_error()  # its padding and loss-type hints do not apply to this setup

        torch.manual_seed(seed)
        self.tokenizer, self.max_tokens = tokenizer, max_tokens
        self.model = model or GPT2LMHeadModel(small_config(len(tokenizer), max_tokens, **config))

    @classmethod
    def for_smiles(cls, smiles: Sequence[str], **kwargs) -> "SmilesGPT":
        return cls(SmilesTokenizer.fit(smiles), **kwargs)

    def _batch(self, smiles: Sequence[str], conditions: Sequence[str]) -> torch.Tensor:
        ids = [self.tokenizer.encode(s, c)[:self.max_tokens] for s, c in zip(smiles, conditions)]
        width = max(map(len, ids))
        return torch.tensor([row + [0] * (width - len(row)) for row in ids])

    def train(self, smiles: Sequence[str], conditions: Sequence[str] | None = None, epochs: int = 10,
              batch_size: int = 64, lr: float = 1e-3, seed: int = 0, max_steps: int | None = None,
              progress=None) -> list[float]:
        """Next-token cross-entropy over the SMILES (padding ignored); returns the loss per step."""
        conditions = list(conditions or ["<any>"] * len(smiles))
        rng = np.random.default_rng(seed)
        optimiser = torch.optim.AdamW(self.model.parameters(), lr=lr)
        self.model.train()
        losses: list[float] = []
        for _ in range(epochs):
            order = rng.permutation(len(smiles))
            for start in range(0, len(order), batch_size):
                part = order[start:start + batch_size]
                ids = self._batch([smiles[i] for i in part], [conditions[i] for i in part])
                labels = ids.masked_fill(ids == 0, -100)
                loss = self.model(input_ids=ids, attention_mask=(ids != 0).long(), labels=labels).loss
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                losses.append(loss.item())
                if progress is not None:
                    progress(len(losses), losses[-1])
                if max_steps is not None and len(losses) >= max_steps:
                    self.model.eval()
                    return losses
        self.model.eval()
        return losses

    @torch.no_grad()
    def sample(self, n: int, condition: str = "<any>", temperature: float = 1.0, seed: int = 0,
               batch_size: int = 256) -> list[str]:
        """n raw SMILES strings (not yet validated)."""
        torch.manual_seed(seed)
        self.model.eval()
        prompt = [self.tokenizer.id("<bos>"), self.tokenizer.id(condition)]
        out: list[str] = []
        while len(out) < n:
            k = min(batch_size, n - len(out))
            ids = torch.tensor([prompt] * k)
            generated = self.model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=True,
                                            temperature=temperature, top_k=0, max_length=self.max_tokens,
                                            eos_token_id=self.tokenizer.id("<eos>"),
                                            pad_token_id=self.tokenizer.id("<pad>"))
            out += [self.tokenizer.decode(row[len(prompt):].tolist()) for row in generated]
        return out

    def save(self, folder: Path) -> Path:
        folder = Path(folder)
        self.model.save_pretrained(folder)
        self.tokenizer.save(folder)
        return folder

    @classmethod
    def load(cls, folder: Path) -> "SmilesGPT":
        from transformers import GPT2LMHeadModel

        model = GPT2LMHeadModel.from_pretrained(folder, local_files_only=True)
        return cls(SmilesTokenizer.load(folder), model=model, max_tokens=model.config.n_positions)


def pretrained(pool: Sequence[str], checkpoint: str | Path | None = None, epochs: int = 35) -> SmilesGPT:
    """The checkpoint if it exists, else a GPT trained from scratch on the pool (and saved there)."""
    if checkpoint is not None and (Path(checkpoint) / "config.json").is_file():
        return SmilesGPT.load(Path(checkpoint))
    gpt = SmilesGPT.for_smiles(pool)
    gpt.train(list(pool), epochs=epochs)
    if checkpoint is not None:
        gpt.save(Path(checkpoint))
    return gpt


class GPTAgent(Agent):
    """Proposes by sampling the GPT, after fine-tuning it on the campaign's best candidates so far."""

    Spec = GPTSpec
    representations = (Representation.SMILES,)
    needs_dataset = True  # pre-trained on the dataset's molecules

    @classmethod
    def from_spec(cls, spec: GPTSpec, pool=None, representation="smiles", workdir=None) -> GPTAgent:
        name = spec.name or "gpt"
        folder = None if workdir is None else Path(workdir) / "checkpoints" / name
        base = spec.checkpoint or (None if folder is None else folder / "pretrained")  # a resume reuses it
        return cls(pretrained(pool, base, spec.epochs), n=spec.n, condition=spec.condition,
                   finetune_steps=spec.finetune_steps, name=name, checkpoints=folder,
                   base={"checkpoint": None if base is None else str(base), "n_train": len(pool),
                         "epochs": spec.epochs})

    def __init__(self, gpt: SmilesGPT, n: int = 50, condition: str = "<high>", temperature: float = 1.0,
                 finetune_steps: int = 20, name: str = "gpt", checkpoints: str | Path | None = None,
                 base: dict | None = None):
        """`checkpoints`: folder where each fine-tuned state is saved (one sub-folder per iteration),
        so every candidate can be traced to the exact weights that sampled it; `base` describes the
        pre-trained model (its checkpoint, training-set size), the first model version."""
        self.gpt, self.n, self.condition, self.temperature, self.name = gpt, n, condition, temperature, name
        self.finetune_steps = finetune_steps
        self.checkpoints = Path(checkpoints) if checkpoints else None
        self.last_rejections: dict[str, int] = {}
        # the model version behind the next proposals; returned once, with the first proposal it makes
        self.model_record: dict | None = {"kind": "gpt", "agent": name, "pretrained": True, "condition": condition,
                                          **(base or {"checkpoint": None, "n_train": 0})}
        self._record_is_new = True

    def fine_tune(self, context: ProposalContext, top: int = 50, steps: int = 20) -> None:
        best = sorted(context.evaluated, key=lambda cv: cv[1], reverse=True)[:top]
        smiles = [c.representation for c, _ in best if c.kind == Representation.SMILES]
        if not smiles:
            return
        self.gpt.train(smiles, [self.condition] * len(smiles), epochs=steps, max_steps=steps,
                       seed=context.seed + context.iteration)
        folder = self.checkpoints / f"iteration-{context.iteration:04d}" if self.checkpoints else None
        if folder is not None:
            self.gpt.save(folder)
        self.model_record = {"kind": "gpt", "agent": self.name, "n_train": len(smiles), "finetune_steps": steps,
                             "condition": self.condition, "checkpoint": None if folder is None else str(folder)}
        self._record_is_new = True

    def propose(self, context: ProposalContext, n: int | None = None) -> Proposal:
        wanted = n or self.n
        if self.finetune_steps and context.evaluated:
            self.fine_tune(context, steps=self.finetune_steps)
        gate = ProposalFilter(context.known_keys)
        seed = int(context.rng(self.name).integers(2**31))
        raw = self.gpt.sample(3 * wanted, self.condition, self.temperature, seed=seed)
        checkpoint = (self.model_record or {}).get("checkpoint")
        found = gate(raw, self.name, limit=wanted, metadata={"condition": self.condition, "checkpoint": checkpoint})
        self.last_rejections = dict(gate.rejected)
        event = ("info", f"{self.name}: {len(raw)} sampled, {len(found)} accepted; rejected by reason "
                         f"{dict(gate.rejected) or 'none'}")
        version, self._record_is_new = (self.model_record if self._record_is_new else None), False
        return Proposal(found, [event], version)
