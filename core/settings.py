"""amala's environment variables, in one place: their names, types, defaults and one-line errors.

Why here, in `oracles`: the import layers are agents < models < oracles < loop < flows, and the
lowest layer that reads one of these variables is `oracles.datasets` (AMALA_DATA_DIR); `loop` and
`flows` import this module from here. Read with `settings()` at each use, never cached at import,
so a variable set after start-up (tests' monkeypatch, a parent process) counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, PositiveFloat, PositiveInt, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(ValueError):
    """An environment variable with a value amala cannot use; the message is one line naming it."""


def _flag(value):
    """AMALA_DEBUG=1, yes, 2 or anything else non-empty is on (as before there were settings); 0, false,
    no, off and empty are off."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no", "off")
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AMALA_", env_ignore_empty=True, extra="ignore")

    db_url: str | None = None  # a campaign's database; wins over the config's `database`
    data_dir: Path | None = None  # local dataset copies and the `amala data fetch` cache
    home: Path | None = None  # the index of known campaigns; default $XDG_DATA_HOME/amala
    debug: Annotated[bool, BeforeValidator(_flag)] = False  # tracebacks instead of one-line errors
    lease_ttl: PositiveFloat = 60.0  # seconds without a heartbeat after which a run counts as gone
    prefect_startup_seconds: PositiveInt = 180  # how long to wait for the temporary Prefect API
    threads: PositiveInt | None = None  # threads of the loop's fits and acquisition (default: the free cores)

    @property
    def data_folder(self) -> Path:
        return self.data_dir or Path.home() / ".cache" / "amala"


def env_name(field: str) -> str:
    return f"AMALA_{field.upper()}"


def settings() -> Settings:
    """The current environment's settings; a bad value raises SettingsError naming the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        name = env_name(str(error["loc"][0])) if error["loc"] else "AMALA_*"
        raise SettingsError(f"{name}: {error['input']!r} is not valid ({error['msg'].lower()})") from None
