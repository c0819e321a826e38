"""Text that could reorder or hide what is on screen, or run in a spreadsheet, made harmless.

* `INVISIBLE`: bidi controls (U+202A–U+202E, U+2066–U+2069, U+200E/U+200F, U+061C) and zero-width characters
  (U+200B–U+200D, U+2060, U+FEFF). Refused in identifiers (`has_invisible`), shown as visible markers in
  free text (`inert`): "⟦U+202E⟧".
* `csv_cell`: a cell that a spreadsheet would run as a formula (= + - @ tab CR at its start) gets a leading
  apostrophe; plain numbers ("-12.50") are left as they are.
"""
from __future__ import annotations

import re

INVISIBLE = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "|")
_NUMBER = re.compile(r"^[+-]?(\d[\d,]*(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def has_invisible(text: str | None) -> bool:
    return bool(text) and INVISIBLE.search(text) is not None


def inert(text: str | None) -> str:
    """The text with every bidi control and zero-width character replaced by a visible marker."""
    if not text:
        return "" if text is None else text
    return INVISIBLE.sub(lambda m: f"⟦U+{ord(m.group()):04X}⟧", text)


def csv_cell(value):
    """A value as it may go into a CSV a person opens in a spreadsheet."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.match(value):
        return "'" + value
    return value
