"""Secrets out of everything amala stores or logs.

An LLM endpoint (or a proxy in front of it) may echo the request - Authorization header included -
back in its answer or its error page, and amala keeps refused answers, error messages and
provenance for diagnosis. So every text that leaves the agents for the event log, the database or
the report goes through `redact`, which removes

* the values of known secrets: those registered with `register_secret` (the LLM backend registers
  the value of its `api_key_env` when it reads it) and the values of environment variables whose
  names say they hold one (`*_API_KEY`, `*_TOKEN`, `*_SECRET`, `*_PASSWORD`, ...), so a process
  that never saw the backend (e.g. `amala report`) still knows them;
* anything that looks like a credential whatever its origin: `Bearer xxx` / `Basic xxx`,
  `Authorization: ...`, `api_key=...`-style assignments, OpenAI/Anthropic-style `sk-...` keys,
  GitHub/Hugging Face/Slack tokens, AWS access key ids, JWTs, and passwords in URLs
  (`https://user:secret@host`).

Redaction is deliberately greedy: a false positive costs a few characters of a diagnostic
message, a false negative leaks a key into a database that is shared and backed up.
"""

from __future__ import annotations

import os
import re
from typing import Any, Iterable

MASK = "[REDACTED]"
MIN_SECRET = 4  # shorter "secrets" would mangle every message and cannot be a real key anyway
MIN_ENV_SECRET = 8  # a guessed one (by its variable's name) must look like a key: not "true" or "none"

_registered: set[str] = set()

_SECRET_ENV = re.compile(r"(API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|_KEY)$", re.IGNORECASE)

_PATTERNS: list[tuple[re.Pattern, str]] = [
    # header-like forms first, so their whole value goes (including a key without a known prefix)
    (re.compile(r"(?i)\b(authorization|proxy-authorization|x-api-key|api-key)(\"?\s*[:=]\s*\"?)"
                r"(?:(bearer|basic|token)\s+)?[^\s\"',;}]+"),
     lambda m: f"{m.group(1)}{m.group(2)}{(m.group(3) + ' ') if m.group(3) else ''}{MASK}"),
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=\-]{4,}"), lambda m: f"{m.group(1)}{m.group(2)}{MASK}"),
    (re.compile(r"(?i)\b((?:api[_-]?key|access[_-]?token|auth[_-]?token|secret|password|passwd|token)"
                r"\"?\s*[:=]\s*\"?)[^\s\"'&,;}]{4,}"), lambda m: f"{m.group(1)}{MASK}"),
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}"), MASK),  # OpenAI / Anthropic style keys (also a cut prefix)
    (re.compile(r"\b(?:gh[pousr]_|github_pat_|hf_|xox[abposr]-)[A-Za-z0-9_\-]{10,}"), MASK),
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), MASK),
    (re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"), MASK),  # JWT
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^\s/@:]*:[^\s/@]*@"), lambda m: f"{m.group(1)}{MASK}@"),
]


def register_secret(value: str | None) -> None:
    """Remember a secret's value for the rest of this process (e.g. an API key read from the environment)."""
    if isinstance(value, str) and len(value.strip()) >= MIN_SECRET:
        _registered.add(value.strip())


def known_secrets(extra: Iterable[str] = ()) -> list[str]:
    """Registered secrets, `extra`, and the values of secret-named environment variables, longest
    first (so a key that contains a shorter one is removed whole)."""
    found = set(_registered)
    found.update(s for s in extra if isinstance(s, str) and len(s) >= MIN_SECRET)
    found.update(v for k, v in os.environ.items() if _SECRET_ENV.search(k) and len(v) >= MIN_ENV_SECRET)
    return sorted(found, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every known secret and every credential-looking token replaced by [REDACTED]."""
    if not isinstance(text, str) or not text:
        return text
    for secret in known_secrets(secrets):
        text = text.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_data(value: Any, secrets: Iterable[str] = ()) -> Any:
    """A copy of a JSON-like value (dicts, lists, tuples, strings) with every string redacted, keys
    included; a value stored under a secret-sounding key (`api_key`, `authorization`, ...) is masked whole."""
    secrets = known_secrets(secrets)
    return _walk(value, secrets)


def _walk(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {_walk(k, secrets): (MASK if isinstance(k, str) and _secret_key(k) and v not in (None, "")
                                    else _walk(v, secrets)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_walk(v, secrets) for v in value)
    return value


def _secret_key(key: str) -> bool:
    return bool(re.fullmatch(r"(?i).*(api[_-]?key|authorization|password|passwd|secret|token)", key.strip()))
