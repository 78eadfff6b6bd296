"""A candidate library: a CSV or Parquet file with one representation per row, read in chunks.

Virtual screens are large (PI1M holds ~10^6 polymers), so a library is never loaded whole: it is
read a chunk of rows at a time (pandas' chunked CSV reader; pyarrow's `ParquetFile.iter_batches`
where pyarrow is installed - it is not a dependency of amala, so Parquet needs `pip install
pyarrow`). The representation sits in a column named `smiles`, `representation` or `composition`
(the first of these the file has); any other column is metadata, carried along untouched. Rows
are numbered from 0 in file order, and that number is how the fingerprint cache
(`models/fingerprint_cache.py`) and a screen refer to a row, so nothing per row is kept in memory.

Every problem with a file is a `LibraryError` whose one-line message names the file and what is
wrong with it.
"""

from __future__ import annotations

import os
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import pandas as pd

COLUMNS = ("smiles", "representation", "composition")  # where the representation may be, in this order
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
CHUNK_ROWS = 50_000


class LibraryError(ValueError):
    """A library file that cannot be read as one; the message names the file and the problem."""


def _pyarrow(path: Path):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise LibraryError(f"library {path}: Parquet needs pyarrow, which is not installed (`pip install "
                           "pyarrow`), or use a .csv library") from None
    return pq


@dataclass(frozen=True)
class Library:
    """An opened (header-checked) library file; `column` holds the representations."""

    path: Path
    format: str
    column: str
    columns: tuple[str, ...]

    def chunks(self, chunksize: int = CHUNK_ROWS, columns: Iterable[str] | None = None) -> Iterator[pd.DataFrame]:
        """Frames of at most `chunksize` rows, in file order, with a RangeIndex continuing across
        chunks (the row numbers); the representation column is text."""
        if chunksize < 1:
            raise LibraryError(f"library {self.path}: chunksize must be >= 1, not {chunksize}")
        wanted = None if columns is None else list(dict.fromkeys([self.column, *columns]))
        start = 0
        try:
            for frame in self._raw_chunks(chunksize, wanted):
                frame.index = pd.RangeIndex(start, start + len(frame))
                start += len(frame)
                yield frame
        except LibraryError:
            raise
        except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise LibraryError(f"library {self.path}: unreadable after row {start}: {first}") from None

    def _raw_chunks(self, chunksize: int, columns: list[str] | None) -> Iterator[pd.DataFrame]:
        if self.format == "csv":
            yield from pd.read_csv(self.path, chunksize=chunksize, usecols=columns, dtype={self.column: str})
            return
        parquet = _pyarrow(self.path).ParquetFile(self.path)
        for batch in parquet.iter_batches(batch_size=chunksize, columns=columns):
            frame = batch.to_pandas()
            frame[self.column] = frame[self.column].astype(object).where(frame[self.column].notna(), None)
            yield frame

    def representations(self, chunksize: int = CHUNK_ROWS) -> Iterator[list[str]]:
        """The representation column chunk by chunk, as text ('' where a row has none)."""
        for frame in self.chunks(chunksize, columns=()):
            yield ["" if not isinstance(v, str) else v for v in frame[self.column].tolist()]

    def count_rows(self) -> int:
        if self.format == "parquet":
            return _pyarrow(self.path).ParquetFile(self.path).metadata.num_rows
        return sum(len(chunk) for chunk in self.representations(200_000))


