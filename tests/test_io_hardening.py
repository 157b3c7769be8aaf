"""Issue 14's I/O and batch hardening: a far-future time is one bad line, outputs are replaced whole and
never the input, I/O errors exit 74, a killed batch leaves no worker or shared memory behind, facts
are given once, policies are read once within the size limit, ``--`` ends options, and a replay
reads a decision log."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from gesture_cli.main import cli
from gesture_engine import ComplaintError, Policy, PolicyError, load_policy, loads_policy
from gesture_engine.batch import decide_records, decide_stream, read_records
from tests.conftest import MINIMAL

ROOT = Path(__file__).resolve().parent.parent
COMPLAINT = {"severity": "low", "channel": "email"}
FAR = {**COMPLAINT, "received_at": "9999-12-31T23:59:59Z"}


def run(*args: str, stdin: str | bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def gesture(*args: str, **options: object) -> subprocess.Popen[bytes]:
    """The real ``gesture`` in a fresh process (for signals, descriptors and devices)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "cli")])}
    code = "import sys; from gesture_cli.main import main; sys.argv[0] = 'gesture'; main()"
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, **{"cwd": ROOT, **options})  # type: ignore[call-overload, no-any-return]


def lines(*complaints: dict[str, object]) -> str:
    return "".join(json.dumps(c) + "\n" for c in complaints)


# -- 1. received_at far in the future ------------------------------------------------------------

def test_a_time_too_far_ahead_is_one_bad_line_not_a_lost_batch(default_policy: Policy) -> None:
    with pytest.raises(ComplaintError) as info:
        default_policy.decide_json(FAR)
    assert [(p.field, p.code) for p in info.value.problems] == [("received_at", "out_of_range")]
    data = lines(COMPLAINT, FAR, COMPLAINT).encode()
    for workers in (1, 2):
        out = [json.loads(line) for line in decide_records(default_policy, read_records(io.BytesIO(data)), workers=workers)]
        assert [o.get("line") for o in out] == [None, 2, None] and out[1]["problems"][0]["field"] == "received_at"
    for command in ("decide", "explain"):
        code, out, err = run(command, "-", stdin=json.dumps(FAR))
        assert (code, out) == (3, "") and "complaint: received_at: must be a time from the year 1 to 8999 in UTC" in err


# -- 4. --out: never the input, replaced whole ------------------------------------------------------

def test_out_naming_the_input_is_refused_however_it_is_spelt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    source = tmp_path / "in.jsonl"
    source.write_text(lines(COMPLAINT), encoding="utf-8")
    os.symlink(source, tmp_path / "link.jsonl")
    os.link(source, tmp_path / "hard.jsonl")
    for batch, out in (("in.jsonl", "in.jsonl"), ("in.jsonl", "./in.jsonl"), ("link.jsonl", str(source)), ("hard.jsonl", "in.jsonl"),
                       ("in.jsonl", "link.jsonl")):
        code, _, err = run("decide", "--batch", batch, "--out", out)
        assert code == 2 and "is the batch's input" in err
    with source.open("rb") as stdin:  # the input as standard input
        done = gesture("decide", "--batch", "-", "--out", "in.jsonl", stdin=stdin, stderr=subprocess.PIPE, cwd=tmp_path)
        assert done.wait(60) == 2
    assert source.read_text(encoding="utf-8") == lines(COMPLAINT)


