"""Helpdesk mappings: shipped Zendesk and Freshdesk mappings on realistic payloads, the mapping format's
pieces (value maps, tag rules, custom fields, money), payloads that do not fit, broken mapping files, and
the CLI (decide --mapping, --batch, mapping check)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
from click.testing import CliRunner

from gesture_cli.main import cli
from gesture_engine import ComplaintError, Policy
from gesture_engine.mapping import MappingError, PayloadError, load_mapping, loads_mapping, parse_money

HELPDESK = Path(__file__).parent / "fixtures" / "helpdesk"


def payload(name: str) -> Any:
    return json.loads((HELPDESK / name).read_text())


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(("mapping", "fixture", "expected", "action"), [
    ("zendesk", "zendesk_urgent_twitter.json",
     {"complaint_id": 35436, "customer_id": 20978392, "received_at": "2026-03-02T09:14:55Z", "severity": "high", "channel": "social_media",
      "issue_type": "delivery_delay", "audience": 120000, "order_value": Decimal("129.90"), "customer_value": Decimal("1250.00")},
     "personal_outreach"),
    ("zendesk", "zendesk_billing_email.json",
     {"complaint_id": 35501, "customer_id": 31000457, "received_at": "2026-03-03T14:02:11Z", "severity": "medium", "channel": "email",
      "issue_type": "billing_error", "order_value": Decimal("42.50"), "customer_value": Decimal("310"), "charged_in_error": Decimal("42.50")},
     "goodwill_credit"),
    ("zendesk", "zendesk_no_priority.json",
     {"complaint_id": 35502, "customer_id": 31000999, "received_at": "2026-03-03T15:40:00Z", "severity": "medium", "channel": "email",
      "issue_type": "other"},
     "goodwill_credit"),
    ("freshdesk", "freshdesk_urgent_twitter.json",
     {"complaint_id": "4242", "customer_id": "103000412", "received_at": "2026-03-02T09:14:55Z", "severity": "critical",
      "channel": "social_media", "issue_type": "service_failure", "audience": 48000, "order_value": Decimal("89.00"),
      "customer_value": Decimal("2740.00")},
     "personal_outreach"),
    ("freshdesk", "freshdesk_billing_email.json",
     {"complaint_id": "4250", "customer_id": "103000588", "received_at": "2026-03-04T08:00:00+01:00", "severity": "medium",
      "channel": "email", "issue_type": "billing_error", "order_value": Decimal("19.99"), "customer_value": Decimal("240"),
      "charged_in_error": Decimal("19.99")},
     "goodwill_credit"),
])
def test_shipped_mappings_turn_real_payloads_into_complaints(default_policy: Policy, mapping: str, fixture: str,
                                                             expected: dict[str, Any], action: str) -> None:
    loaded = load_mapping(mapping)
    assert loaded.check(default_policy) == []
    complaint = loaded.apply(payload(fixture))
    assert complaint == expected
    decision = default_policy.decide(complaint)
    assert decision.action == action
    assert decision.complaint_id == str(expected["complaint_id"])


def test_billing_error_payload_owes_the_refund(default_policy: Policy) -> None:
    decision = default_policy.decide(load_mapping("zendesk").apply(payload("zendesk_billing_email.json")))
    assert [(owed.gesture, owed.amount) for owed in decision.owed] == [("refund", Decimal("42.50"))]


def test_a_mapping_loads_by_path_too(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("mapping: mine\nfacts:\n  severity: {path: level}\n")
    assert load_mapping(path).apply({"level": "low"}) == {"severity": "low"}


MAPPING = """\
mapping: test
complaint_id: id
tags: labels
custom_fields: {path: fields, id: id, value: value}
facts:
  severity:
    tags: [{any: [vip], all: [angry], value: critical}]
    path: priority
    values: {P1: high, P2: medium}
    other: low
    required: true
  channel: {path: via, values: {tw: social_media}}
  audience: {custom_field: 7, type: integer}
  customer_value: {custom_field: "8", type: money}
  flag: {path: flag, type: boolean}
  level: {path: level, type: number, default: 1}
