"""CSV files of complaints, read record by record so that one bad record is one error record.

The csv module stops for good at a field longer than its process-wide limit (131,072 characters), and
decoding a file as a whole stops at the first invalid UTF-8. This reader splits the text into records
itself, by the rules of the csv module's default dialect (comma, double quote, ``""`` inside quotes,
text after a closing quote kept, a quote inside an unquoted field literal; records end at a line end
outside quotes; an empty line is no record), so that:

- a record is numbered by the line it starts on, even when a quoted field spans lines;
- a field longer than :data:`FIELD_LIMIT` characters, invalid UTF-8 or a quote never closed makes that
  record bad (the memory held for a record stays bounded by the limit, besides the longest line);
- the header must be sound: a header whose quote is never closed, that is not UTF-8, or that names a
  column twice (also as ``customer-value`` and ``customer_value``, the same fact) is refused with
  :class:`~gesture_engine.errors.ComplaintFileError` instead of being read as data.

``tests/test_csv_records.py`` holds this reader to the csv module on generated files.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from gesture_engine.errors import ComplaintFileError

FIELD_LIMIT = 1 << 20
"""Characters in one field (1 MiB); a record with a longer field is an error record. Complaint fields
are far shorter (strings ≤ 1000 characters by default), so anything near this is a broken quote or junk."""

_QUOTED = re.compile(r'[^"]*(?:""[^"]*)*')
"""Inside quotes: everything up to the closing quote (``""`` is a quote) or the end of the line."""
_PLAIN = re.compile(r"[^,\r\n]*")
"""An unquoted field, or what follows a closing quote up to the next comma or line end."""
_ESCAPED = re.compile("[\udc80-\udcff]")
"""What ``surrogateescape`` makes of bytes that are not UTF-8 (UTF-8 itself never decodes to these)."""
_LINE_ENDS = ("\n", "\r\n", "\r")


@dataclass(frozen=True)
class BadRow:
    """A CSV record that cannot be a complaint; ``code`` is the stable code of its error record."""

    message: str
    code: str = "bad_row"


@dataclass
class _Record:
    line: int
    fields: list[str]
    problem: str | None  # None, or "not_utf8", "too_long", "unterminated"


def _end(pattern: re.Pattern[str], line: str, pos: int) -> int:
    """Where ``pattern`` (which matches the empty string at worst) stops matching from ``pos``."""
    match = pattern.match(line, pos)
    return match.end() if match is not None else pos


def _records(lines: Iterator[str]) -> Iterator[_Record]:
    """Each record of the text, with the number of the line it starts on."""
    number = 0
    for line in lines:
        number += 1
        if line in _LINE_ENDS:
            continue
        record = _Record(number, [], None if line.isascii() or not _ESCAPED.search(line) else "not_utf8")
        if '"' not in line:  # the common record: no quotes, so it ends on this line and a comma always separates
            record.fields = line.rstrip("\r\n").split(",")
            if max(map(len, record.fields)) > FIELD_LIMIT:
                record.problem = record.problem or "too_long"
                record.fields = ["" if len(field) > FIELD_LIMIT else field for field in record.fields]
            yield record
            continue
        pos = 0
        while True:
            if line.startswith('"', pos):
                pieces: list[str] = []
                pos, seen = pos + 1, 0
                while True:
                    end = _end(_QUOTED, line, pos)
                    seen += end - pos
                    if seen <= 2 * FIELD_LIMIT:  # (a quote inside counts twice) past that, look for the end, keep nothing
                        pieces.append(line[pos:end])
                    if end < len(line):
                        pos = end + 1  # past the closing quote
                        break
                    following = next(lines, None)
                    if following is None:
                        record.problem = record.problem or "unterminated"
                        pos = end
                        break
                    number += 1
                    line, pos = following, 0
                    if record.problem is None and not line.isascii() and _ESCAPED.search(line):
                        record.problem = "not_utf8"
                end = _end(_PLAIN, line, pos)
                value = "".join(pieces).replace('""', '"') + line[pos:end]
                too_long = seen > 2 * FIELD_LIMIT or len(value) > FIELD_LIMIT
            else:
                end = _end(_PLAIN, line, pos)
                value = line[pos:end]
                too_long = len(value) > FIELD_LIMIT
            pos = end
            if too_long:
                record.problem = record.problem or "too_long"
                value = ""
            record.fields.append(value)
            if not line.startswith(",", pos):
                break
            pos += 1
        yield record


_PROBLEMS = {
    "not_utf8": ("is not valid UTF-8", "not_utf8"),
    "too_long": (f"has a field longer than {FIELD_LIMIT} characters", "too_long"),
    "unterminated": ("opens a quoted field that is never closed", "unterminated_quote"),
}


def csv_complaints(stream: IO[bytes]) -> Iterator[tuple[int, dict[str, str] | BadRow]]:
    """``(line a record starts on, column -> text)`` for each record after the header, or a
    :class:`BadRow`; empty cells are left out (the fact's default applies), names and values stripped.
    Raises :class:`ComplaintFileError` when the header cannot be trusted."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    records = _records(text)
    header = next(records, None)
    if header is None:
        return
    names = _column_names(header)
    width = len(names)
    for record in records:
        if record.problem is not None:
            yield record.line, BadRow(*_PROBLEMS[record.problem])
        elif len(record.fields) > width:
            yield record.line, BadRow(f"more fields than the {width} columns of the header", "ragged_row")
        elif len(record.fields) < width:
            yield record.line, BadRow("fewer fields than the header", "ragged_row")
        else:
            yield record.line, {name: value.strip() for name, value in zip(names, record.fields, strict=True) if value.strip()}


def _column_names(header: _Record) -> list[str]:
    """The header's column names, stripped; refused when broken, or when two name the same fact."""
    if header.problem == "unterminated":
        raise ComplaintFileError(header.line, "the header opens a quoted field that is never closed", "csv_header")
    if header.problem is not None:
        raise ComplaintFileError(header.line, f"the header {_PROBLEMS[header.problem][0]}", "csv_header")
    names = [name.strip() for name in header.fields]
    seen: dict[str, str] = {}
    for name in names:
        fact = name.replace("-", "_")  # how a column names its fact (Policy.complaint_from_text)
        if not fact:
            continue  # an unnamed column (a trailing comma) must stay empty, else its cells are unknown fields
        if fact in seen:
            twice = f"column {name!r} appears twice" if seen[fact] == name else f"columns {seen[fact]!r} and {name!r} name the same fact"
            raise ComplaintFileError(header.line, f"the header is ambiguous: {twice}; give each fact one column", "repeated_column")
        seen[fact] = name
    return names
