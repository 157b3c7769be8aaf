"""Coverage-guided fuzzing of the two doors bad input comes through: complaint JSON and policy YAML.

``python -m benchmarks.fuzz complaints|policies [-max_total_time=60] [atheris/libFuzzer options]``,
with atheris installed (``pip install atheris``: not a project dependency). The complaint target parses
bytes as complaint JSON and decides them with the embedded default policy; the policy target loads
bytes as a policy. Anything but the project's own errors (``ComplaintError``, ``PolicyError``) is a
crash, and a decision must serialise and read back unchanged. The seed corpus is kept beside this file
(``fuzz_corpus/``); new inputs the fuzzer finds go there too. Time-boxed here, not in CI: see
docs/hardening.md for the figures of the last run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from gesture_engine import ComplaintError, Decision, PolicyError, load_policy, loads_policy
    from gesture_engine.complaint import parse_complaint_json

CORPUS = Path(__file__).parent / "fuzz_corpus"
POLICY = load_policy()


def complaint(data: bytes) -> None:
    try:
        decision = POLICY.decide(parse_complaint_json(data))
    except ComplaintError:
        return
    if Decision.model_validate_json(decision.model_dump_json()) != decision:
        raise AssertionError("a decision does not read back from its JSON")


def policy(data: bytes) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return
    try:
        loads_policy(text, name="fuzz.yaml")
    except PolicyError:
        return


TARGETS = {"complaints": complaint, "policies": policy}


def main(argv: list[str]) -> None:
    target = argv[1] if len(argv) > 1 else ""
    if target not in TARGETS:
        raise SystemExit(f"usage: python -m benchmarks.fuzz {{{'|'.join(TARGETS)}}} [libFuzzer options]")
    corpus = CORPUS / target
    atheris.Setup([argv[0], *argv[2:], str(corpus)], TARGETS[target])
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
