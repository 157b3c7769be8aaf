"""``python benchmarks/hostile_inputs.py``: what huge hostile complaints cost ``gesture decide``.

Each case is a complaint file given to ``gesture decide FILE --json`` against the default policy,
run in a fresh process: wall time, peak resident memory, the exit code and how many lines of
problems it printed. Issue 14 measured a 50 MB complaint with one bad enum value or unknown key at
2.2 GB and up to 9.5 s, a 10 MB key at 490 MB, 3 million unknown keys at more than 60 s and 1.1 GB,
and 100,000 unknown keys printing 100,000 lines. The script only uses the ``gesture`` command, so
it measures any checkout: ``PYTHONPATH=/path/to/checkout:/path/to/checkout/cli python
benchmarks/hostile_inputs.py``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

MB = 1024 * 1024
OK = '"severity": "low", "channel": "email"'


def _write(path: Path, parts: Callable[[io.TextIOBase], None]) -> None:
    with path.open("w", encoding="utf-8") as out:
        parts(out)


CASES: dict[str, Callable[[io.TextIOBase], None]] = {
    "50 MB bad enum value": lambda out: out.write('{"severity": "' + "x" * (50 * MB) + '", "channel": "email"}'),
    "50 MB unknown key": lambda out: out.write("{" + OK + ', "' + "k" * (50 * MB) + '": 1}'),
    "10 MB unknown key": lambda out: out.write("{" + OK + ', "' + "k" * (10 * MB) + '": 1}'),
    "3,000,000 unknown keys": lambda out: out.write("{" + OK + "".join(f', "k{i:07d}": 0' for i in range(3_000_000)) + "}"),
    "100,000 unknown keys": lambda out: out.write("{" + OK + "".join(f', "k{i:06d}": 0' for i in range(100_000)) + "}"),
}


def child(path: str) -> None:
    """Run ``gesture decide PATH --json`` here; print what it cost as JSON on stdout."""
    from gesture_cli.main import cli

    err = io.StringIO()
    sys.stderr = err
    sys.stdout = io.StringIO()
    started = time.perf_counter()
    try:
        cli.main(["decide", path, "--json"], prog_name="gesture")
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    seconds = time.perf_counter() - started
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    text = err.getvalue()
    print(json.dumps({"seconds": seconds, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, "exit": code,
                      "lines": text.count("\n"), "bytes": len(text), "last": text.strip().splitlines()[-1][:100] if text.strip() else ""}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", metavar="FILE", help=argparse.SUPPRESS)
    parser.add_argument("--only", help="comma-separated case numbers (1-based)")
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    chosen = [name for i, name in enumerate(CASES, 1) if args.only is None or str(i) in args.only.split(",")]
    print("| complaint | seconds | peak RSS MiB | exit | lines printed | last line |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as work:
        for name in chosen:
            path = Path(work) / "complaint.json"
            _write(path, CASES[name])
            done = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", str(path)], capture_output=True, text=True, check=False)
            if done.returncode != 0 or not done.stdout.strip():
                print(f"| {name} | failed: {done.stderr.strip()[-200:]} |")
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"| {name} | {r['seconds']:.2f} | {r['peak_mib']} | {r['exit']} | {r['lines']} | {r['last']} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
