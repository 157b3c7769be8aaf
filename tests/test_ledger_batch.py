"""``gesture decide --batch FILE --ledger URL``: every row decided and reserved through the ledger, in order;
a rerun returns the existing reservations; bad rows reported in place; and the panel's history facts."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from gesture_cli.main import cli
from gesture_engine import load_policy
from gesture_engine.ledger import Ledger
from gesture_engine.ledger.batch import decide_through
from gesture_engine.resources import default_policy_path
from tests.ledger_support import LEDGER_POLICY

CAPS = str(default_policy_path().parent / "examples" / "goodwill-caps")

ROWS = [
    {"complaint_id": "t1", "customer_id": "c9", "severity": "medium"},
    {"complaint_id": "t2", "customer_id": "c9", "severity": "medium"},
    {"complaint_id": "t3", "customer_id": "c9", "severity": "medium"},  # the third credit in 90 days: none
    {"complaint_id": "t4", "customer_id": "c9", "severity": "medium", "credits_last_90d": 0},  # no spoofing the cap
    {"complaint_id": "t5", "severity": "high"},  # no customer
    {"complaint_id": "t1", "customer_id": "c8", "severity": "high"},  # t1 is c9's
    {"complaint_id": "t6", "customer_id": "c8", "severity": "high"},
]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def jsonl(path: Path, rows: list[dict[str, object]], extra: str = "") -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows) + extra)
    return str(path)


def event_count(db: Path) -> int:
    with sqlite3.connect(db) as connection:
        count: int = connection.execute("SELECT count(*) FROM ledger_events").fetchone()[0]
    return count


def test_a_batch_through_a_ledger_decides_and_reserves_each_row_in_order(tmp_path: Path) -> None:
    db = tmp_path / "goodwill.db"
    source = jsonl(tmp_path / "in.jsonl", ROWS, "\nnot json\n")
    out = tmp_path / "out.jsonl"
    code, _, err = run("decide", "-p", CAPS, "--batch", source, "--ledger", f"sqlite:///{db}", "--out", str(out), "--team", "north")
    assert code == 0, err
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 8
    decided = [(line["decision"]["complaint_id"], line["decision"]["rule"], line["decision"]["budget"]["amount"],
                line["reservation"]["reserved"], line["reservation"]["team"], line["reservation"]["existing"])
               for line in lines if "decision" in line]
    assert decided == [("t1", "everyday-credit", "25.00", "25.00", "north", False), ("t2", "everyday-credit", "25.00", "25.00", "north", False),
                       ("t3", "everyday-credit-cap", "0.00", "0.00", "north", False), ("t6", "serious", "150.00", "150.00", "north", False)]
    assert lines[2]["decision"]["facts"]["credits_last_90d"] == 2
    assert (lines[3]["line"], lines[3]["error"], [p["field"] for p in lines[3]["problems"]]) == (4, "invalid_complaint", ["credits_last_90d"])
    assert (lines[4]["line"], lines[4]["error"], lines[4]["problems"][0]["field"]) == (5, "invalid_complaint", "customer_id")
    assert (lines[5]["line"], lines[5]["error"]) == (6, "complaint_id_reused")
    assert (lines[7]["line"], lines[7]["error"]) == (9, "invalid_complaint")  # line 8 is blank
    assert event_count(db) == 8  # decided + reserved for each of the four decided rows

    code, again, err = run("decide", "-p", CAPS, "--batch", source, "--ledger", f"sqlite:///{db}", "--team", "north")  # a rerun
    assert code == 0, err
    rerun = [json.loads(line) for line in again.splitlines()]
    assert [line["reservation"]["existing"] for line in rerun if "decision" in line] == [True] * 4
    assert [line.get("reservation", {}).get("reservation_id") for line in rerun] == [
        line.get("reservation", {}).get("reservation_id") for line in lines]
    assert [line["decision"] for line in rerun if "decision" in line] == [line["decision"] for line in lines if "decision" in line]
    assert event_count(db) == 8  # nothing reserved twice


def test_a_csv_batch_goes_through_the_ledger_too(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("complaint_id,customer_id,severity\nt1,c9,high\nt2,c9,low\nt3,,low\n")
    code, out, err = run("decide", "-p", CAPS, "--batch", str(source), "--ledger", f"sqlite:///{tmp_path / 'g.db'}")
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["decision"]["rule"] for line in lines[:2]] == ["serious", "apologise"]
    assert lines[1]["decision"]["facts"]["complaints_last_30d"] == 1
    assert (lines[2]["line"], lines[2]["error"], lines[2]["problems"][0]["field"]) == (4, "invalid_complaint", "customer_id")


def test_workers_and_redecide_are_refused_with_a_ledger_batch(tmp_path: Path) -> None:
    source = jsonl(tmp_path / "in.jsonl", ROWS[:1])
    url = f"sqlite:///{tmp_path / 'g.db'}"
    code, _, err = run("decide", "-p", CAPS, "--batch", source, "--ledger", url, "--workers", "2")
    assert code == 2 and "--workers" in err
    code, _, err = run("decide", "-p", CAPS, "--batch", source, "--ledger", url, "--redecide")
    assert code == 2 and "--redecide" in err
    assert not (tmp_path / "g.db").exists()


def test_a_ledger_refusal_that_is_not_the_rows_stops_the_batch_and_leaves_out_as_it_was(tmp_path: Path) -> None:
    policy = tmp_path / "windowless.yaml"
    policy.write_text(LEDGER_POLICY.replace(", window_days: 30", ""))
    source = jsonl(tmp_path / "in.jsonl", [{"complaint_id": "a", "customer_id": "b", "severity": "low"}])
    out = tmp_path / "out.jsonl"
    out.write_text("before\n")
    code, _, err = run("decide", "-p", str(policy), "--batch", source, "--ledger", f"sqlite:///{tmp_path / 'g.db'}", "--out", str(out))
    assert code == 14 and "policy_window_missing" in err
    assert out.read_text() == "before\n"


def test_decide_through_writes_one_line_per_row(tmp_path: Path) -> None:
    policy = load_policy(CAPS)
    sink = io.BytesIO()
    rows = b"".join(json.dumps(row).encode() + b"\n" for row in ROWS[:3])
    with Ledger.open(f"sqlite:///{tmp_path / 'g.db'}") as ledger:
        assert decide_through(ledger, policy, io.BytesIO(rows), sink) == 3
    first = sink.getvalue().splitlines()[0]
    assert first.startswith(b'{"decision":{"complaint_id":"t1"') and b'"reservation":{"reservation_id":' in first


@pytest.mark.parametrize("existing", [False, True])
def test_the_decision_panel_shows_the_customers_history_facts(tmp_path: Path, existing: bool) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    for number in range(1, 4):
        code, _, err = run("decide", "-p", CAPS, "--ledger", url, "--complaint-id", f"t{number}", "--customer-id", "c9", "--severity", "medium")
        assert code == 0, err
    code, out, _ = run("decide", "-p", CAPS, "--ledger", url, "--complaint-id", "t3" if existing else "t4", "--customer-id", "c9",
                       "--severity", "medium")
    assert code == 0
    assert "credits_last_90d  2  (account_credit given in the last 90d)" in out
    assert f"complaints_last_30d  {2 if existing else 3}  (complaints decided in the last 30d)" in out
    assert "50.00 USD given or reserved in the last 90 days" in out


def test_a_history_fact_given_on_the_command_line_through_a_ledger_exits_3(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    code, _, err = run("decide", "-p", CAPS, "--ledger", url, "--complaint-id", "t1", "--customer-id", "c9", "--severity", "medium",
                       "--complaints-last-30d", "0")
    assert code == 3 and "complaints_last_30d" in err
    code, out, _ = run("decide", "-p", CAPS, "--severity", "medium", "--credits-last-90d", "2", "--json")  # without a ledger: the caller's
    assert code == 0 and json.loads(out)["rule"] == "everyday-credit-cap"


def test_helpdesk_payloads_go_through_a_mapping_and_the_ledger(tmp_path: Path) -> None:
    fixtures = Path(__file__).parent / "fixtures" / "helpdesk"
    payloads = [json.loads((fixtures / name).read_text()) for name in ("zendesk_billing_email.json", "zendesk_urgent_twitter.json")]
    source = tmp_path / "tickets.jsonl"
    source.write_text("".join(json.dumps(payload) + "\n" for payload in payloads))
    url = f"sqlite:///{tmp_path / 'g.db'}"
    code, out, err = run("decide", "--mapping", "zendesk", "--batch", str(source), "--ledger", url)
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["reservation"]["complaint_id"] for line in lines] == [str(p["ticket"]["id"]) for p in payloads]
    code, _, err = run("decide", "--mapping", "zendesk", "--batch", str(source), "--format", "csv", "--ledger", url)
    assert code == 2 and "JSON Lines" in err


def test_ledger_show_lists_a_policys_history_facts_for_the_customer(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'goodwill.db'}"
    source = jsonl(tmp_path / "in.jsonl", ROWS[:3])
    assert run("decide", "-p", CAPS, "--batch", source, "--ledger", url, "--out", str(tmp_path / "out.jsonl"))[0] == 0
    code, out, _ = run("ledger", "show", "c9", "--ledger", url, "--policy", CAPS, "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["policy"] == "goodwill_caps" and len(shown["reservations"]) == 3
    assert shown["history"] == {"goodwill_last_90d": "50.00", "credits_last_90d": 2, "complaints_last_30d": 3}
    code, out, _ = run("ledger", "show", "c9", "--ledger", url, "--policy", CAPS)
    assert code == 0 and "credits_last_90d  2  (account_credit given in the last 90d)" in out
    code, out, _ = run("ledger", "show", "c9", "--ledger", url, "--json")  # without a policy: the reservations, as before
    assert [r["complaint_id"] for r in json.loads(out)] == ["t1", "t2", "t3"]
    assert run("ledger", "show", "c9", "--ledger", url, "--policy", str(tmp_path / "missing.yaml"))[0] != 0
