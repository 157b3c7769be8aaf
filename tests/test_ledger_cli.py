"""``gesture decide --ledger`` and ``gesture ledger ...``: JSON for machines, and each refusal its own exit code."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from gesture_cli.ledger_cmd import EXIT_LEDGER_OTHER
from gesture_cli.main import cli
from gesture_engine.ledger.schema import SCHEMA_VERSION

HIGH = ["--severity", "high", "--channel", "social_media", "--audience", "120000", "--customer-id", "C-9"]  # 300.00 USD: manager approves


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'goodwill.db'}"


def reserve(url: str, complaint_id: str, *extra: str) -> dict[str, object]:
    code, out, err = run("decide", *HIGH, "--complaint-id", complaint_id, "--ledger", url, "--json", *extra)
    assert code == 0, err
    reservation: dict[str, object] = json.loads(out)["reservation"]
    return reservation


def test_decide_through_a_ledger_reserves_and_answers_with_both(url: str) -> None:
    code, out, _ = run("decide", *HIGH, "--complaint-id", "T-1", "--ledger", url, "--json", "--team", "north", "--actor", "ann")
    assert code == 0
    answer = json.loads(out)
    assert answer["decision"]["facts"]["goodwill_last_90d"] == "0.00"
    reservation = answer["reservation"]
    assert (reservation["state"], reservation["reserved"], reservation["team"], reservation["approval_level"]) == ("reserved", "300.00",
                                                                                                                 "north", "manager")
    code, out, _ = run("decide", *HIGH, "--complaint-id", "T-2", "--json", env={"GESTURE_LEDGER": url})
    assert json.loads(out)["decision"]["facts"]["goodwill_last_90d"] == "300.00"
    code, out, _ = run("decide", *HIGH, "--complaint-id", "T-1", "--ledger", url)  # the panel, for the existing reservation
    assert code == 0 and "Goodwill ledger" in out and str(reservation["reservation_id"]) in out and "decided" in out


def test_ledger_refusals_exit_with_their_own_codes(url: str, tmp_path: Path) -> None:
    rid = str(reserve(url, "T-1")["reservation_id"])
    cases = [
        (("ledger", "issue", "nope"), 5, "unknown_reservation"),
        (("ledger", "issue", rid), 10, "approval_required"),
        (("ledger", "approve", rid, "--actor", "lee", "--level", "agent"), 10, "level_too_low"),
        (("ledger", "issue", rid, "--amount", "-1"), 8, "negative_amount"),
        (("ledger", "issue", rid, "--amount", "5", "--currency", "EUR"), 9, "currency_mismatch"),
    ]
    for args, exit_code, code in cases:
        status, out, err = run(*args, "--ledger", url, "--json")
        assert (status, json.loads(out)["error"]) == (exit_code, code), (args, err)
        assert f"gesture: ledger: {code}:" in err
    assert run("ledger", "approve", rid, "--actor", "mia", "--level", "manager", "--ledger", url)[0] == 0
    status, out, _ = run("ledger", "issue", rid, "--amount", "300.01", "--ledger", url, "--json")
    assert (status, json.loads(out)["error"]) == (7, "exceeds_reservation")
    status, out, _ = run("ledger", "issue", rid, "--amount", "100", "--ledger", url, "--json")
    assert status == 0 and json.loads(out)["held"] == "100.00"
    assert run("ledger", "issue", rid, "--ledger", url)[0] == 6  # already_issued
    assert run("ledger", "release", rid, "--ledger", url)[0] == 6
    other = str(reserve(url, "T-2")["reservation_id"])
    assert run("ledger", "release", other, "--ledger", url)[0] == 0
    assert run("ledger", "release", other, "--ledger", url)[0] == 11  # reservation_closed
    assert run("ledger", "show", "C-9", "--ledger", f"sqlite:///{tmp_path}/no/such/dir.db")[0] == 12  # unreachable
    with sqlite3.connect(tmp_path / "goodwill.db") as connection:
        connection.execute("UPDATE ledger_schema SET version = ?", (SCHEMA_VERSION + 1,))
    status, _, err = run("ledger", "show", "C-9", "--ledger", url)
    assert status == 13 and "schema_too_new" in err
    assert run("ledger", "spend", "--period", "12-2026", "--ledger", f"sqlite:///{tmp_path}/other.db")[0] == EXIT_LEDGER_OTHER


def test_show_spend_export_import_and_migrate(url: str, tmp_path: Path) -> None:
    assert run("ledger", "migrate", "--ledger", url)[1] == f"ledger at schema version {SCHEMA_VERSION}\n"
    history = tmp_path / "history.csv"
    history.write_text("customer_id,amount,currency,at,team\nC-9,900,USD,2026-12-01,north\n", encoding="utf-8")
    assert run("ledger", "import", str(history), "--ledger", url)[1] == "imported 1 rows\n"
    status, _, err = run("ledger", "import", str(history), "--ledger", url)
    assert status == EXIT_LEDGER_OTHER and "already_imported (line 2)" in err
    decision = json.loads(run("decide", *HIGH, "--complaint-id", "T-1", "--ledger", url, "--json")[1])["decision"]
    assert decision["budget"]["amount"] == "100.00"  # 1000 - 900 imported
    shown = json.loads(run("ledger", "show", "C-9", "--ledger", url, "--json")[1])
    assert [(r["state"], r["held"]) for r in shown] == [("issued", "900.00"), ("reserved", "100.00")]
    spent = json.loads(run("ledger", "spend", "--period", "2026-12", "--team", "north", "--ledger", url, "--json")[1])
    assert spent == {"period": "2026-12", "spend": [{"team": "north", "currency": "USD", "amount": "900.00"}]}
    status, out, _ = run("ledger", "export", "--format", "jsonl", "--ledger", url)
    assert status == 0 and [json.loads(line)["kind"] for line in out.splitlines()] == ["reserved", "issued", "decided", "reserved"]
    assert run("ledger", "expire", "--ledger", url)[1] == "expired 0 reservations\n"


def test_ledger_options_need_a_ledger_and_a_complaint_needs_its_ids(url: str) -> None:
    assert run("decide", *HIGH, "--team", "north")[0] == 2
    status, _, err = run("decide", "--severity", "high", "--channel", "email", "--ledger", url)
    assert status == 3 and "complaint_id" in err and "customer_id" in err
    status, _, err = run("decide", *HIGH, "--complaint-id", "T-1", "--goodwill-last-90d", "0", "--ledger", url)
    assert status == 3 and "goodwill_last_90d" in err
