"""Export: a report flattened into metric rows, and rows as CSV that Excel opens safely."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def report_rows(figures: Mapping[str, Any], *, prefix: str = "") -> list[dict[str, Any]]:
    """Flatten a report into ``{"metric": "cases.resolved.answered_online", "value": 72}`` rows."""
    rows: list[dict[str, Any]] = []
    for name, value in figures.items():
        path = f"{prefix}{name}"
        if name == "suppressed":
            continue
        if isinstance(value, Mapping):
            rows += report_rows(value, prefix=f"{path}.")
        elif value is None or isinstance(value, int | float | str | bool):
            rows.append({"metric": path, "value": value})
    return rows


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    # A text cell starting like a formula would run in Excel; a leading apostrophe keeps it text.
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def to_csv(
    rows: Iterable[Mapping[str, Any]], *, columns: Sequence[str], headers: Sequence[str] | None = None
) -> str:
    """RFC 4180 CSV (CRLF, minimal quoting) with a UTF-8 BOM so Excel shows Chinese; None is empty."""
    if headers is not None and len(headers) != len(columns):
        raise ValueError("headers must match columns one to one")
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(list(headers if headers is not None else columns))
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return "\ufeff" + buffer.getvalue()