"""


def test_tag_rules_come_first_and_need_their_tags() -> None:
    mapping = loads_mapping(MAPPING)
    assert mapping.apply({"priority": "P2", "labels": ["VIP", "angry"]})["severity"] == "critical"
    assert mapping.apply({"priority": "P2", "labels": ["vip"]})["severity"] == "medium"
    assert mapping.apply({"priority": "P2", "labels": "vip, angry"})["severity"] == "critical"
    assert mapping.apply({"priority": "P2", "labels": "vip angry"})["severity"] == "critical"


def test_value_maps_ignore_case_and_fall_back_to_other() -> None:
    mapping = loads_mapping(MAPPING)
    assert mapping.apply({"priority": "p1"})["severity"] == "high"
    assert mapping.apply({"priority": "P9"})["severity"] == "low"


def test_custom_fields_by_id_typed_and_defaults() -> None:
    mapping = loads_mapping(MAPPING)
    complaint = mapping.apply({"id": 5, "priority": "P1", "fields": [{"id": 7, "value": "1,200"}, {"id": 8, "value": "€ 12.50"}],
                               "flag": "yes"})
    assert complaint == {"complaint_id": 5, "severity": "high", "audience": 1200, "customer_value": Decimal("12.50"), "flag": True,
                         "level": 1}
    keyed = mapping.apply({"priority": "P1", "fields": {"7": 3}, "level": "2.5"})
    assert keyed["audience"] == 3
    assert keyed["level"] == Decimal("2.5")


@pytest.mark.parametrize(("text", "amount"), [
    ("129.90", "129.90"), ("$1,299.00", "1299.00"), ("129.90 EUR", "129.90"), ("USD 5", "5"), (" 0 ", "0"), (42, "42"),
    (Decimal("3.5"), "3.5"), ("1,000,000", "1000000"),
])
def test_money_parsing(text: Any, amount: str) -> None:
    assert parse_money(text) == Decimal(amount)


@pytest.mark.parametrize("text", ["129,90", "-5", "1,2345.00", "12.5.1", "abc", "", True, None, Decimal("NaN"), Decimal("-1"), "1e5"])
def test_money_parsing_refuses_what_it_would_have_to_guess(text: Any) -> None:
    with pytest.raises(ValueError):
        parse_money(text)


def codes(error: ComplaintError) -> list[tuple[str, str]]:
    return [(problem.field, problem.code) for problem in error.problems]


def test_a_payload_that_does_not_fit_names_every_failing_path() -> None:
    mapping = loads_mapping(MAPPING)
    with pytest.raises(PayloadError) as caught:
        mapping.apply({"via": "fax", "labels": 5, "fields": [{"id": 7, "value": "many"}, {"id": 8, "value": "12,50"}], "flag": "maybe"})
    assert isinstance(caught.value, ComplaintError)
    assert codes(caught.value) == [("labels", "mapping_type"), ("priority", "mapping_missing"), ("via", "unmapped_value"),
                                   ("custom_fields[7]", "mapping_type"),
                                   ("custom_fields[8]", "mapping_money"), ("flag", "mapping_type")]


def test_a_required_fact_missing_from_the_payload() -> None:
    with pytest.raises(PayloadError) as caught:
        loads_mapping(MAPPING).apply({})
    assert codes(caught.value) == [("priority", "mapping_missing")]


@pytest.mark.parametrize("payload", [[1], "text", 5, None])
def test_a_payload_must_be_an_object(payload: Any) -> None:
    with pytest.raises(PayloadError) as caught:
        loads_mapping(MAPPING).apply(payload)
    assert codes(caught.value) == [("(payload)", "payload_shape")]


def test_custom_fields_of_the_wrong_shape() -> None:
    with pytest.raises(PayloadError) as caught:
        loads_mapping(MAPPING).apply({"priority": "P1", "fields": [1, 2]})
    assert codes(caught.value) == [("fields", "mapping_type")]


def located(text: str) -> list[tuple[int, int, str, str]]:
    with pytest.raises(MappingError) as caught:
        loads_mapping(dedent(text), "m.yaml")
    return [(p.line, p.column, p.path, p.code) for p in caught.value.problems]


def test_mapping_file_problems_are_located_and_coded() -> None:
    assert located("""\
        mapping: Bad Name
        facts:
          severity: {path: "priority[", typo: 1}
          channel: {type: colour, path: x}
          audience: {}
        """) == [(1, 10, "mapping", "pattern"), (3, 39, "facts.severity.typo", "unknown-key"), (4, 19, "facts.channel.type", "one-of")]
    assert located("""\
        mapping: ok
        facts:
          severity: {path: "priority["}
          audience: {}
          channel: {custom_field: 5, tags: [{value: x}], other: y}
        """) == [(3, 20, "facts.severity.path", "jmespath"), (4, 3, "facts.audience", "required"),
                 (5, 27, "facts.channel.custom_field", "required"), (5, 30, "facts.channel.tags", "required"),
                 (5, 37, "facts.channel.tags[0]", "required"), (5, 57, "facts.channel.other", "required")]


def test_mapping_file_yaml_safety_and_shape() -> None:
    assert located("mapping: a\nmapping: b\nfacts: {x: {path: a}}\n") == [(2, 1, "mapping", "duplicate-key")]
    assert located("- a\n") == [(1, 1, "", "file-shape")]
    assert located("mapping: a\nfacts: !!python/object:os.system {}\n")[0][3] == "yaml-tag"
    assert located("mapping: a\n") == [(1, 1, "", "required")]
    with pytest.raises(MappingError) as caught:
        load_mapping("/nonexistent/mapping.yaml")
    assert caught.value.problems[0].code == "file-read"


def test_check_against_a_policy_finds_unknown_facts_and_values(default_policy: Policy) -> None:
    mapping = loads_mapping(dedent("""\
        mapping: x
        facts:
          severity: {path: p, values: {a: huge}}
          colour: {path: c}
          channel: {default: fax}
          audience: {path: a}
        """), "m.yaml")
    assert [(p.line, p.path, p.code) for p in mapping.check(default_policy)] == [
        (3, "facts.severity.values.a", "value"), (4, "facts.colour", "fact"), (5, "facts.channel.default", "value")]


# -- the command line ------------------------------------------------------------------------------


def test_cli_mapping_check_prints_the_complaint() -> None:
    code, out, _ = run("mapping", "check", "zendesk", str(HELPDESK / "zendesk_urgent_twitter.json"))
    assert code == 0
    assert json.loads(out)["channel"] == "social_media"
    assert json.loads(out)["order_value"] == "129.90"


def test_cli_mapping_check_exits_3_for_a_payload_that_does_not_fit() -> None:
    code, _, err = run("mapping", "check", "zendesk", "-", stdin='{"ticket": {"priority": "extreme"}}')
    assert code == 3
    assert "ticket.priority" in err


def test_cli_mapping_check_exits_4_for_a_mapping_that_does_not_fit_the_policy(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("mapping: m\nfacts:\n  colour: {path: c}\n")
    code, _, err = run("mapping", "check", str(path), "-", stdin="{}")
    assert code == 4
    assert "m.yaml:3:3" in err


def test_cli_decide_with_a_mapping_is_decide_of_the_mapped_complaint(default_policy: Policy) -> None:
    fixture = HELPDESK / "freshdesk_urgent_twitter.json"
    code, out, _ = run("decide", "--mapping", "freshdesk", str(fixture), "--json")
    assert code == 0
    expected = default_policy.decide(load_mapping("freshdesk").apply(payload(fixture.name)))
    assert out == expected.model_dump_json(indent=2) + "\n"
    code, out, _ = run("decide", "--mapping", "freshdesk", str(fixture), "--json", "--severity", "low")
    assert json.loads(out)["facts"]["severity"] == "low"


def test_cli_decide_with_a_mapping_needs_a_payload_and_a_good_mapping(tmp_path: Path) -> None:
    assert run("decide", "--mapping", "zendesk", "--severity", "low")[0] == 2
    code, _, err = run("decide", "--mapping", str(tmp_path / "none.yaml"), "-", stdin="{}")
    assert code == 4
    assert "file-read" not in err and "cannot read file" in err


def test_cli_batch_with_a_mapping_keeps_order_and_reports_bad_lines(tmp_path: Path, default_policy: Policy) -> None:
    lines = [json.dumps(payload("zendesk_urgent_twitter.json")), "", '{"ticket": {"priority": "extreme"}}', "[1]",
             json.dumps(payload("zendesk_billing_email.json"))]
    source = tmp_path / "tickets.jsonl"
    source.write_text("\n".join(lines) + "\n")
    code, out, _ = run("decide", "--mapping", "zendesk", "--batch", str(source))
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert [r.get("complaint_id") or r.get("line") for r in records] == ["35436", 3, 4, "35501"]
    assert records[1]["problems"][0]["field"] == "ticket.priority"
    _, with_workers, _ = run("decide", "--mapping", "zendesk", "--batch", str(source), "--workers", "2")
    assert with_workers == out


def test_cli_batch_with_a_mapping_in_workers_is_the_same_bytes_over_many_blocks(tmp_path: Path) -> None:
    """Enough payloads for several of a batch's blocks (each worker takes blocks of about 512 KiB), bad ones among them."""
    kinds = [json.dumps(payload(name)) for name in ("zendesk_urgent_twitter.json", "zendesk_billing_email.json", "zendesk_no_priority.json")]
    lines = [kinds[i % 3] if i % 97 else '{"ticket": {"priority": "extreme"}}' for i in range(1800)]
    source = tmp_path / "tickets.jsonl"
    source.write_text("\n".join(lines) + "\n")
    assert source.stat().st_size > 3 * (1 << 19)
    code, one, _ = run("decide", "--mapping", "zendesk", "--batch", str(source))
    assert code == 0 and len(one.splitlines()) == 1800
    assert sum('"error": "invalid_complaint"' in line for line in one.splitlines()) == 19
    code, _, _ = run("decide", "--mapping", "zendesk", "--batch", str(source), "--workers", "3", "--out", str(tmp_path / "out.jsonl"))
    assert code == 0 and (tmp_path / "out.jsonl").read_text() == one


