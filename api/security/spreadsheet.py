"""CSV cells that are safe to open in a spreadsheet (the sessions and IBIS exports)."""

from __future__ import annotations

from api.models_base import as_utc

#: A cell starting with one of these is a formula (or becomes one) in Excel and LibreOffice.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """The text of a CSV cell: booleans as ja/nee, datetimes as ISO 8601 UTC, and no formula
    injection (a leading ``'`` makes the spreadsheet show the text instead of evaluating it)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if hasattr(value, "isoformat"):
        return as_utc(value).isoformat()  # type: ignore[arg-type]
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text
