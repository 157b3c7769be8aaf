"""The gesture CLI through click's runner: exit codes, options, JSON, stdin, no tracebacks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from gesture_cli.main import cli
from tests.conftest import MINIMAL


def run(*args: str, stdin: str | bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_decide_with_fact_options_prints_a_panel() -> None:
    code, out, _ = run("decide", "--severity", "high", "--channel", "social_media", "--audience", "120000")
    assert code == 0
    assert "Fast, personal and generous outreach" in out
    assert "Personal letter" in out and "Rules fired" in out


def test_decide_json_is_the_decision_and_deterministic() -> None:
    args = ("decide", "--json", "--severity=high", "--channel", "email", "--set", "customer_value=3000", "--order-value", "0")
    code, out, _ = run(*args)
    assert code == 0
    data = json.loads(out)
    assert data["action"] == "make_it_right" and (data["budget"]["amount"], data["budget"]["currency"]) == ("75.00", "USD")
    assert data["budget"]["summary"].endswith("= 75.00") and data["budget"]["steps"][0]["kind"] == "base"
    assert run(*args)[1] == out


def test_decide_reads_json_from_file_and_stdin_and_options_override(tmp_path: Path) -> None:
    complaint = {"severity": "low", "channel": "email", "complaint_id": "Z-1", "customer_value": 12.34}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(complaint), encoding="utf-8")
    code, out, _ = run("decide", str(path), "--json")
    assert code == 0 and json.loads(out)["complaint_id"] == "Z-1"
    assert json.loads(out)["facts"]["customer_value"] == "12.34"
    code, out, _ = run("decide", "-", "--json", "--severity", "critical", stdin=json.dumps(complaint))
    assert code == 0 and json.loads(out)["facts"]["severity"] == "critical"


def test_bad_complaint_exits_3_listing_every_problem() -> None:
    code, out, err = run("decide", "--severity", "hgh", "--audience", "many")
    assert code == 3 and out == ""
    assert "complaint: severity: expected one of low, medium, high, critical; got 'hgh' (did you mean 'high'?)" in err
    assert "complaint: channel: is required" in err
    assert "complaint: audience: expected an integer; got 'many'" in err


def test_invalid_json_and_utf8_exit_3() -> None:
    code, _, err = run("decide", "-", stdin='{"severity": "low",}')
    assert code == 3 and "<stdin>:1:20: invalid JSON" in err
    code, _, err = run("decide", "-", stdin=b'{"severity": "\xff"}')
    assert code == 3 and "not valid UTF-8" in err
    code, _, err = run("decide", "-", stdin='{"severity": NaN}')
    assert code == 3 and "NaN is not a number JSON allows" in err


def test_usage_errors_exit_2() -> None:
    assert run("decide", "--severity")[0] == 2
    assert run("decide", "a.json", "b.json")[0] == 2
    assert run("decide", "missing.json")[0] == 2


def test_bad_policy_exits_4(write_policy: Callable[..., Path]) -> None:
    path = write_policy(MINIMAL.replace("action: sorry", "action: sory"))
    code, _, err = run("decide", "--policy", str(path), "--severity", "low")
    assert code == 4 and f"{path}:" in err and "unknown action 'sory'" in err


def test_validate_reports_file_line_col_and_exit_code(write_policy: Callable[..., Path]) -> None:
    good = write_policy(MINIMAL, "good.yaml")
    bad = write_policy(MINIMAL.replace("budget: 40", "budget: -1"), "bad.yaml")
    code, out, _ = run("validate", str(good))
    assert code == 0 and out.startswith(f"ok: {good} (tiny 1, 2 rules, ")
    code, out, _ = run("validate", str(good), str(bad))
    assert code == 4
    assert f"{bad}:26:15: rules[0].then.budget: must be ≥ 0; got -1" in out
    code, out, _ = run("validate", "--json", str(bad))
    assert code == 4 and json.loads(out)[0]["problems"][0]["line"] == 26


def test_validate_embedded_default_policy() -> None:
    from gesture_engine.resources import default_policy_path

    assert run("validate", str(default_policy_path()))[0] == 0


def test_schema_command_prints_json() -> None:
    for name in ("policy", "complaint", "decision"):
        code, out, _ = run("schema", name)
        assert code == 0 and json.loads(out)["$schema"].endswith("2020-12/schema")


def test_every_command_has_help_with_an_example_and_is_documented() -> None:
    root = Path(__file__).resolve().parent.parent
    docs = "\n".join(p.read_text(encoding="utf-8") for p in [root / "README.md", *sorted((root / "docs").glob("*.md"))])
    for name, command in cli.commands.items():
        code, out, _ = run(name, "--help")
        assert code == 0 and "Example" in out, name
        assert command.help and command.help.strip(), name
        assert f"gesture {name}" in docs, f"`gesture {name}` is not in README.md or docs/"