def test_out_is_replaced_only_when_the_batch_is_complete(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text("the good decisions of yesterday\n", encoding="utf-8")
    out.chmod(0o640)
    broken = tmp_path / "broken.csv"
    broken.write_text('severity,channel,"complaint_id\nlow,email,x\n', encoding="utf-8")
    assert run("decide", "--batch", str(broken), "--out", str(out))[0] == 2
    assert out.read_text(encoding="utf-8") == "the good decisions of yesterday\n"
    good = tmp_path / "good.jsonl"
    good.write_text(lines(COMPLAINT, COMPLAINT), encoding="utf-8")
    assert run("decide", "--batch", str(good), "--out", str(out), "--workers", "2")[0] == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 2 and out.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.csv", "good.jsonl", "out.jsonl"]  # no temporary file left
    fresh = tmp_path / "fresh.jsonl"
    assert run("decide", "--batch", str(good), "--out", str(fresh))[0] == 0
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~_umask()
    assert run("decide", "--batch", str(good), "--out", os.devnull)[0] == 0  # a device is written, not replaced
    assert Path(os.devnull).is_char_device()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# -- 7. killing a batch ----------------------------------------------------------------------------

def _children(pid: int) -> list[int]:
    """Live (not zombie) processes whose parent is ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            state = _state(int(entry))
            if state is not None and state[1] == pid and state[0] != "Z":
                found.append(int(entry))
    return found


def _state(pid: int) -> tuple[str, int] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1])


def _gone(pid: int) -> bool:
    state = _state(pid)
    return state is None or state[0] == "Z"


def _poll(condition: Callable[[], bool], seconds: float) -> bool:
    """Whether ``condition`` holds within ``seconds`` (checked every 20 ms): no fixed sleeps."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.fixture
def running_batch(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], list[int], Path]]:
    """``gesture decide --batch - --workers 2 --out ...`` with its workers busy and its input still open."""
    before = set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()
    out = tmp_path / "out.jsonl"
    out.write_text("earlier\n", encoding="utf-8")
    process = gesture("decide", "--batch", "-", "--workers", "2", "--out", str(out), stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdin is not None
    process.stdin.write(lines(COMPLAINT).encode() * 60_000)  # ~2.4 MB: several blocks handed to the workers
    process.stdin.flush()
    assert _poll(lambda: len(_children(process.pid)) >= 2, 30), "the workers did not start"
    workers = _children(process.pid)
    try:
        yield process, workers, out
    finally:
        for pid in [process.pid, *workers]:
            if not _gone(pid):
                os.kill(pid, signal.SIGKILL)
        process.stdin.close()
        process.wait(10)
        assert _poll(lambda: not ({n for n in os.listdir("/dev/shm") if n.startswith("gesture-batch-")} - before), 30) \
            if os.path.isdir("/dev/shm") else True


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads processes from /proc")
def test_workers_exit_when_the_batch_is_killed(running_batch: tuple[subprocess.Popen[bytes], list[int], Path]) -> None:
    process, workers, out = running_batch
    process.kill()
    assert process.wait(10) == -signal.SIGKILL
    assert _poll(lambda: all(_gone(pid) for pid in workers), 30), "workers outlived their parent"
    assert out.read_text(encoding="utf-8") == "earlier\n"


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads processes from /proc")
def test_sigterm_stops_the_batch_cleanly(running_batch: tuple[subprocess.Popen[bytes], list[int], Path]) -> None:
    process, workers, out = running_batch
    process.terminate()
    assert process.wait(30) == 128 + signal.SIGTERM
    assert _poll(lambda: all(_gone(pid) for pid in workers), 30)
    assert out.read_text(encoding="utf-8") == "earlier\n" and [p.name for p in out.parent.iterdir()] == ["out.jsonl"]
    assert process.stderr is not None and b"gesture: terminated" in process.stderr.read()


# -- 8. facts given twice ---------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ("--severity", "high", "--severity", "low"),
    ("--severity=high", "--severity", "high"),
    ("--customer-value", "1", "--customer_value", "2"),
    ("--severity", "high", "--set", "severity=low"),
    ("--set", "audience=1", "--set", "audience=1"),
])
def test_a_fact_given_twice_on_the_command_line_is_refused(args: tuple[str, ...]) -> None:
    for command in ("decide", "explain"):
        code, out, err = run(command, "--channel", "email", *args)
        assert (code, out) == (2, "") and "is given more than once" in err


def test_options_still_override_a_complaint_file(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({**COMPLAINT, "severity": "high"}), encoding="utf-8")
    code, out, _ = run("decide", str(path), "--severity", "low", "--json")
    assert code == 0 and json.loads(out)["facts"]["severity"] == "low"


# -- 10. I/O errors ---------------------------------------------------------------------------------

