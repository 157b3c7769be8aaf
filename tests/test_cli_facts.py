"""The policy's facts as command-line options: help, typo hints and exit codes, prompts, completion."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.shell_completion import ShellComplete
from click.testing import CliRunner
from rich.prompt import PromptBase

from gesture_cli import prompting
from gesture_cli.main import cli
from tests.conftest import MINIMAL

TYPED = MINIMAL.replace(
    "  spend: {type: money, default: 0}\n",
    "  spend: {type: money, required: true, description: What the customer paid.}\n"
    "  vip: {type: boolean, required: true}\n"
    "  visits: {type: integer, min: 1, max: 9, default: 1}\n",
)


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def completions(args: list[str], incomplete: str) -> list[tuple[str, str]]:
    found = ShellComplete(cli, {}, "gesture", "_GESTURE_COMPLETE").get_completions(args, incomplete)
    return [(item.type, item.value) for item in found]


# -- help ------------------------------------------------------------------------------------------

def test_decide_help_lists_the_default_policys_facts() -> None:
    code, out, _ = run("decide", "--help")
    assert code == 0
    facts = out[out.index("Facts of policy default 1.0.0"):]
    assert "--severity LEVEL" in facts and "low < medium < high < critical; required." in facts
    assert "--customer-value MONEY" in facts and "amount in USD ≥ 0; default 0." in facts
    assert "--audience INTEGER" in facts and "--issue-type ENUM" in facts and "default other." in facts
    assert "Derived by the policy, not given: tier, visibility." in facts


@pytest.mark.parametrize("how", [("-p", "{}"), ("--policy={}",), ("-p{}",)])
def test_help_lists_the_facts_of_the_policy_named_before_or_after_help(write_policy: Callable[..., Path], how: tuple[str, ...]) -> None:
    path = write_policy(TYPED)
    policy_args = [part.format(path) for part in how]
    for args in (["decide", *policy_args, "--help"], ["decide", "--help", *policy_args], ["explain", *policy_args, "--help"]):
        code, out, _ = run(*args)
        assert code == 0, args
        facts = out[out.index("Facts of policy tiny 1"):]
        assert "--severity LEVEL" in facts and "low < medium < high; required." in facts
        assert "--vip BOOLEAN" in facts and "true or false; required." in facts
        assert "--visits INTEGER" in facts and "integer ≥ 1 ≤ 9; default 1." in facts
        assert "What the customer paid." in facts and "--issue-type" not in facts
        assert "Derived by" not in facts


def test_help_with_a_bad_policy_is_the_normal_help_and_a_note(write_policy: Callable[..., Path], tmp_path: Path) -> None:
    bad = write_policy(MINIMAL.replace("action: sorry", "action: sory"), "bad.yaml")
    for path, why in ((str(bad), "unknown action 'sory'"), (str(tmp_path / "missing.yaml"), "no such file or directory")):
        code, out, err = run("decide", "-p", path, "--help")
        assert code == 0 and err == ""
        assert "--json" in out and "Facts of policy" not in out
        words = " ".join(out.split())
        assert "Facts: not listed, the policy does not load:" in words and why in words


# -- misspelt options and exit codes -----------------------------------------------------------------

def test_a_misspelt_option_is_a_usage_error_with_a_hint() -> None:
    for args in (["--jsn", "1"], ["--jsn=1"], ["--severity", "high", "--channel", "email", "--jsn"]):
        code, out, err = run("decide", *args)
        assert code == 2 and out == "", args
        assert "no such option --jsn (did you mean --json?)" in err, args
    code, _, err = run("explain", "--sett", "severity=high")
    assert code == 2 and "(did you mean --set?)" in err
    code, _, err = run("decide", "--sev", "high")
    assert code == 2 and "(did you mean --set or --severity?)" in err


def test_an_unknown_fact_is_an_invalid_complaint_exit_3() -> None:
    code, _, err = run("decide", "--sevrity", "high", "--channel", "email")
    assert code == 3 and "complaint: sevrity: is not a fact of this policy (did you mean 'severity'?)" in err
    code, _, err = run("decide", "--severity", "high", "--channel", "email", "--set", "jsn=1")
    assert code == 3 and "complaint: jsn: is not a fact of this policy" in err
    code, _, err = run("decide", "--severity", "high", "--channel", "email", "--tier", "gold")
    assert code == 3 and "complaint: tier: is derived by the policy" in err
    code, out, _ = run("decide", "--severity", "high", "--channel", "email", "--complaint-id", "T-1", "--json")
    assert code == 0 and json.loads(out)["complaint_id"] == "T-1"


def test_readme_documents_both_exit_codes_of_unknown_options() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("### Exit codes"):]
    assert "| 2 | usage error" in table and "`--jsn 1`" in table
    assert "| 3 | invalid complaint" in table and "`--sevrity high`" in table


# -- prompting on a terminal ---------------------------------------------------------------------------

@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prompting, "interactive", lambda: True)


@pytest.mark.usefixtures("terminal")
def test_no_facts_on_a_terminal_asks_for_the_required_ones() -> None:
    code, out, err = run("decide", "--json", stdin="\nhgh\nhigh\nemail\n")
    assert code == 0 and err == ""
    assert "severity [low/medium/high/critical]" in out and "channel [email/phone/chat" in out
    assert "got 'hgh' (did you mean 'high'?)" in out  # refused by the reader, then asked again
    decision = json.loads(out[out.index("{"):])
    assert decision["facts"]["severity"] == "high" and decision["facts"]["channel"] == "email"


@pytest.mark.usefixtures("terminal")
def test_prompts_check_typed_values_with_the_command_line_reader(write_policy: Callable[..., Path]) -> None:
    path = write_policy(TYPED)
    code, out, _ = run("decide", "-p", str(path), "--json", stdin="y\nhigh\nlots\n-1\n12.50\nmaybe\ntrue\n")
    assert code == 0
    assert "spend (amount in USD ≥ 0)" in out and "What the customer paid." in out and "vip [true/false]" in out
    assert "expected an amount of money" in out and "must be ≥ 0; got '-1'" in out and "maybe" in out
    assert "visits" not in out.split("{")[0]  # optional facts are not asked
    facts = json.loads(out[out.index("{"):])["facts"]
    assert (facts["spend"], facts["vip"], facts["visits"]) == ("12.50", True, 1)


@pytest.mark.usefixtures("terminal")
def test_declining_or_giving_facts_keeps_todays_behaviour() -> None:
    code, out, err = run("decide", stdin="n\n")
    assert code == 3 and "complaint: severity: is required" in err
    code, out, _ = run("decide", "--severity", "low", "--channel", "email", stdin="")
    assert code == 0 and "required one(s)" not in out


def test_no_prompt_off_a_terminal() -> None:
    code, out, err = run("decide", stdin="high\nemail\n")  # the runner's stdin and stdout are not terminals
    assert code == 3 and "required one(s)" not in out
    assert "complaint: severity: is required" in err and "complaint: channel: is required" in err


@pytest.mark.usefixtures("terminal")
def test_end_of_input_exits_2_and_ctrl_c_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run("decide", stdin="y\nhigh\n")
    assert code == 2 and "gesture: input ended before channel was given" in err and "Traceback" not in err

    def interrupt(*args: object, **kwargs: object) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(PromptBase, "get_input", classmethod(interrupt))
    code, _, err = run("decide")
    assert code == 130 and "gesture: interrupted" in err and "Traceback" not in err


# -- shell completion ----------------------------------------------------------------------------------

def test_completion_offers_fact_options_and_their_values(write_policy: Callable[..., Path]) -> None:
    assert completions(["decide"], "--sev") == [("plain", "--severity")]
    assert ("plain", "--json") in completions(["decide"], "--j")
    offered = completions(["decide", "--severity", "high"], "--c")
    assert [value for _, value in offered] == ["--customer-value", "--channel", "--charged-in-error", "--complaint-id", "--customer-id"]
    assert completions(["decide", "--severity", "high"], "--sev") == []  # already given
    assert completions(["decide", "--severity"], "") == [("plain", v) for v in ("low", "medium", "high", "critical")]
    assert completions(["explain", "--issue-type"], "o") == [("plain", "out_of_stock"), ("plain", "other")]
    assert completions(["decide", "--audience"], "") == []
    assert completions(["decide", "--severity", "high"], "comp") == [("file", "comp")]  # the COMPLAINT file
    path = str(write_policy(TYPED))
    assert completions(["decide", "-p", path, "--vip"], "") == [("plain", "true"), ("plain", "false")]
    assert completions(["decide", "-p", path], "--vi") == [("plain", "--vip"), ("plain", "--visits")]


def test_completion_with_a_bad_policy_offers_only_the_commands_options(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.yaml")
    assert completions(["decide", "-p", missing], "--s") == [("plain", "--set")]
    assert completions(["decide", "-p", missing, "--severity"], "") == [("file", "")]


def test_completion_through_the_environment_variable() -> None:
    env = {"_GESTURE_COMPLETE": "bash_complete", "COMP_WORDS": "gesture decide --channel s", "COMP_CWORD": "3"}
    result = CliRunner().invoke(cli, [], prog_name="gesture", env=env)
    assert result.exit_code == 0 and result.stdout.split() == ["plain,social_media"]
    result = CliRunner().invoke(cli, [], prog_name="gesture", env={"_GESTURE_COMPLETE": "bash_source"})
    assert result.exit_code == 0 and "_GESTURE_COMPLETE=bash_complete" in result.stdout
