"""CSV read record by record (gesture_engine/csv_records.py): the csv module's records, numbered by the
line each starts on; a bad record is one error record, a header that cannot be trusted is refused."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gesture_engine import Policy, csv_records
from gesture_engine.batch import decide_records, read_records
from gesture_engine.csv_records import FIELD_LIMIT, BadRow, _records, csv_complaints
from gesture_engine.errors import ComplaintFileError

HEADER = b"severity,channel,complaint_id\n"


def rows(data: bytes) -> list[tuple[int, dict[str, str] | BadRow]]:
    return list(csv_complaints(io.BytesIO(data)))


def module_records(text: str) -> list[tuple[int, list[str]]]:
    """What the csv module reads from ``text``: each non-empty record and the line it starts on."""
    limit = csv.field_size_limit()
    csv.field_size_limit(1 << 30)
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        found, last = [], 0
        for fields in reader:
            if fields:
                found.append((last + 1, fields))
            last = reader.line_num
        return found
    finally:
        csv.field_size_limit(limit)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='a b,"\n\r', max_size=60))
def test_records_are_the_csv_modules_numbered_by_their_first_line(text: str) -> None:
    ours = [(r.line, r.fields) for r in _records(io.StringIO(text, newline=""))]
    assert ours == module_records(text)


def test_a_record_spanning_lines_is_numbered_by_its_first_line(default_policy: Policy) -> None:
    data = HEADER + b'low,email,"two\nlines"\nhigh,email,"three\n\nlines"\nlow,fax,x\n'
    found = rows(data)
    assert [line for line, _ in found] == [2, 4, 7]
    assert found[1][1] == {"severity": "high", "channel": "email", "complaint_id": "three\n\nlines"}
    out = [json.loads(line) for line in decide_records(default_policy, read_records(io.BytesIO(data), "csv"))]
    assert out[2]["line"] == 7 and out[2]["problems"][0]["field"] == "channel"


def test_fields_past_the_csv_modules_limit_are_read_and_past_ours_are_one_bad_record() -> None:
    over_csv = "x" * 200_000  # the csv module's default limit is 131,072
    too_long = "y" * (FIELD_LIMIT + 1)
    data = (HEADER + f"low,email,{over_csv}\nlow,email,{too_long}\nlow,email,\"{too_long[:-9]}\n{'z' * 10}\"\nhigh,email,ok\n".encode())
    found = rows(data)
    assert [line for line, _ in found] == [2, 3, 4, 6]
    assert isinstance(found[0][1], dict) and found[0][1]["complaint_id"] == over_csv
    assert found[1][1] == BadRow(f"has a field longer than {FIELD_LIMIT} characters", "too_long")
    assert found[2][1] == BadRow(f"has a field longer than {FIELD_LIMIT} characters", "too_long")
    assert found[3][1] == {"severity": "high", "channel": "email", "complaint_id": "ok"}


def test_a_quoted_field_never_closed_keeps_nothing_past_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_records, "FIELD_LIMIT", 10)
    [record] = _records(io.StringIO('"' + "abc\n" * 100, newline=""))
    assert (record.line, record.problem, record.fields) == (1, "unterminated", [""])


def test_invalid_utf8_is_a_bad_record_not_the_end_of_the_file() -> None:
    data = HEADER + b"low,email,a\xffb\nhigh,email,\"ok\n\xc3\x28\"\nlow,email,\xc3\xa9t\xc3\xa9\n"
    found = rows(data)
    assert [(line, payload) for line, payload in found[:2]] == [(2, BadRow("is not valid UTF-8", "not_utf8")),
                                                                 (3, BadRow("is not valid UTF-8", "not_utf8"))]
    assert found[2] == (5, {"severity": "low", "channel": "email", "complaint_id": "été"})


def test_a_quote_never_closed_is_one_bad_record_at_its_first_line() -> None:
    found = rows(HEADER + b'low,email,a\nhigh,email,"open\nlow,email,b\n')
    assert found == [(2, {"severity": "low", "channel": "email", "complaint_id": "a"}),
                     (3, BadRow("opens a quoted field that is never closed", "unterminated_quote"))]


@pytest.mark.parametrize(("data", "line", "code"), [
    (b'severity,channel,"complaint_id\nlow,email,x\n', 1, "csv_header"),
    (b"\n\nseverity,\xff\nlow,email\n", 3, "csv_header"),
    (b"severity,channel,severity\nlow,email,high\n", 1, "repeated_column"),
    (b"severity,customer-value,channel,customer_value\nlow,1,email,2\n", 1, "repeated_column"),
    (b"severity, channel ,channel\nlow,email,chat\n", 1, "repeated_column"),
])
def test_a_header_that_cannot_be_trusted_is_refused(data: bytes, line: int, code: str) -> None:
    with pytest.raises(ComplaintFileError) as info:
        rows(data)
    assert (info.value.line, info.value.code) == (line, code)


def test_unnamed_columns_may_repeat_and_must_stay_empty() -> None:
    found = rows(b"severity,channel,,\nlow,email,,\nlow,email,,x\n")
    assert found == [(2, {"severity": "low", "channel": "email"}), (3, {"severity": "low", "channel": "email", "": "x"})]


def test_ragged_rows_carry_their_code() -> None:
    found = rows(HEADER + b"low,email,a,extra\nlow\n")
    assert [payload.code for _, payload in found if isinstance(payload, BadRow)] == ["ragged_row", "ragged_row"]
