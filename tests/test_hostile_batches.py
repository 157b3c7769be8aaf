"""The hostile batch corpus (tests/hostile/batches/, expectations in tests/hostile/batches.yaml): every
bad record is one error record at the line it starts on, and a file that cannot be read as complaints
at all is refused with its line, by the library, ``gesture decide --batch`` and ``gesture diff --replay``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from gesture_cli.main import cli
from gesture_engine import ComplaintError, Policy
from gesture_engine.batch import BadRow, format_of, read_records
from gesture_engine.complaint import parse_complaint_json
from gesture_engine.errors import ComplaintFileError
from gesture_engine.resources import default_policy_path

HOSTILE = Path(__file__).parent / "hostile"
CASES: dict[str, dict[str, Any]] = yaml.safe_load((HOSTILE / "batches.yaml").read_text(encoding="utf-8"))
DEFAULT = str(default_policy_path())


def outcomes(policy: Policy, path: Path) -> list[str]:
    """"LINE ok" or "LINE CODE[:FIELD] ..." for each record, as the batch reads and decides it."""
    found = []
    with path.open("rb") as stream:
        for line, payload in read_records(stream, format_of(path)):
            if isinstance(payload, BadRow):
                found.append(f"{line} {payload.code}")
                continue
            try:
                policy.decide(policy.complaint_from_text(payload) if isinstance(payload, dict) else parse_complaint_json(payload))
            except ComplaintError as error:
                found.append(f"{line} " + " ".join(f"{p.code}:{p.field}" for p in error.problems))
            else:
                found.append(f"{line} ok")
    return found


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_every_file_has_an_expectation_and_every_expectation_a_file() -> None:
    assert sorted(CASES) == sorted(p.name for p in (HOSTILE / "batches").iterdir())


@pytest.mark.parametrize("name", sorted(name for name, case in CASES.items() if "records" in case))
def test_bad_records_are_error_records_at_their_first_line(default_policy: Policy, name: str) -> None:
    path = HOSTILE / "batches" / name
    expected = CASES[name]["records"]
    assert outcomes(default_policy, path) == expected
    errors = [int(entry.split()[0]) for entry in expected if not entry.endswith(" ok")]
    for workers in ("1", "2"):
        code, out, err = run("decide", "--batch", str(path), "--workers", workers)
        assert (code, err) == (0, "")
        lines = [json.loads(line) for line in out.splitlines()]
        assert len(lines) == len(expected)
        assert [line["line"] for line in lines if "error" in line] == errors
    code, out, _ = run("diff", DEFAULT, DEFAULT, "--replay", str(path), "--json")
    assert code == 0 and json.loads(out)["replay"]["complaints"] + json.loads(out)["replay"]["bad_lines"] == len(expected)


@pytest.mark.parametrize("name", sorted(name for name, case in CASES.items() if "refused" in case or "replay_refused" in case))
def test_files_that_are_not_complaints_are_refused_with_their_line(default_policy: Policy, name: str) -> None:
    path = HOSTILE / "batches" / name
    line, code = (CASES[name].get("refused") or CASES[name]["replay_refused"]).split()
    commands = [("diff", DEFAULT, DEFAULT, "--replay", str(path))]
    if "refused" in CASES[name]:
        with pytest.raises(ComplaintFileError) as info:
            outcomes(default_policy, path)
        assert (info.value.line, info.value.code) == (int(line), code)
        commands.append(("decide", "--batch", str(path), "--workers", "2"))
    for command in commands:
        exit_code, out, err = run(*command)
        assert exit_code == 2 and f"{path}:{line}: " in err, (command, err)
        assert "Traceback" not in err and "decisions changed" not in out


@pytest.mark.parametrize("name", sorted(name for name, case in CASES.items() if "replay" in case))
def test_replay_counts(name: str) -> None:
    code, out, _ = run("diff", DEFAULT, DEFAULT, "--replay", str(HOSTILE / "batches" / name), "--json")
    replay = json.loads(out)["replay"]
    assert code == 0 and {key: replay[key] for key in CASES[name]["replay"]} == CASES[name]["replay"]
