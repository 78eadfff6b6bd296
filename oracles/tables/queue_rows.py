"""What one inbox row of the file queue may hold, and the reason when it does not.

A CSV's header, its rows (surplus cells kept, to be rejected), a JSON item flattened to the same
columns, and the field parsers the oracle checks every row with: a number is a finite plain decimal
(JSON `true` is not 1, `1_0` is not 10), a text field is a string or nothing. Each refusal is a
`RowError` (one row) or a ValueError (a file that cannot be read as a whole), with a one-line reason.
"""

from __future__ import annotations

import math
import re

# a plain ASCII decimal: no "_" separators (float("1_0") is 10), no other scripts' digits
NUMBER = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


class RowError(ValueError):
    """One inbox row that cannot be used; the message says why."""


def check_header(fields: list[str] | None, columns: list[str]) -> None:
    """A CSV must have an id column and no column this oracle does not know: a misspelt or
    differently delimited header would otherwise make every row look empty and be skipped."""
    if not fields:
        raise ValueError("empty file (no header row)")
    if len(fields) == 1 and fields[0] != "id":
        delimiter = next((d for d in ";\t|" if d in fields[0]), None)
        if delimiter:
            raise ValueError(f"columns are separated by {delimiter!r}; expected ',' (columns: {', '.join(columns)})")
    if "id" not in fields:
        raise ValueError(f"no 'id' column (columns: {short(fields)})")
    unknown = [f for f in fields if f not in columns and f != "requested_at"]
    if unknown:
        raise ValueError(f"unknown column(s) {short(unknown)} (expected {', '.join(columns)})")


def csv_row(row: dict) -> dict:
    """csv.DictReader puts surplus cells of a row under the key None: that row is malformed."""
    if None in row:
        return {"__surplus__": row[None]}
    return row


def flat(item):
    if not isinstance(item, dict):
        return item
    row = {k: v for k, v in item.items() if k != "values"}
    values = item.get("values")
    if values is None:
        return row
    if not isinstance(values, dict):
        return {**row, "values": values}  # rejected as an unknown field shape when checked
    for prop, m in values.items():
        if not isinstance(m, dict):
            return {**row, "values": values}
        row.update({prop: m.get("value"), f"{prop}_std": m.get("std"), f"{prop}_unit": m.get("unit")})
    return row


def is_blank(row: dict, units: dict[str, str]) -> bool:
    fields = ["status", "reason", *units, *(f"{p}_std" for p in units)]
    return all(row.get(f) is None or (isinstance(row.get(f), str) and not row.get(f).strip()) for f in fields)


def parse_number(raw, where: str) -> float | None:
    """A finite number from a JSON number or a plain decimal string. Booleans are not numbers
    (JSON `true` is not 1 S/cm), and Python's lenient float() spellings - `1_0` (10), ` 0x..` -
    are refused: a value that reads oddly is a typo until a person says otherwise."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise RowError(f"{where}: {short(raw)} is not a number")
    if isinstance(raw, str) and not NUMBER.fullmatch(raw.strip()):
        if raw.strip().lower().lstrip("+-") in ("nan", "inf", "infinity"):
            raise RowError(f"{where}: {short(raw)} is not a finite number")
        raise RowError(f"{where}: {short(raw)} is not a number")
    try:
        value = float(raw.strip() if isinstance(raw, str) else raw)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        raise RowError(f"{where}: {short(raw)} is not a finite number")
    return value


def parse_text(raw, where: str) -> str:
    """A text field (id, status, unit...): a string or nothing; a number or a list there is a mistake."""
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise RowError(f"{where}: {short(raw)} is not text")
    return raw.strip()


def short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__
