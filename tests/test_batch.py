"""Batch decisions: JSONL and CSV in, one JSON line out per input line, in order, errors in place."""

from __future__ import annotations

import io
import json
from pathlib import Path

from click.testing import CliRunner

from gesture_cli.main import cli
from gesture_engine import Policy
from gesture_engine.batch import decide_records, decide_stream, jsonl_blocks, read_records

LINES = [
    {"severity": "high", "channel": "social_media", "audience": 50000, "complaint_id": "a"},
    {"severity": "nope", "channel": "email"},
    {"severity": "low", "channel": "email", "customer_value": 12.5, "complaint_id": "c"},
]


def jsonl(tmp_path: Path, count: int = 1) -> Path:
    path = tmp_path / "in.jsonl"
    text = "".join(json.dumps(line) + "\n" for line in LINES * count)
    path.write_text(text + "\n{not json\n", encoding="utf-8")
    return path


def test_library_streams_in_order_with_error_records(default_policy: Policy, tmp_path: Path) -> None:
    with jsonl(tmp_path).open("rb") as stream:
        out = [json.loads(line) for line in decide_records(default_policy, read_records(stream))]
    assert [o.get("complaint_id") for o in out] == ["a", None, "c", None]
    assert out[0]["action"] == "personal_outreach"
    assert out[1] == {"line": 2, "error": "invalid_complaint", "problems": [
        {"field": "severity", "message": "expected one of low, medium, high, critical; got 'nope'"}]}
    assert out[3]["line"] == 5 and "invalid JSON" in out[3]["problems"][0]["message"]
    assert out[2]["facts"]["customer_value"] == "12.5"


def test_workers_give_the_same_bytes_as_one_process(default_policy: Policy, tmp_path: Path) -> None:
    path = jsonl(tmp_path, count=1500)  # more than one chunk per worker
    with path.open("rb") as stream:
        single = list(decide_records(default_policy, read_records(stream)))
    with path.open("rb") as stream:
        parallel = list(decide_records(default_policy, read_records(stream), workers=2))
    assert parallel == single
    assert len(single) == 4501


def test_stream_blocks_to_workers_match_line_by_line(default_policy: Policy, tmp_path: Path) -> None:
    """``decide_stream`` (byte blocks to workers, files copied out) writes exactly what deciding line
    by line gives, into an in-memory sink and into a real file (the ``sendfile`` path)."""
    path = jsonl(tmp_path, count=3000)
    with path.open("rb") as stream:
        expected = "".join(line + "\n" for line in decide_records(default_policy, read_records(stream))).encode()
    for workers in (1, 2):
        memory = io.BytesIO()
        with path.open("rb") as stream:
            counted = decide_stream(default_policy, stream, memory, workers=workers)
        assert (counted, memory.getvalue()) == (9001, expected)
        with path.open("rb") as stream, (tmp_path / "out.jsonl").open("wb") as sink:
            decide_stream(default_policy, stream, sink, workers=workers)
        assert (tmp_path / "out.jsonl").read_bytes() == expected


def test_blocks_end_at_newlines_and_count_lines() -> None:
    data = b"".join(b'{"n": %d}\n' % i for i in range(1000)) + b'{"last": 1}'
    blocks = list(jsonl_blocks(io.BytesIO(data), size=64))
    assert b"".join(block for _, block in blocks) == data
    assert all(block.endswith(b"\n") for _, block in blocks[:-1])
    firsts = [first for first, _ in blocks]
    assert firsts[0] == 1 and firsts == sorted(firsts)
    assert [first + block.count(b"\n") for first, block in blocks[:-1]] == firsts[1:]
    long_line = b"x" * 500 + b"\n" + b"y"
    assert list(jsonl_blocks(io.BytesIO(long_line), size=64)) == [(1, b"x" * 500 + b"\n"), (2, b"y")]


def test_csv_columns_are_facts_typed_like_the_command_line(default_policy: Policy) -> None:
    data = b"severity,channel,audience,customer_value,complaint_id\nhigh,press,20000,,x1\nlow,email,many,5,x2\n"
    out = [json.loads(line) for line in decide_records(default_policy, read_records(io.BytesIO(data), "csv"))]
    assert out[0]["complaint_id"] == "x1" and out[0]["facts"]["audience"] == 20000
    assert out[1]["line"] == 3 and out[1]["problems"][0]["field"] == "audience"


def test_cli_batch_to_file_and_stdout(tmp_path: Path) -> None:
    path = jsonl(tmp_path)
    target = tmp_path / "out.jsonl"
    result = CliRunner().invoke(cli, ["decide", "--batch", str(path), "--out", str(target), "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert len(target.read_text(encoding="utf-8").splitlines()) == 4
    result = CliRunner().invoke(cli, ["decide", "--batch", "-"], input=json.dumps(LINES[0]) + "\n")
    assert result.exit_code == 0 and json.loads(result.stdout)["action"] == "personal_outreach"


def test_cli_batch_rejects_mixed_modes(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["decide", "--batch", str(jsonl(tmp_path)), "--severity", "low"])
    assert result.exit_code == 2
    result = CliRunner().invoke(cli, ["decide", "--severity", "low", "--channel", "email", "--workers", "2"])
    assert result.exit_code == 2


def test_ragged_csv_rows_are_error_records_not_silently_trimmed(default_policy: Policy) -> None:
    data = "severity,channel\nlow,email,extra\nhigh\n\ufeffmedium,chat\n".encode()
    out = [json.loads(line) for line in decide_records(default_policy, read_records(io.BytesIO(b"\xef\xbb\xbf" + data), "csv"))]
    assert out[0]["problems"][0]["message"] == "more fields than the 2 columns of the header"
    assert out[1]["problems"][0]["message"] == "fewer fields than the header"
    assert out[2]["line"] == 4 and out[2]["problems"][0]["field"] == "severity"  # a stray BOM mid-file is data


def test_unicode_line_separators_inside_values_do_not_split_records(default_policy: Policy) -> None:
    line = json.dumps({"severity": "low", "channel": "email", "complaint_id": "a\u2028b\x1cc"}, ensure_ascii=False) + "\n"
    out = list(decide_records(default_policy, read_records(io.BytesIO(line.encode()))))
    assert len(out) == 1 and json.loads(out[0])["complaint_id"] == "a\u2028b\x1cc"
