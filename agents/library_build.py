"""`amala library build`: a library of N valid, canonical, unique repeat units from amala's own generators.

Generation g mutates and crosses (`agents/mutation.py`) parents drawn from every row made before it,
and/or samples the SMILES GPT (`agents/smiles_gpt.py`); every product passes the one validity gate
(`validity.candidate_from_text`, i.e. `polymer.canonical_smiles`) and is kept if its canonical
spelling is new. Uniqueness is a set of 64-bit integers (the candidate id, `candidate_key`), not
of `Candidate` objects, so 10^6 rows need tens of MB, not GB.

RDKit dominates the cost, so the edits and the canonicalisation run in worker processes. Every
random choice (operator, parents, each edit's own seed, the GPT's sampling seed) is drawn in the
main process from `seeding.rng(seed, generation, "library")` before the work is handed out, and
results come back in order: the file is the same byte for byte for a seed and N, whatever the
number of workers.

Without a seeds file, the starting polymers are DEFAULT_SEEDS: common hosts of solid polymer
electrolytes (PEO and its relatives, carbonates, esters, nitriles, siloxanes, phosphazenes), as
reviewed by Mindemark, Lacey, Bowden and Brandell, "Beyond PEO - Alternative host materials for
Li+-conducting solid polymer electrolytes", Prog. Polym. Sci. 81, 114-143 (2018).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections import Counter
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import pandas as pd

from amala.core.candidate import candidate_key
from amala.core.library import ChunkWriter, LibraryError, check_target, open_library
from amala.core.seeding import rng as step_rng
from amala.core.validity import REASONED, candidate_from_text

DEFAULT_SEEDS = {  # name -> repeat unit, [Cu] and [Au] at the chain ends
    "PEO": "[Cu]CCO[Au]",
    "POM": "[Cu]CO[Au]",
    "PTMO (polyoxetane)": "[Cu]CCCO[Au]",
    "PTHF": "[Cu]CCCCO[Au]",
    "PPO": "[Cu]CC(C)O[Au]",
    "PEC": "[Cu]CCOC(=O)O[Au]",
    "PPC": "[Cu]CC(C)OC(=O)O[Au]",
    "PTMC": "[Cu]CCCOC(=O)O[Au]",
    "PVCA (vinylene carbonate)": "[Cu]C1OC(=O)OC1[Au]",
    "PCL": "[Cu]CCCCCC(=O)O[Au]",
    "PLA": "[Cu]C(C)C(=O)O[Au]",
    "PES (ethylene succinate)": "[Cu]CCOC(=O)CCC(=O)O[Au]",
    "PAN": "[Cu]CC(C#N)[Au]",
    "PMMA": "[Cu]CC(C)(C(=O)OC)[Au]",
    "POEGMA": "[Cu]CC(C)(C(=O)OCCOCCOC)[Au]",
    "PVDF": "[Cu]CC(F)(F)[Au]",
    "PVA": "[Cu]CC(O)[Au]",
    "PVP": "[Cu]CC(N1CCCC1=O)[Au]",
    "LPEI": "[Cu]CCN[Au]",
    "PDMS": "[Cu][Si](C)(C)O[Au]",
    "MEEP (phosphazene)": "[Cu]N=P(OCCOCCOC)(OCCOCCOC)[Au]",
}
SOURCES = ("mutation", "gpt", "both")
CROSSOVER_RATE = 0.3  # as MutationAgent
MAX_BATCH = 20_000  # proposals per generation at most
JOBS_PER_TASK = 500  # proposals per worker task: large enough that the hand-over costs little
# every accepted row stays in memory as a parent of later generations (its SMILES and its 64-bit
# key, ~200 bytes) and costs ~1 ms of one core: 10^7 rows (ten times PI1M) need ~2 GB and hours.
# The enumeration does not run dry before that (a stall ends a build in one line), so without this
# bound --n 10^12 would run until the machine ran out of memory; it is refused up front instead
MAX_ROWS = 10_000_000


def max_workers() -> int:
    """More RDKit processes than 4 per core only add memory and start-up time (the work is CPU
    bound), and 64 is already more than any one build gains from."""
    return min(64, 4 * (os.cpu_count() or 1))


def check_workers(workers: int) -> None:
    if not 1 <= workers <= max_workers():
        raise LibraryError(f"--workers must be 1 to {max_workers()} (4 per CPU core, at most 64), not {workers}")


def check_request(out: str | Path, n: int, workers: int) -> None:
    """What `build` refuses before any work (and before a GPT is trained for it): a row count out of
    range, a worker count out of range, an output that could not be written at the end."""
    if not 1 <= n <= MAX_ROWS:
        raise LibraryError(f"library {out}: --n must be 1 to {MAX_ROWS:,}, not {n:,}")
    check_workers(workers)
    check_target(out)


def _key(representation: str, kind: str = "smiles") -> int:
    return int(candidate_key(kind, representation), 16)


def judge(text: str, kind: str = "smiles") -> tuple[str | None, str | None]:
    """(canonical representation, None) or (None, the kind of reason it was refused)."""
    try:
        return candidate_from_text(text, kind, "library").representation, None
    except REASONED as exc:
        return None, exc.reason
    except ValueError:
        return None, "invalid"


@lru_cache(maxsize=50_000)
def _mol(smiles: str):
    from rdkit import Chem

    return Chem.MolFromSmiles(smiles)


def _make(jobs: list[tuple]) -> list[tuple[str | None, str | None]]:
    """Worker: each job is ("gpt", text, None, 0) or (operator, parent, second parent, seed)."""
    from amala.agents.mutation import MUTATIONS, crossover

    operators = {f.__name__: f for f in MUTATIONS}
    out = []
    for operator, first, second, seed in jobs:
        if operator == "gpt":
            out.append(judge(first))
            continue
        rng = np.random.default_rng(seed)
        if operator == "crossover":
            text = crossover(_mol(first), _mol(second), rng)
        else:
            text = operators[operator](_mol(first), rng)
        out.append((None, "edit not chemically valid") if text is None else judge(text))
    return out


def _judge_all(task: tuple[str, list[str]]) -> list[tuple[str | None, str | None]]:
    kind, texts = task
    return [judge(t, kind) for t in texts]


@contextmanager
def mapper(workers: int) -> Iterator[Callable]:
    """An ordered map over `workers` processes (spawned: no forked torch or RDKit state), or the
    builtin map for one worker."""
    if workers <= 1:
        yield map
        return
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        yield lambda fn, items: pool.imap(fn, items)


def read_seeds(path: str | Path) -> list[str]:
    """Starting polymers: a library file (CSV/Parquet) or plain text, one SMILES a line ('#' comments)."""
    path = Path(path)
    if path.suffix.lower() in (".csv", ".parquet", ".pq"):
        return [s for chunk in open_library(path).representations() for s in chunk if s]
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LibraryError(f"seeds file {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:  # a folder, unreadable, not text
        raise LibraryError(f"seeds file {path}: cannot read it: {getattr(exc, 'strerror', None) or exc}") from None
    lines = [line.split("#")[0].strip() for line in text.splitlines()]
    seeds = [line.split()[0] for line in lines if line]
    if not seeds:
        raise LibraryError(f"seeds file {path}: no SMILES in it")
    return seeds


def load_gpt(seeds: Sequence[str], checkpoint: str | Path | None, epochs: int, seed: int):
    """The GPT in `checkpoint` if there is one, else one trained on the seeds (saved there if given)."""
    from amala.agents.smiles_gpt import SmilesGPT

    if checkpoint is not None and (Path(checkpoint) / "config.json").is_file():
        return SmilesGPT.load(Path(checkpoint))
    gpt = SmilesGPT.for_smiles(list(seeds), seed=seed)
    gpt.train(list(seeds), epochs=epochs, seed=seed)
    if checkpoint is not None:
        gpt.save(Path(checkpoint))
    return gpt


class _Rows:
    """The accepted rows not yet written, and what the parents are drawn from."""

    def __init__(self, writer: ChunkWriter, flush_rows: int):
        self.writer, self.flush_rows = writer, flush_rows
        self.smiles: list[str] = []  # every accepted row: the parents of later generations
        self.seen: set[int] = set()
        self._buffer: dict[str, list] = {"smiles": [], "origin": [], "generation": [], "parent_a": [], "parent_b": []}

    def add(self, smiles: str, origin: str, generation: int, a: int = -1, b: int = -1) -> bool:
        key = _key(smiles)
        if key in self.seen:
            return False
        self.seen.add(key)
        self.smiles.append(smiles)
        for column, value in zip(self._buffer, (smiles, origin, generation, a, b)):
            self._buffer[column].append(value)
        if len(self._buffer["smiles"]) >= self.flush_rows:
            self.flush()
        return True

    def flush(self) -> None:
        if self._buffer["smiles"]:
            self.writer.write(pd.DataFrame(self._buffer))
            self._buffer = {column: [] for column in self._buffer}


def _jobs(rows: _Rows, n_mutation: int, rng: np.random.Generator) -> tuple[list[tuple], list[tuple]]:
    from amala.agents.mutation import MUTATIONS

    size = len(rows.smiles)
    cross = rng.random(n_mutation) < (CROSSOVER_RATE if size > 1 else 0.0)
    first, second = rng.integers(size, size=n_mutation), rng.integers(size, size=n_mutation)
    operator, seeds = rng.integers(len(MUTATIONS), size=n_mutation), rng.integers(2**63, size=n_mutation)
    jobs, origins = [], []
    for i in range(n_mutation):
        a, b = int(first[i]), int(second[i]) if cross[i] else -1
        name = "crossover" if cross[i] else MUTATIONS[operator[i]].__name__
        jobs.append((name, rows.smiles[a], rows.smiles[b] if b >= 0 else None, int(seeds[i])))
        origins.append((name, a, b))
    return jobs, origins


def build(out: str | Path, n: int, seed: int = 0, source: str = "mutation", seeds: Sequence[str] | None = None,
          gpt=None, workers: int = 2, progress: Callable[[int], None] | None = None,
          flush_rows: int = 50_000, max_stalls: int = 5) -> dict:
    """Write `n` unique valid repeat units to `out` (.csv or .parquet) and return what it took
    (also written to `<out>.build.json`). `gpt` is a SmilesGPT for sources gpt/both."""
    check_request(out, n, workers)
    if source not in SOURCES:
        raise LibraryError(f"library {out}: --from must be one of {', '.join(SOURCES)}, not {source!r}")
    if source != "mutation" and gpt is None:
        raise LibraryError(f"library {out}: --from {source} needs a SMILES GPT")
    started, rejected, duplicates = time.perf_counter(), Counter(), 0
    writer = ChunkWriter(out)
    rows = _Rows(writer, flush_rows)
    for text in seeds if seeds is not None else DEFAULT_SEEDS.values():
        canonical, reason = judge(text)
        if canonical is None:
            rejected[f"seed: {reason}"] += 1
        elif len(rows.smiles) < n:
            rows.add(canonical, "seed", 0)
    if not rows.smiles:
        raise LibraryError(f"library {out}: none of the {len(seeds or [])} seed polymers is a valid repeat unit")
    generation, stalls = 0, 0
    with mapper(workers) as run:
        while len(rows.smiles) < n:
            generation += 1
            rng = step_rng(seed, generation, "library")
            # proposals this generation: twice what is missing, but few parents get few edits (duplicates)
            batch = int(min(2 * (n - len(rows.smiles)), max(512, 10 * len(rows.smiles)), MAX_BATCH))
            n_gpt = {"mutation": 0, "gpt": batch, "both": batch // 2}[source]
            jobs, origins = _jobs(rows, batch - n_gpt, rng)
            if n_gpt:
                sampled = gpt.sample(n_gpt, seed=int(rng.integers(2**31)))
                jobs, origins = _interleave(jobs, [("gpt", t, None, 0) for t in sampled]), \
                    _interleave(origins, [("gpt", -1, -1)] * n_gpt)
            tasks = [jobs[i:i + JOBS_PER_TASK] for i in range(0, len(jobs), JOBS_PER_TASK)]
            before, done = len(rows.smiles), 0
            for results in run(_make, tasks):
                for canonical, reason in results:
                    origin, a, b = origins[done]
                    done += 1
                    if len(rows.smiles) >= n:
                        break
                    if canonical is None:
                        rejected[reason] += 1
                    elif not rows.add(canonical, origin, generation, a, b):
                        duplicates += 1
                if progress is not None:
                    progress(min(len(rows.smiles), n))
            stalls = stalls + 1 if len(rows.smiles) == before else 0
            if stalls >= max_stalls:
                raise LibraryError(f"library {out}: no new repeat unit in {max_stalls} generations after "
                                   f"{len(rows.smiles)} rows (too few or too small seeds?)")
    rows.flush()
    path = writer.close()
    about = {"rows": len(rows.smiles), "seed": seed, "source": source, "generations": generation,
             "seeds": len(seeds) if seeds is not None else "DEFAULT_SEEDS", "crossover_rate": CROSSOVER_RATE,
             "duplicates": duplicates, "rejected": dict(sorted(rejected.items())), "workers": workers,
             "seconds": round(time.perf_counter() - started, 2)}
    try:
        Path(f"{path}.build.json").write_text(json.dumps(about, indent=2) + "\n")
    except OSError as exc:
        raise LibraryError(f"library {path}: written, but not its settings {path}.build.json: "
                           f"{exc.strerror or exc}") from None
    return about


def _interleave(first: list, second: list) -> list:
    out = []
    for i in range(max(len(first), len(second))):
        out += first[i:i + 1] + second[i:i + 1]
    return out


def scan(path: str | Path, kind: str | None = None, workers: int = 2, examples: int = 5,
         progress: Callable[[int], None] | None = None, chunksize: int = 10_000) -> dict:
    """Rows, valid / invalid / duplicate counts by the validity gate's canonical spelling, the most
    common reasons for refusal, and the first few valid and invalid rows."""
    library = open_library(path)
    kind = kind or ("composition" if library.column == "composition" else "smiles")
    seen: set[int] = set()
    counts, reasons = Counter(), Counter()
    shown: dict[str, list] = {"valid": [], "invalid": []}
    with mapper(workers) as run:
        for window in windows(library.representations(chunksize), 2 * max(workers, 1)):
            for texts, results in zip(window, run(_judge_all, [(kind, texts) for texts in window])):
                for text, (canonical, reason) in zip(texts, results):
                    counts["rows"] += 1
                    if canonical is None:
                        counts["invalid"] += 1
                        reasons[reason] += 1
                        if len(shown["invalid"]) < examples:
                            shown["invalid"].append({"row": counts["rows"] - 1, "text": text, "reason": reason})
                        continue
                    key = _key(canonical, kind)
                    if key in seen:
                        counts["duplicates"] += 1
                        continue
                    seen.add(key)
                    counts["valid"] += 1
                    if len(shown["valid"]) < examples:
                        shown["valid"].append(canonical)
                if progress is not None:
                    progress(counts["rows"])
    return {"path": str(library.path), "format": library.format, "column": library.column, "kind": kind,
            "columns": list(library.columns), "bytes": library.path.stat().st_size, "rows": counts["rows"],
            "valid_unique": counts["valid"], "duplicates": counts["duplicates"], "invalid": counts["invalid"],
            "invalid_reasons": dict(reasons.most_common(5)), "examples": shown}


def windows(items, size: int):
    """Lists of `size` items at a time: the workers get a few chunks, never the whole file (a
    pool's imap would read every task ahead)."""
    window = []
    for item in items:
        window.append(item)
        if len(window) == size:
            yield window
            window = []
    if window:
        yield window
