"""SMILES-aware tokens for the generative model: atoms in brackets, two-letter elements, ring
closures and bonds each as one token (the regular expression of Schwaller et al., Molecular
Transformer, 2019).

A character-level model would have to learn that "Cl" is one atom and "[Cu]" one end marker; a
byte-pair tokenizer trained on English would split them anywhere. Whole chemical tokens make every
sampled sequence a sequence of atoms and bonds, which is most of what validity needs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterable

PATTERN = re.compile(r"(\[[^\]]+]|Br?|Cl?|N|O|S|P|F|I|b|c|n|o|s|p|\(|\)|\.|=|#|-|\+|\\|/|:|~|@|\?|>|\*|\$|%\d{2}|\d)")
SPECIAL = ["<pad>", "<bos>", "<eos>", "<unk>"]
CONDITIONS = ["<high>", "<low>", "<any>"]  # PolyGen-style property conditioning


class TokenizationError(ValueError):
    """A SMILES string with characters no token covers."""


def split(smiles: str) -> list[str]:
    tokens = PATTERN.findall(smiles)
    if "".join(tokens) != smiles:
        raise TokenizationError(f"SMILES {smiles!r} has characters outside the SMILES token set")
    return tokens


class SmilesTokenizer:
    def __init__(self, vocabulary: list[str]):
        self.vocabulary = vocabulary
        self.index = {token: i for i, token in enumerate(vocabulary)}

    @classmethod
    def fit(cls, smiles: Iterable[str]) -> "SmilesTokenizer":
        tokens = sorted({t for s in smiles for t in split(s)})
        return cls(SPECIAL + CONDITIONS + tokens)

    def __len__(self) -> int:
        return len(self.vocabulary)

    def id(self, token: str) -> int:
        return self.index.get(token, self.index["<unk>"])

    def encode(self, smiles: str, condition: str = "<any>") -> list[int]:
        return [self.id("<bos>"), self.id(condition)] + [self.id(t) for t in split(smiles)] + [self.id("<eos>")]

    def decode(self, ids: Iterable[int]) -> str:
        """Tokens up to <eos>, special and condition tokens left out."""
        out = []
        for i in ids:
            token = self.vocabulary[int(i)]
            if token == "<eos>":
                break
            if token not in SPECIAL and token not in CONDITIONS:
                out.append(token)
        return "".join(out)

    def save(self, folder: Path) -> None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / "vocabulary.json").write_text(json.dumps(self.vocabulary))

    @classmethod
    def load(cls, folder: Path) -> "SmilesTokenizer":
        return cls(json.loads((Path(folder) / "vocabulary.json").read_text()))
