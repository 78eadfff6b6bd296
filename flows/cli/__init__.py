"""The `amala` command line (the console script `amala = amala.flows.cli:main`).

One module per command group; each registers its commands on the one typer app when imported, so
the order they are imported in below is the order `amala --help` lists them:

* `app`: the typer app, the global options (--debug, --version), `main` and one-line errors;
* `campaigns`: how a command finds a campaign's config, database and row (shared, no commands);
* `run`: validate, run;
* `reads`: status, report, pending (they read a campaign's database and nothing else);
* `approvals`: approve;
* `schedule`: deploy, serve;
* `benchmark`: benchmark;
* `screen`: screen, generate-eval;
* `data`: data list, data fetch;
* `library`: library build, library info, library fingerprints;
* `potential`: potential distill, potential train.
* `generator`: generator train, sample, list, card.
"""

from importlib import import_module

from amala.flows.cli.app import app, main

for _group in ("run", "reads", "approvals", "schedule", "benchmark", "screen", "data", "library", "potential",
               "generator"):
    import_module(f"amala.flows.cli.{_group}")

__all__ = ["app", "main"]