def open_library(path: str | Path) -> Library:
    """Check that `path` is a library (exists, known suffix, a representation column) and open it."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise LibraryError(f"library {path}: unknown format {suffix or '(no suffix)'!r} (a library is .csv or "
                           ".parquet)")
    _check_file(path)
    fmt = FORMATS[suffix]
    try:
        if fmt == "csv":
            columns = tuple(str(c) for c in pd.read_csv(path, nrows=0).columns)
        else:
            columns = tuple(_pyarrow(path).ParquetFile(path).schema_arrow.names)
    except LibraryError:
        raise
    except pd.errors.EmptyDataError:
        raise LibraryError(f"library {path}: empty file (no header row)") from None
    except Exception as exc:  # pyarrow's and pandas' many ways of saying "not this format"
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise LibraryError(f"library {path}: not a readable {fmt.upper()} file: {first}") from None
    column = next((c for c in COLUMNS if c in columns), None)
    if column is None:
        raise LibraryError(f"library {path}: no representation column (needs one of {', '.join(COLUMNS)}; has "
                           f"{', '.join(columns[:8]) or 'none'}{' ...' if len(columns) > 8 else ''})")
    return Library(path, fmt, column, columns)


def _check_file(path: Path) -> None:
    """A library to read must be a readable file: a folder or a name the OS refuses (too long) is
    said in one line here, not as an OSError from pandas or pyarrow."""
    try:
        if path.is_dir():
            raise LibraryError(f"library {path}: a folder, not a library file")
        if not path.is_file():
            raise LibraryError(f"library {path}: no such file")
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise LibraryError(f"library {path}: cannot read it: {exc.strerror or exc}") from None


def check_target(path: str | Path) -> None:
    """Refuse, before any work is done, a library that could not be written at the end: a folder
    of that name, a folder that is missing or is not one (/dev/null/x.csv), or one not writable."""
    path = Path(path)
    folder = path.parent
    try:
        if path.is_dir():
            raise LibraryError(f"library {path}: a folder of that name exists; write the library elsewhere")
        if not folder.is_dir():
            raise LibraryError(f"library {path}: " + (f"{folder} is not a folder" if folder.exists() else
                                                      f"its folder {folder} does not exist"))
        if not os.access(folder, os.W_OK | os.X_OK):
            raise LibraryError(f"library {path}: folder {folder} is not writable")
    except OSError as exc:
        raise LibraryError(f"library {path}: cannot write there: {exc.strerror or exc}") from None


def read_chunks(path: str | Path, chunksize: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """The library's rows as frames of at most `chunksize` rows, never the whole file at once."""
    yield from open_library(path).chunks(chunksize)


class ChunkWriter:
    """Writes a library chunk by chunk (CSV or Parquet by the suffix) to a temporary name and moves
    it to `path` on `close`, so an interrupted build never leaves a file that looks finished."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in FORMATS:
            raise LibraryError(f"library {self.path}: unknown format {suffix or '(no suffix)'!r} (write .csv or "
                               ".parquet)")
        self.format = FORMATS[suffix]
        if self.format == "parquet":
            self._pq = _pyarrow(self.path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self._writer, self.rows = None, 0

    def write(self, frame: pd.DataFrame) -> None:
        try:
            self._write(frame)
        except OSError as exc:
            self._failed(exc)

    def _write(self, frame: pd.DataFrame) -> None:
        if self.format == "csv":
            with open(self.partial, "w" if self.rows == 0 else "a", newline="", encoding="utf-8") as handle:
                frame.to_csv(handle, index=False, header=self.rows == 0, lineterminator="\n")
        else:
            import pyarrow as pa

            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._writer is None:
                self._writer = self._pq.ParquetWriter(self.partial, table.schema)
            self._writer.write_table(table)
        self.rows += len(frame)

    def close(self) -> Path:
        try:
            if self._writer is not None:
                self._writer.close()
            if self.rows == 0:
                raise LibraryError(f"library {self.path}: nothing to write")
            self.partial.replace(self.path)
        except OSError as exc:
            self._failed(exc)
        return self.path

    def _failed(self, exc: OSError) -> None:
        """A full disk or a folder gone mid-build: one line naming the file, and no half-written
        .partial file left behind to fill the disk."""
        with suppress(OSError):
            self.partial.unlink(missing_ok=True)
        raise LibraryError(f"library {self.path}: cannot write it: {exc.strerror or exc}") from None
