"""amala for Python users: the few names a script or a notebook needs.

    import amala
    config = amala.load_config("configs/demo.yaml")
    result = amala.run(config, max_iterations=2)   # the Prefect flow `amala run` runs
    campaign = amala.Campaign(config)              # or step through the loop by hand

Everything else lives in the subpackages, lowest layer first: `amala.core` (the domain kernel and the
plug-in contract), `amala.agents`, `amala.models`, `amala.oracles`, `amala.loop`, `amala.flows`. The names
here are loaded on first use, so `import amala` costs nothing (no torch, no Prefect).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("amala")
except PackageNotFoundError:  # a source tree on sys.path without an install
    __version__ = "0+unknown"

__all__ = ["Campaign", "__version__", "load_config", "run"]


def load_config(path):
    """The campaign config of a YAML file, validated (`amala.loop.config.CampaignConfig`); a bad file
    raises `ConfigError` with one line naming the key."""
    from amala.loop.config import load_config as _load

    return _load(path)


def run(config, max_iterations: int | None = None, until: str | None = None, timezone: str | None = None) -> dict:
    """Run (or resume) a campaign as `amala run` does, through its Prefect flow, and return its summary
    (`campaign`, `stop`, `final`, `evaluations`, `best`, `database`). `config` is a path, a dict or a
    `CampaignConfig`."""
    from amala.flows.campaign_flow import campaign_flow
    from amala.flows.prefect_api import prefect_api

    with prefect_api():
        return campaign_flow(config, max_iterations=max_iterations, until=until, timezone=timezone)


def __getattr__(name: str):
    if name == "Campaign":
        from amala.loop.campaign import Campaign

        return Campaign
    raise AttributeError(f"module 'amala' has no attribute {name!r}")
