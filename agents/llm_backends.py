"""Where the LLM agent's text comes from: an OpenAI-compatible chat-completions endpoint, or a
local transformers causal language model loaded from a folder.

Both take chat messages and return the answer text, or raise `LLMUnavailable` with a one-line
reason (timeout, HTTP error, a malformed envelope). The API key is read from the environment at
call time and only ever put in the Authorization header: it is never stored, returned or logged.
Because a server may still echo it back (in an answer, a refusal, an error), the key is registered
with `amala.core.redaction` as soon as it is read, and every message and description leaving a
backend is redacted; `secrets()` hands the key to callers that redact what they store.
"""

from __future__ import annotations

import os
from pathlib import Path

from amala.core.redaction import redact, redact_data, register_secret


class LLMUnavailable(RuntimeError):
    """No usable answer this time; the message says why in one line (never the API key)."""


class ChatCompletions:
    """Any server speaking the OpenAI chat-completions wire format (OpenAI, vLLM, llama.cpp, Ollama)."""

    kind = "openai"

    def __init__(self, url: str, model: str, api_key_env: str = "OPENAI_API_KEY", timeout_seconds: float = 60.0,
                 temperature: float = 0.7, max_tokens: int = 1024):
        self.url = url.rstrip("/")
        if not self.url.endswith("/chat/completions"):
            self.url += "/chat/completions"
        self.model, self.api_key_env = model, api_key_env
        self.timeout, self.temperature, self.max_tokens = timeout_seconds, temperature, max_tokens
        self.secrets()  # known to the redactor from the start, before any answer could echo it

    def secrets(self) -> list[str]:
        """The API key's current value (registered for redaction), as a list for `redact`."""
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        register_secret(key)
        return [key] if key else []

    def complete(self, messages: list[dict], seed: int = 0) -> str:
        import httpx

        headers = {"Content-Type": "application/json"}
        secrets = self.secrets()
        if secrets:
            headers["Authorization"] = f"Bearer {secrets[0]}"
        body = {"model": self.model, "messages": messages, "temperature": self.temperature,
                "max_tokens": self.max_tokens, "seed": seed}
        shown = redact(self.url, secrets)
        try:
            response = httpx.post(self.url, json=body, headers=headers, timeout=self.timeout)
        except httpx.TimeoutException:
            raise LLMUnavailable(f"no answer from {shown} within {self.timeout:g} s") from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise LLMUnavailable(f"cannot reach {shown}: {type(exc).__name__}") from None
        except (ValueError, TypeError) as exc:  # e.g. a key with characters no HTTP header can carry
            raise LLMUnavailable(f"cannot send a request to {shown}: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise LLMUnavailable(f"{shown} answered HTTP {response.status_code}")
        try:
            return str(response.json()["choices"][0]["message"]["content"])
        except (ValueError, KeyError, IndexError, TypeError):
            raise LLMUnavailable(f"{shown} did not answer in the chat-completions format") from None

    def describe(self) -> dict:
        """What a candidate's provenance records about the backend (redacted: a URL may carry a key)."""
        return redact_data({"backend": self.kind, "model": self.model, "url": self.url}, self.secrets())


class LocalCausalLM:
    """A transformers causal LM from a folder (save_pretrained layout), run on this machine."""

    kind = "local"

    def __init__(self, path: str | Path, max_new_tokens: int = 512, temperature: float = 0.7):
        self.path, self.max_new_tokens, self.temperature = Path(path), max_new_tokens, temperature
        self._model = self._tokenizer = None

    def _load(self):
        if self._model is None:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            if not self.path.is_dir():
                raise LLMUnavailable(f"agents[].path: no model folder at {self.path}")
            try:
                self._tokenizer = AutoTokenizer.from_pretrained(self.path)
                self._model = AutoModelForCausalLM.from_pretrained(self.path).eval()
            except (OSError, ValueError) as exc:
                first = (str(exc).splitlines() or [type(exc).__name__])[0]
                raise LLMUnavailable(redact(f"cannot load a causal LM from {self.path}: {first}")) from None
        return self._tokenizer, self._model

    def complete(self, messages: list[dict], seed: int = 0) -> str:
        import torch

        tokenizer, model = self._load()
        if getattr(tokenizer, "chat_template", None):
            prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        else:
            prompt = "\n\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\n\nassistant: "
        ids = tokenizer(prompt, return_tensors="pt").input_ids
        room = getattr(model.config, "max_position_embeddings", None) or getattr(model.config, "n_positions", 2048)
        ids = ids[:, -max(room - self.max_new_tokens, 1):]  # keep the end of an over-long prompt (the request)
        torch.manual_seed(seed)
        with torch.no_grad():
            out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=self.max_new_tokens,
                                 do_sample=True, temperature=self.temperature,
                                 pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
        return tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)

    def secrets(self) -> list[str]:
        return []  # a local model needs no key

    def describe(self) -> dict:
        return redact_data({"backend": self.kind, "model": str(self.path)})
