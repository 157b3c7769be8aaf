"""``gesture serve`` under load on loopback: decisions/s and latency with wrk, against in-process ``decide``.

    python -m benchmarks.serve [--seconds 10] [--connections 8] [--threads 1] [--workers 2] [--no-ledger] [--fuzz]

Starts ``gesture serve --workers N`` on a free 127.0.0.1 port (bearer auth on, access log off), warms
it up, then runs wrk (``apt-get install wrk``) for ``--seconds`` against ``POST /v1/decisions`` with the
default policy: once with a fixed complaint, once through a SQLite ledger with a new complaint id per
request (1,000 customers). In the same run it times ``policy.decide`` in-process on the same complaint.
The server's time per decision is the CPU its workers used (``/proc``, user and system) over the
decisions made, and the overhead is that minus the in-process decide. wrk runs one thread by default:
on a 2-core machine a second one only takes CPU from the workers. ``--fuzz`` then runs schemathesis
(``pip install schemathesis``, best in its own virtualenv: put its ``schemathesis`` on PATH) against the
service's own ``/openapi.json`` and reports the cases run and failures. Everything stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from gesture_engine import load_policy

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-" + "0" * 24
LEDGER_URL = "sqlite:///{}/goodwill.db?synchronous=normal"
"""The ledger's faster SQLite setting (docs/ledger.md): commits reach the OS, not yet the disk."""
COMPLAINT = {"severity": "high", "channel": "social_media", "audience": 120000, "customer_value": 800}
LEDGER_LUA = """
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"severity":"high","channel":"email","customer_value":800,"complaint_id":"c-%d-%d","customer_id":"k-%d"}',
                             id, n, n % 1000)
  return wrk.format("POST", "/v1/decisions?team=bench", nil, body)
end
setup = function(thread) thread:set("id", math.random(1, 1000000000)) end
"""


def start(workers: int, *args: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    log = Path(tempfile.mkstemp(prefix="gesture-serve-", suffix=".log")[1])
    command = [sys.executable, "-c", "import sys; from gesture_cli.main import cli; sys.argv[0] = 'gesture'; cli()",
               "serve", "--port", "0", "--workers", str(workers), "--quiet", *args]
    env = {**os.environ, "GESTURE_TOKENS": f"bench:decide,approve,issue:{TOKEN}", "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'cli'}"}
    with open(log, "wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=sink, env=env, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = log.read_text()
        if text.count('"worker_ready"') >= workers and '"listening"' in text:
            url = next(json.loads(line)["url"] for line in text.splitlines() if '"listening"' in line)
            return process, url, log
        if process.poll() is not None:
            raise SystemExit(f"gesture serve exited: {text}")
        time.sleep(0.1)
    process.kill()
    raise SystemExit("gesture serve did not start")


def worker_pids(log: Path) -> list[int]:
    return [json.loads(line)["pid"] for line in log.read_text().splitlines() if '"worker_ready"' in line]


def cpu_seconds(pids: list[int]) -> float | None:
    """User and system CPU the processes used so far (Linux's /proc), or None where there is no /proc."""
    total = 0
    try:
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    except OSError:
        return None
    return total / os.sysconf("SC_CLK_TCK")


def wrk(url: str, seconds: int, connections: int, script: str, threads: int = 1, pids: list[int] | None = None) -> dict[str, float]:
    """wrk's decisions/s, p50/p90/p99 and non-2xx answers; with ``pids``, their CPU per request in µs."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(script)
    before = cpu_seconds(pids or [])
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", file.name,
               "-H", f"Authorization: Bearer {TOKEN}", "-H", "Content-Type: application/json", url + "/v1/decisions"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    after = cpu_seconds(pids or [])
    os.unlink(file.name)

    def ms(label: str) -> float:
        value, unit = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    cpu = (after - before) / done * 1e6 if pids and before is not None and after is not None and done else float("nan")
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
            "p50_ms": ms("50%"), "p90_ms": ms("90%"), "p99_ms": ms("99%"), "non_2xx": float(errors.group(1)) if errors else 0.0,
            "cpu_us": cpu}


def in_process(samples: int = 20_000) -> float:
    """Microseconds per ``policy.decide`` plus the JSON the server writes, best of three."""
    policy = load_policy()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(samples):
            policy.decide(COMPLAINT).model_dump_json(indent=2)
        best = min(best, (time.perf_counter() - start) / samples * 1e6)
    return best


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(60)


def fuzz(url: str, examples: int) -> dict[str, Any]:
    """schemathesis against the service's own OpenAPI document (token given); cases and failures."""
    tool = shutil.which("schemathesis") or shutil.which("st")
    if tool is None:
        return {"skipped": "schemathesis is not on PATH"}
    command = [tool, "run", f"{url}/openapi.json", "--checks", "all", f"--max-examples={examples}", "-H", f"Authorization: Bearer {TOKEN}",
               "--exclude-checks", "positive_data_acceptance,negative_data_rejection,missing_required_header,ignored_auth,unsupported_method"]
    done = subprocess.run(command, capture_output=True, text=True)
    text = done.stdout + done.stderr
    cases = re.search(r"(\d+) generated", text)
    server_errors = len(re.findall(r"Server error", text))
    return {"exit": done.returncode, "cases": int(cases.group(1)) if cases else None, "server_error_reports": server_errors,
            "summary": [line for line in text.splitlines() if re.search(r"passed|failed|generated|error", line, re.I)][-8:]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="wrk's threads")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-ledger", action="store_true", help="skip the run with the SQLite ledger")
    parser.add_argument("--fuzz", action="store_true")
    parser.add_argument("--examples", type=int, default=50)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    decide_us = in_process()
    print(f"in-process decide + JSON: {decide_us:.1f} µs")
    body = json.dumps(COMPLAINT).replace('"', '\\"')
    plain_lua = f'wrk.method = "POST"\nwrk.body = "{body}"\n'
    process, url, log = start(args.workers)
    try:
        wrk(url, 2, args.connections, plain_lua, args.threads)  # warm-up
        plain = wrk(url, args.seconds, args.connections, plain_lua, args.threads, worker_pids(log))
    finally:
        stop(process)
    per = plain["cpu_us"]
    print(f"POST /v1/decisions, {args.workers} workers, {args.connections} connections, wrk -t{args.threads}: {plain['rps']:,.0f} decisions/s, "
          f"p50 {plain['p50_ms']:.2f} ms, p90 {plain['p90_ms']:.2f} ms, p99 {plain['p99_ms']:.2f} ms, non-2xx {plain['non_2xx']:.0f}; "
          f"workers' CPU per decision {per:.0f} µs = decide + JSON {decide_us:.0f} µs + overhead {per - decide_us:.0f} µs; "
          f"load average {os.getloadavg()[0]:.2f}")
    if args.no_ledger:
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        process, url, _ = start(args.workers, "--ledger", LEDGER_URL.format(scratch))
        try:
            wrk(url, 2, args.connections, LEDGER_LUA, args.threads)
            ledger = wrk(url, args.seconds, args.connections, LEDGER_LUA, args.threads)
            if args.fuzz:  # against the ledger's server, so that every endpoint does its real work
                print("schemathesis:", json.dumps(fuzz(url, args.examples), indent=2))
        finally:
            stop(process)
    print(f"with the SQLite ledger: {ledger['rps']:,.0f} decisions/s, p50 {ledger['p50_ms']:.2f} ms, p90 {ledger['p90_ms']:.2f} ms, "
          f"p99 {ledger['p99_ms']:.2f} ms, "
          f"non-2xx {ledger['non_2xx']:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