@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize(("args", "message"), [
    (("decide", "--batch", "{batch}", "--out", "/dev/full"), "gesture: cannot write /dev/full: "),
    (("decide", "--batch", "{batch}", "--workers", "2"), "gesture: cannot write standard output: "),
    (("decide", "--batch", "{batch}"), "gesture: cannot write standard output: "),
    (("decide", "--severity", "low", "--channel", "email", "--json"), "gesture: cannot write standard output: "),
    (("decide", "--severity", "low", "--channel", "email"), "gesture: cannot write standard output: "),
    (("explain", "--severity", "low", "--channel", "email"), "gesture: cannot write standard output: "),
    (("validate", "rules/default"), "gesture: cannot write standard output: "),
    (("decide", "--severity", "low", "--channel", "email", "--log", "/dev/full"), "gesture: cannot write decision log /dev/full: "),
])
def test_a_full_disk_exits_74_with_one_line(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    batch = tmp_path / "in.jsonl"
    batch.write_text(lines(COMPLAINT) * 500, encoding="utf-8")
    with open("/dev/full", "wb") as full:
        process = gesture(*(arg.format(batch=batch) for arg in args), stdout=full, stderr=subprocess.PIPE)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 74, err
    assert err.decode().startswith(message) and err.decode().count("\n") == 1 and b"Traceback" not in err


def test_ledger_export_is_replaced_whole_and_a_full_disk_exits_74(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    assert run("decide", "--ledger", url, "--complaint-id", "c1", "--customer-id", "u1", "--severity", "low", "--channel", "email")[0] == 0
    out = tmp_path / "events.csv"
    out.write_text("earlier\n", encoding="utf-8")
    assert run("ledger", "export", "--ledger", url, "--format", "csv", "--out", str(out))[0] == 0
    # no temporary export left behind (ledger.db.lock and -queue are the SQLite ledger's writer locks, beside it for good)
    assert out.read_text(encoding="utf-8").startswith("id,")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.csv", "ledger.db", "ledger.db.lock", "ledger.db.lock-queue"]
    if os.path.exists("/dev/full"):
        code, _, err = run("ledger", "export", "--ledger", url, "--out", "/dev/full")
        assert code == 74 and err.startswith("gesture: cannot write /dev/full: ")


# -- 12. policies read once, within the limit, from pipes and devices -------------------------------

@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_is_read_no_further_than_the_limit() -> None:
    with pytest.raises(PolicyError) as info:
        load_policy("/dev/zero")
    assert [p.code for p in info.value.problems] == ["file-size"]
    code, out, _ = run("validate", "/dev/zero")
    assert code == 4 and "/dev/zero:1:1: file is more than 8388608 bytes" in out


def test_a_pipe_is_read_no_further_than_the_limit() -> None:
    read, write = os.pipe()
    writer = threading.Thread(target=_feed, args=(write, b"# x\n" * 1000))
    writer.start()
    try:
        with pytest.raises(PolicyError) as info:
            load_policy(f"/dev/fd/{read}", max_file_bytes=100)
        assert [p.code for p in info.value.problems] == ["file-size"]
    finally:
        os.close(read)
        writer.join()


def _feed(fd: int, data: bytes) -> None:
    try:
        os.write(fd, data)
    except BrokenPipeError:
        pass
    finally:
        os.close(fd)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_policy_from_a_pipe_decides_a_batch_with_workers(tmp_path: Path, workers: str) -> None:
    batch = tmp_path / "in.jsonl"
    batch.write_text(lines({"severity": "high"}, {"severity": "low"}) * 3000, encoding="utf-8")
    read, write = os.pipe()
    os.write(write, MINIMAL.encode())
    os.close(write)
    try:
        process = gesture("decide", "-p", f"/dev/fd/{read}", "--batch", str(batch), "--workers", workers,
                          pass_fds=(read,), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = process.communicate(timeout=120)
    finally:
        os.close(read)
    assert process.returncode == 0, err
    actions = [json.loads(line)["action"] for line in out.splitlines()]
    assert actions == ["pay", "sorry"] * 3000


def test_spawned_workers_load_the_policy_from_its_text(monkeypatch: pytest.MonkeyPatch) -> None:
    import functools
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from gesture_engine import batch

    policy = loads_policy(MINIMAL, name="<from a database>")  # no file to read again
    spawn = functools.partial(ProcessPoolExecutor, mp_context=multiprocessing.get_context("spawn"))
    monkeypatch.setattr(batch, "ProcessPoolExecutor", spawn)
    sink = _Sink()
    decide_stream(policy, io.BytesIO(lines({"severity": "high"}).encode() * 50), sink, workers=2, policy_text=MINIMAL)
    assert [json.loads(line)["action"] for line in sink.data.splitlines()] == ["pay"] * 50


# -- 15. -- and replaying a decision log --------------------------------------------------------------

def test_double_dash_ends_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("--odd.json").write_text(json.dumps(COMPLAINT), encoding="utf-8")
    for command, facts in (("decide", "facts"), ("explain", "input_facts")):
        code, out, _ = run(command, "--json", "--", "--odd.json")
        assert code == 0 and json.loads(out)[facts]["severity"] == "low"
    code, _, err = run("decide", "--channel", "email", "--", "--severity", "high")  # after --: two file names
    assert code == 2 and "give at most one COMPLAINT file" in err
    code, out, _ = run("decide", "--json", "--severity", "high", "--", "--odd.json")  # options before, a file after
    assert code == 0 and json.loads(out)["facts"]["severity"] == "high"


def test_replay_reads_a_decision_log_written_by_decide(tmp_path: Path) -> None:
    log = tmp_path / "decisions.log"
    for severity in ("low", "high", "critical"):
        assert run("decide", "--severity", severity, "--channel", "email", "--log", str(log))[0] == 0
    code, out, _ = run("diff", "rules/default", "rules/default", "--replay", str(log))
    assert code == 0 and "3 complaint(s) (3 from decision-log records), 0 bad line(s)" in out
    assert "invalid under" not in out


class _Sink:
    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes | memoryview) -> int:
        self.data += bytes(data)
        return len(data)
