"""The decision log: whole lines, no interleaving across threads and processes, torn lines skipped."""

from __future__ import annotations

import json
import multiprocessing
import multiprocessing.process
import signal
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gesture_cli.main import cli
from gesture_engine import Decision, Policy
from gesture_engine.decision_log import DecisionLog, read_log

COMPLAINT = {"severity": "high", "channel": "social_media", "audience": 120000, "complaint_id": "c-1"}



def _write(path: Path, tag: str, count: int, size: int, decision: Decision) -> None:
    """A writer process: appends ``count`` records tagged ``tag``, each padded to ``size`` bytes with one letter."""
    with DecisionLog(path) as log:
        for i in range(count):
            log.append({"complaint_id": f"{tag}-{i}", "padding": tag[0] * size}, decision)


def _records(path: Path) -> tuple[list[dict[str, Any]], list[tuple[int, bytes]]]:
    torn: list[tuple[int, bytes]] = []
    records = list(read_log(path, on_torn=lambda number, raw: torn.append((number, raw))))
    return records, torn


def test_a_record_holds_time_policy_complaint_and_decision(default_policy: Policy, tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    decision = default_policy.decide(COMPLAINT)
    with DecisionLog(path) as log:
        log.append(COMPLAINT, decision)
    [record] = read_log(path)
    assert record["complaint"] == COMPLAINT
    assert record["decision"] == json.loads(decision.model_dump_json())
    assert record["policy"] == {"name": "default", "version": default_policy.version, "fingerprint": default_policy.fingerprint}
    assert record["time"].endswith("Z")
    assert datetime.fromisoformat(record["time"].replace("Z", "+00:00")).utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert path.read_bytes().count(b"\n") == 1


def test_any_complaint_text_is_logged_as_ascii(default_policy: Policy, tmp_path: Path) -> None:
    """The complaint is written ASCII-only (a lone surrogate has no UTF-8); the decision as decide_json writes it."""
    path = tmp_path / "decisions.jsonl"
    decision = default_policy.decide(COMPLAINT)
    with DecisionLog(path) as log:
        log.append({**COMPLAINT, "note": "caf\u00e9 \ud800 \u202e"}, decision)
    line = path.read_bytes()
    complaint, rest = line.split(b',"decision":', 1)
    assert complaint.isascii() and rest.startswith(default_policy.decide_json(COMPLAINT).encode() + b',"policy":')
    assert "×" in line.decode("utf-8")  # the budget's steps, as UTF-8
    assert next(read_log(path))["complaint"]["note"] == "caf\u00e9 \ud800 \u202e"


def test_a_torn_last_line_is_skipped_and_the_next_append_starts_afresh(default_policy: Policy, tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    decision = default_policy.decide(COMPLAINT)
    with DecisionLog(path) as log:
        log.append(COMPLAINT, decision)
    whole = path.read_bytes()
    path.write_bytes(whole + whole[: len(whole) // 2])  # a writer died half-way through its line
    records, torn = _records(path)
    assert len(records) == 1 and [n for n, _ in torn] == [2]
    with DecisionLog(path) as log:
        log.append(COMPLAINT, decision)
    records, torn = _records(path)
    assert len(records) == 2 and [n for n, _ in torn] == [2]  # the torn line stays isolated


def test_lines_that_are_not_records_are_reported(default_policy: Policy, tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    with DecisionLog(path) as log:
        log.append(COMPLAINT, default_policy.decide(COMPLAINT))
    with path.open("ab") as file:
        file.write(b'{"time": "x"}\n[1, 2]\nnot json\n')
    with DecisionLog(path) as log:
        log.append(COMPLAINT, default_policy.decide(COMPLAINT))
    records, torn = _records(path)
    assert len(records) == 2
    assert [n for n, _ in torn] == [2, 3, 4]


def test_a_closed_log_refuses_to_write(default_policy: Policy, tmp_path: Path) -> None:
    log = DecisionLog(tmp_path / "decisions.jsonl")
    log.close()
    with pytest.raises(ValueError, match="closed"):
        log.append(COMPLAINT, default_policy.decide(COMPLAINT))


def test_threads_sharing_a_log_or_opening_their_own_never_interleave(default_policy: Policy, tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    decision = default_policy.decide(COMPLAINT)
    shared = DecisionLog(path)

    def work(tag: int) -> None:
        own = DecisionLog(path) if tag % 2 else shared
        for i in range(100):
            own.append({"complaint_id": f"{tag}-{i}", "padding": str(tag) * 5000}, decision)  # > PIPE_BUF
        if own is not shared:
            own.close()

    threads = [threading.Thread(target=work, args=(tag,)) for tag in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    shared.close()
    records, torn = _records(path)
    assert torn == []
    assert sorted(r["complaint"]["complaint_id"] for r in records) == sorted(f"{t}-{i}" for t in range(8) for i in range(100))
    assert all(r["complaint"]["padding"] == r["complaint"]["complaint_id"].split("-")[0] * 5000 for r in records)


def _writer(path: Path, tag: str, count: int, size: int, decision: Decision) -> multiprocessing.process.BaseProcess:
    process = multiprocessing.get_context("fork").Process(target=_write, args=(path, tag, count, size, decision))
    process.start()
    return process


@pytest.mark.skipif(not hasattr(signal, "SIGKILL") or "fork" not in multiprocessing.get_all_start_methods(), reason="needs fork and SIGKILL")
def test_processes_append_whole_lines_even_when_one_is_killed_mid_stream(default_policy: Policy, tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    size = 128 * 1024  # far beyond PIPE_BUF, so each line takes many pages to write
    decision = default_policy.decide({"severity": "low", "channel": "email"})
    victim = _writer(path, "kill", 10**9, size, decision)
    others = [_writer(path, tag, 20, size, decision) for tag in ("alpha", "beta", "gamma")]
    deadline = time.monotonic() + 30
    while (not path.exists() or path.read_bytes().count(b'"complaint_id":"kill-') < 5) and time.monotonic() < deadline:
        time.sleep(0.002)  # let the victim write a few lines among the others, then kill it
    victim.kill()  # SIGKILL: no cleanup, possibly in the middle of a write
    victim.join()
    assert victim.exitcode == -signal.SIGKILL
    for process in others:
        process.join(timeout=60)
        assert process.exitcode == 0
    after = _writer(path, "zeta", 5, size, decision)  # appends after the crash land on lines of their own
    after.join(timeout=60)
    assert after.exitcode == 0

    records, torn = _records(path)
    assert len(torn) <= 1, "only the killed writer may leave one torn line"
    by_tag: dict[str, list[int]] = {}
    for record in records:
        tag, number = record["complaint"]["complaint_id"].rsplit("-", 1)
        assert record["complaint"]["padding"] == tag[0] * size, "a line mixes two writers"
        by_tag.setdefault(tag, []).append(int(number))
    for tag in ("alpha", "beta", "gamma"):
        assert by_tag[tag] == list(range(20))
    assert by_tag["zeta"] == list(range(5))
    killed = by_tag.get("kill", [])
    assert killed == list(range(len(killed))) and len(killed) >= 1  # a clean prefix of what it wrote
    for line in path.read_bytes().split(b"\n")[:-1]:
        assert line.count(b'"time"') <= 1, "two records on one line"


def test_cli_decide_appends_to_the_log(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    runner = CliRunner()
    for severity in ("low", "high"):
        result = runner.invoke(cli, ["decide", "--severity", severity, "--channel", "email", "--json", "--log", str(path)])
        assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["decide", "--severity", "urgent", "--channel", "email", "--log", str(path)])
    assert result.exit_code == 3  # an invalid complaint gets no decision and no log line
    records = list(read_log(path))
    assert [r["complaint"]["severity"] for r in records] == ["low", "high"]
    assert records[1]["decision"]["budget"] == json.loads(result_budget(runner))


def result_budget(runner: CliRunner) -> str:
    result = runner.invoke(cli, ["decide", "--severity", "high", "--channel", "email", "--json"])
    return json.dumps(json.loads(result.output)["budget"])


def test_cli_reports_an_unwritable_log_as_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["decide", "--severity", "low", "--channel", "email", "--log", str(tmp_path / "missing" / "d.jsonl")])
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    assert "cannot write decision log" in result.output
