"""`amala library build|info|fingerprints`: candidate libraries built from amala's generators, checked,
and their fingerprint caches."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer

from amala.flows.cli.app import app, console, err, fail, os_text

library_app = typer.Typer(no_args_is_help=True, help="Candidate libraries: build one from amala's generators, "
                          "inspect one, cache its fingerprints.")
app.add_typer(library_app, name="library")


def _counter(label: str, total: int | None):
    """A rich progress bar on a terminal (None elsewhere): the callback takes the rows done so far."""
    if not sys.stderr.isatty():
        return None, None
    from rich.progress import Progress

    bar = Progress(console=err, transient=True)
    task = bar.add_task(label, total=total)
    return bar, lambda done: bar.update(task, completed=done)


WORKERS_HELP = "worker processes for RDKit (1 to 4 per CPU core, at most 64)"


@library_app.command("build")
def library_build(out: Path = typer.Argument(..., help="library to write: .csv or .parquet"),
                  n: int = typer.Option(..., "--n", help="rows: valid, canonical, unique repeat units (at most "
                                        "10,000,000: every row is kept in memory as a parent)"),
                  seed: int = typer.Option(0, help="same seed and N: the same file, byte for byte"),
                  source: str = typer.Option("mutation", "--from", help="mutation, gpt or both"),
                  seeds_file: Optional[Path] = typer.Option(None, help="starting polymers: a library file or one "
                                                            "SMILES a line (default: ~20 common electrolyte hosts)"),
                  gpt_checkpoint: Optional[Path] = typer.Option(None, help="--from gpt/both: load this GPT "
                                                                "checkpoint, or train one on the seeds and save it"),
                  gpt_epochs: int = typer.Option(35, help="training epochs when no checkpoint exists"),
                  workers: int = typer.Option(2, help=WORKERS_HELP),
                  force: bool = typer.Option(False, "--force", help="overwrite an existing library file")):
    """Generate a library of N repeat units (mutation/crossover enumeration and/or GPT sampling)."""
    from amala.agents.library_build import DEFAULT_SEEDS, build, check_request, load_gpt, read_seeds
    from amala.core.library import LibraryError

    try:
        check_request(out, n, workers)  # before a GPT is trained or a seed read
        if seeds_file is not None and seeds_file.exists() and out.exists() and os.path.samefile(out, seeds_file):
            fail(f"library {out}: that is the seeds file (--seeds-file); write the library to another file")
        if out.exists() and not force:
            fail(f"library {out}: exists; pass --force to overwrite it")
        seeds = read_seeds(seeds_file) if seeds_file else None
        gpt = None
        if source in ("gpt", "both"):
            gpt = load_gpt(seeds or list(DEFAULT_SEEDS.values()), gpt_checkpoint, gpt_epochs, seed)
        bar, progress = _counter(f"building {out.name}", n)
        if bar is not None:
            bar.start()
        try:
            about = build(out, n, seed=seed, source=source, seeds=seeds, gpt=gpt, workers=workers,
                          progress=progress)
        finally:
            if bar is not None:
                bar.stop()
    except LibraryError as exc:
        fail(str(exc))
    except OSError as exc:  # what the library module did not foresee (a GPT checkpoint folder, a race)
        fail(os_text(exc, out))
    console.print(f"wrote {out}: {about['rows']} repeat units in {about['generations']} generations, "
                  f"{about['seconds']:.1f} s; {about['duplicates']} duplicates and {sum(about['rejected'].values())} "
                  f"invalid proposals dropped (settings: {out}.build.json)")


@library_app.command("info")
def library_info(file: Path = typer.Argument(..., help="library (.csv or .parquet)"),
                 examples: int = typer.Option(5, help="rows to show"),
                 workers: int = typer.Option(2, help=WORKERS_HELP),
                 as_json: bool = typer.Option(False, "--json", help="print JSON")):
    """Rows, valid / invalid / duplicate counts, examples, size, and its fingerprint caches."""
    from amala.agents.library_build import check_workers, scan
    from amala.core.library import LibraryError
    from amala.models.fingerprint_cache import cache_status

    try:
        check_workers(workers)
        bar, progress = _counter(f"checking {file.name}", None)
        if bar is not None:
            bar.start()
        try:
            about = scan(file, workers=workers, examples=examples, progress=progress)
        finally:
            if bar is not None:
                bar.stop()
        about["fingerprint_caches"] = cache_status(file)
    except LibraryError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(os_text(exc, file))
    if as_json:
        console.print_json(json.dumps(about))
        return
    console.print(f"{file}: {about['format']}, {about['bytes'] / 1e6:.2f} MB, column {about['column']!r} "
                  f"({about['kind']}), {about['rows']} rows")
    console.print(f"  valid and unique {about['valid_unique']}, duplicates {about['duplicates']}, invalid "
                  f"{about['invalid']}" + (f" {about['invalid_reasons']}" if about["invalid"] else ""))
    for smiles in about["examples"]["valid"]:
        console.print(f"  {smiles}")
    for bad in about["examples"]["invalid"]:
        console.print(f"  row {bad['row']}: {bad['text']!r} refused ({bad['reason']})")
    if not about["fingerprint_caches"]:
        console.print("  fingerprint cache: none (`amala library fingerprints` builds one)")
    for cache in about["fingerprint_caches"]:
        console.print(f"  fingerprint cache {cache['file']}: {cache['rows']} rows, {cache['bytes'] / 1e6:.1f} MB, "
                      + ("current" if cache["current"] else "STALE (the library changed; rebuilt on next use)"))


@library_app.command("fingerprints")
def library_fingerprints(file: Path = typer.Argument(..., help="library (.csv or .parquet)"),
                         radius: int = typer.Option(3, help="Morgan radius (the GP featurizer's default: 3)"),
                         n_bits: int = typer.Option(2048, help="fingerprint length"),
                         counts: bool = typer.Option(True, help="thermometer-coded counts, as the featurizer"),
                         count_cap: int = typer.Option(4, help="count cap"),
                         workers: int = typer.Option(2, help=WORKERS_HELP)):
    """Build (or check) the library's bit-packed fingerprint cache, as the campaign's featurizer computes them."""
    import time

    from pydantic import ValidationError

    from amala.agents.library_build import check_workers
    from amala.core.library import LibraryError
    from amala.models.fingerprint_cache import open_cache

    settings = {"radius": radius, "n_bits": n_bits, "counts": counts, "count_cap": count_cap}
    started = time.perf_counter()
    try:
        check_workers(workers)
        bar, progress = _counter(f"fingerprints of {file.name}", None)
        if bar is not None:
            bar.start()
        try:
            cache = open_cache(file, settings, workers=workers, progress=progress)
        finally:
            if bar is not None:
                bar.stop()
    except LibraryError as exc:
        fail(str(exc))
    except OSError as exc:  # the cache is written next to the library: an unwritable folder, a full disk
        fail(os_text(exc, file))
    except ValidationError as exc:
        fail(f"fingerprint settings: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}")
    what = "built" if cache.built else "current, reused"
    console.print(f"{cache.bits_path}: {len(cache)} rows x {cache.dim} bits, {int(cache.valid.sum())} valid; {what} "
                  f"({time.perf_counter() - started:.1f} s)")

