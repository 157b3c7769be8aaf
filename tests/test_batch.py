"""Batch decisions: JSONL and CSV in, one JSON line out per input line, in order, errors in place."""

from __future__ import annotations

import errno
import functools
import io
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

from gesture_cli.main import cli
from gesture_engine import ComplaintError, Policy, batch
from gesture_engine.batch import decide_payload, decide_records, decide_stream, jsonl_blocks, read_records

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


ODD_LINES = [
    b'{"severity": "low", "channel": "email", "complaint_id": "plain"}',
    b'\xef\xbb\xbf{"severity": "low", "channel": "email"}',  # byte-order mark
    b'  {"severity": "low", "channel": "chat"}',  # leading space
    b'{"severity": "low", "channel": "chat"}  \t\r',  # JSON whitespace after
    b'{"severity": "low", "channel": "chat"}\x0b',  # not JSON whitespace after
    b'{"severity": "low", "channel": "chat"} {}',
    b'{"severity": "low", "channel": "chat", "severity": "high"}',  # repeated key
    b'{"severity": "low", "channel": "chat", "customer_value": NaN}',
    b'{"severity": "low", "channel": "chat", "customer_value": {"a": 1}}',
    b'{"severity": "low", "channel": "chat", "tags": ["a"]}',
    b'{"severity": "low", "channel": "chat", "audience": ' + b"9" * 420 + b"}",
    b'{"severity": "low", "channel": "chat", "complaint_id": "\xff"}',  # not UTF-8
    b'{"severity": "low", "channel": "chat", "complaint_id": "a:b"}',  # a colon in a value
    b'{"severity": "low", "channel": "chat", "complaint_id": "\\ud800"}',  # lone surrogate
    '{"severity": "high", "channel": "press", "audience": 20000, "complaint_id": "ünï ✓ \u2028", "customer_value": 80.00}'.encode(),
    b'{"severity": "low", "channel": "chat", "order_value": "80", "goodwill_last_90d": 80.0}',
    b'{"severity": "low", "channel": "chat", "audience": true}',
    b'{"severity": "low", "channel": "chat", "region": "north"}',
    b'{"severity": "low"', b"[]", b"null", b'"x"', b"{}", b"   ", b"\t", b"",
]


def test_odd_lines_in_blocks_match_line_by_line(default_policy: Policy, tmp_path: Path) -> None:
    """Every kind of line (good, careful-path, bad, blank) in blocks, to one process and to workers:
    one decision or error record per non-blank line, in order, exactly as deciding line by line."""
    data = b"\n".join(ODD_LINES * 40) + b"\n"
    # lines split on "\n" (so a JSON error is located without the newline), each decided the careful way
    expected = "".join(decide_payload(default_policy, number, raw) + "\n" for number, raw in enumerate(data.split(b"\n"), 1) if raw.strip()).encode()
    assert expected.count(b"\n") == 40 * (len(ODD_LINES) - 3)
    assert expected.count(b'"error":"invalid_complaint"') + expected.count(b'"error": "invalid_complaint"') >= 40 * 10
    for workers in (1, 2):
        sink = io.BytesIO()
        assert decide_stream(default_policy, io.BytesIO(data), sink, workers=workers) == 40 * (len(ODD_LINES) - 3)
        assert sink.getvalue() == expected


def test_blocks_too_big_for_a_slot_go_in_the_task(default_policy: Policy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = jsonl(tmp_path, count=3000)
    expected = _single(default_policy, path)
    monkeypatch.setattr(batch, "BLOCK_BYTES", 64)  # slots for blocks of 128 bytes; blocks are still read 512 KiB at a time
    assert _parallel(default_policy, path) == expected


def test_decisions_overflowing_a_slot_come_back_with_the_result(default_policy: Policy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = jsonl(tmp_path, count=3000)
    expected = _single(default_policy, path)
    monkeypatch.setattr(batch, "SLOT_BYTES", 4096)  # far less than a block's decisions
    sink = io.BytesIO()
    with path.open("rb") as stream:
        decide_stream(default_policy, stream, sink, workers=2)
    assert sink.getvalue() == expected
    with path.open("rb") as stream, (tmp_path / "out.jsonl").open("wb") as out:
        decide_stream(default_policy, stream, out, workers=2)
    assert (tmp_path / "out.jsonl").read_bytes() == expected


def test_shared_slots_fall_back_when_memory_storage_is_full_or_missing(default_policy: Policy, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Without memfd_create: a file in memory-backed storage, else in the temporary directory, each
    unlinked as soon as it is made."""
    path = jsonl(tmp_path, count=1000)
    expected = _single(default_policy, path)
    (tmp_path / "shm").mkdir()
    monkeypatch.setattr(batch, "_MEMFD", None)
    monkeypatch.setattr(batch, "_SCRATCH", str(tmp_path / "shm"))
    reserve, calls = batch._reserve, []

    def full_first(fd: int, size: int) -> None:
        calls.append(os.readlink(f"/proc/self/fd/{fd}") if os.path.isdir("/proc/self/fd") else str(fd))
        if len(calls) == 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        reserve(fd, size)

    monkeypatch.setattr(batch, "_reserve", full_first)
    assert _parallel(default_policy, path) == expected and len(calls) == 2
    assert calls[0].startswith(str(tmp_path / "shm")) and calls[0].endswith("(deleted)")
    monkeypatch.setattr(batch, "_SCRATCH", str(tmp_path / "missing"))
    monkeypatch.setattr(batch, "_reserve", reserve)
    monkeypatch.setattr(os, "posix_fallocate", _unsupported)  # a file system that cannot reserve space
    assert _parallel(default_policy, path) == expected
    assert not os.listdir(tmp_path / "shm")


def test_spawned_workers_are_handed_the_shared_slots(default_policy: Policy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = jsonl(tmp_path, count=500)
    expected = _single(default_policy, path)
    spawn = functools.partial(ProcessPoolExecutor, mp_context=multiprocessing.get_context("spawn"))
    monkeypatch.setattr(batch, "ProcessPoolExecutor", spawn)
    assert _parallel(default_policy, path) == expected


def test_progress_counts_every_complaint_once(default_policy: Policy, tmp_path: Path) -> None:
    path = jsonl(tmp_path, count=3000)
    for workers in (1, 2):
        told: list[int] = []
        with path.open("rb") as stream:
            assert decide_stream(default_policy, stream, io.BytesIO(), workers=workers, progress=told.append) == 9001
        assert sum(told) == 9001 and all(told)


def test_decide_json_refuses_what_the_batch_records_as_errors(default_policy: Policy) -> None:
    with pytest.raises(ComplaintError):
        default_policy.decide_json({"severity": "low"})
    [record] = decide_records(default_policy, [(1, b'{"severity": "low"}')])
    assert json.loads(record) == {"line": 1, "error": "invalid_complaint", "problems": [
        {"field": "channel", "message": "is required: one of email, phone, chat, app_review, social_media, press"}]}


def _unsupported(fd: int, offset: int, size: int) -> None:
    raise OSError(errno.EOPNOTSUPP, "Operation not supported")


def _single(policy: Policy, path: Path) -> bytes:
    with path.open("rb") as stream:
        return "".join(line + "\n" for line in decide_records(policy, read_records(stream))).encode()


def _parallel(policy: Policy, path: Path) -> bytes:
    sink = io.BytesIO()
    with path.open("rb") as stream:
        decide_stream(policy, stream, sink, workers=2)
    return sink.getvalue()