def test_spawned_workers_load_the_mapping_from_its_text(tmp_path: Path, default_policy: Policy, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that is not forked gets the mapping as the text it was loaded from, not its file (gone by then)."""
    import functools
    import io
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from gesture_engine import batch
    from gesture_engine.mapping import decide_payloads

    file = tmp_path / "desk.yaml"
    file.write_text("mapping: desk\nfacts:\n  severity: {path: p, values: {p1: critical, p2: low}}\n  channel: {default: chat}\n")
    mapping = load_mapping(file)
    file.unlink()
    stream = b'{"p": "p1"}\n{"p": "p9"}\n\n{"p": "p2"}\n' * 20
    alone, spread = io.BytesIO(), io.BytesIO()
    assert decide_payloads(default_policy, mapping, io.BytesIO(stream), alone) == 60
    monkeypatch.setattr(batch, "ProcessPoolExecutor", functools.partial(ProcessPoolExecutor, mp_context=multiprocessing.get_context("spawn")))
    assert decide_payloads(default_policy, mapping, io.BytesIO(stream), spread, workers=2) == 60
    assert spread.getvalue() == alone.getvalue()
    records = [json.loads(line) for line in alone.getvalue().splitlines()[:3]]
    assert records[0]["facts"]["severity"] == "critical" and records[2]["facts"]["severity"] == "low"
    assert (records[1]["line"], records[1]["error"], records[1]["problems"][0]["field"]) == (2, "invalid_complaint", "p")
