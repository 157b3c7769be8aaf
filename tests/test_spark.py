"""Decisions and replays on Spark (local[2], one session for the whole run: the ``spark`` fixture in
conftest.py) give exactly ``policy.decide``'s and ``gesture diff --replay``'s answers, keep bad rows as
error rows, and fail whole, with our error codes, when the policy cannot be used."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from click.testing import CliRunner

from benchmarks.table import default_policy_complaints
from gesture_cli.main import cli
from gesture_engine import ComplaintError, PolicyError, load_policy
from gesture_engine.batch import decide_stream
from gesture_engine.load.source import parse_policy_files
from gesture_engine.mapping import load_mapping
from gesture_engine.resources import default_policy_path
from gesture_engine.spark import PolicyFiles, SparkError, decide_dataframe, decision_columns, replay_dataframe, replay_summary
from gesture_engine.spark._policy import policy_for
from gesture_engine.spark.files import read_complaints, write_decisions
from gesture_engine.tools.diff import mapped, read_replay, replay
from tests.conftest import MINIMAL

pytestmark = pytest.mark.spark

SCHEMA = ("complaint_id string, customer_id string, received_at timestamp, severity string, channel string, audience long, "
          "issue_type string, customer_value string, order_value decimal(14,2), goodwill_last_90d decimal(14,2), note string")
FACTS = ("severity", "channel", "audience", "issue_type", "customer_value", "order_value", "goodwill_last_90d")
BAD = [  # every 97th row is broken one of these ways; a null customer_value is no mistake (its default applies)
    {"severity": None}, {"channel": "fax"}, {"audience": -3}, {"customer_value": "12,50"}, {"customer_value": None},
    {"severity": "urgent", "audience": None},
]


def generated_rows(count: int) -> list[dict[str, Any]]:
    rows = []
    start = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    for i, complaint in enumerate(default_policy_complaints(count, seed=11)):
        received = start + timedelta(minutes=i) if i % 3 else None
        row: dict[str, Any] = {"complaint_id": f"c{i:05d}", "customer_id": f"u{i % 50}", "received_at": received,
                               **complaint, "customer_value": str(complaint["customer_value"]), "note": f"extra {i}"}
        if i % 97 == 5:
            row.update(BAD[i // 97 % len(BAD)])
        rows.append(row)
    return rows


def table(spark: Any, rows: list[dict[str, Any]], schema: str) -> Any:
    """A DataFrame of ``rows`` made on the driver through Arrow (no Python worker: quicker than rows one by one), in 3 partitions."""
    from pyspark.sql.pandas.types import to_arrow_schema
    from pyspark.sql.types import _parse_datatype_string

    spark_schema = _parse_datatype_string(schema)
    arrow = pa.Table.from_pylist(rows, schema=to_arrow_schema(spark_schema, timezone="UTC"))
    return spark.createDataFrame(arrow).repartition(3)


def local_complaint(row: dict[str, Any]) -> dict[str, Any]:
    """The complaint ``decide`` gets for a row: its fact and envelope columns, nulls left out."""
    complaint = {k: v for k, v in row.items() if k != "note" and v is not None}
    if "received_at" in complaint:
        complaint["received_at"] = complaint["received_at"].isoformat()
    return complaint


def test_every_column_equals_local_decide(spark: Any) -> None:
    policy = load_policy()
    rows = generated_rows(3000)
    out = decide_dataframe(table(spark, rows, SCHEMA), policy)
    assert out.columns[:11] == [c.split()[0] for c in SCHEMA.split(", ")] and out.columns[11:] == ["locale", *decision_columns()]
    types = dict(out.dtypes)
    assert types["budget_amount"] == "decimal(18,2)" and types["respond_within_seconds"] == "bigint" and types["respond_by"] == "timestamp"
    got = {r["complaint_id"]: r.asDict(recursive=True) for r in out.collect()}
    assert len(got) == len(rows)
    invalid = 0
    for row in rows:
        spark_row = got[row["complaint_id"]]
        assert spark_row["note"] == row["note"]  # other columns pass through
        try:
            d = policy.decide(local_complaint(row))
        except ComplaintError as error:
            invalid += 1
            assert spark_row["action"] is None and spark_row["budget_amount"] is None
            assert spark_row["error"] == {"code": "invalid_complaint",
                                          "problems": [{"field": p.field, "code": p.code, "message": p.message} for p in error.problems]}
            continue
        assert spark_row["error"] is None
        expected = {
            "decision_id": d.decision_id, "action": d.action, "action_label": d.action_label, "rule": d.rule,
            "gestures": [{"id": g.id, "label": g.label, "monetary": g.monetary} for g in d.gestures],
            "budget_amount": d.budget.amount, "budget_currency": d.budget.currency,
            "owed": [{"gesture": o.gesture, "amount": o.amount, "currency": o.currency, "text": o.text} for o in d.owed],
            "respond_within": d.respond_within, "respond_within_seconds": d.respond_within_seconds, "approval_level": d.approval.level,
            "rules_fired": [t.rule for t in d.trace], "reasons": list(d.reasons),
            "policy_name": "default", "policy_version": d.policy.version, "policy_fingerprint": policy.fingerprint,
        }
        assert {k: spark_row[k] for k in expected} == expected, row["complaint_id"]
        assert str(spark_row["budget_amount"]) == str(d.budget.amount)  # to the cent, scale and all
        if d.respond_by is None:
            assert spark_row["respond_by"] is None
        else:
            assert spark_row["respond_by"].timestamp() == d.respond_by.timestamp()
    assert 25 <= invalid < 40  # the broken rows, less the harmless null customer_value


def test_nulls_wrong_types_extra_columns_and_empty_partitions(spark: Any) -> None:
    rows = [("a", "high", "social_media", 120000, "x"), ("b", None, "chat", None, "y"), ("c", "low", "email", None, "z")]
    df = spark.createDataFrame(rows, "complaint_id string, severity string, channel string, audience long, unrelated string").repartition(8)
    got = {r["complaint_id"]: r for r in decide_dataframe(df).collect()}  # 8 partitions for 3 rows: most are empty
    assert got["a"]["action"] == "personal_outreach" and got["a"]["unrelated"] == "x"
    assert [(p["field"], p["code"]) for p in got["b"]["error"]["problems"]] == [("severity", "required")]
    assert got["c"]["error"] is None and got["c"]["budget_amount"] == Decimal("0.00")  # a null audience takes its default
    wrong = spark.createDataFrame([("d", "low", "email", "12")], "complaint_id string, severity string, channel string, audience string")
    problem = decide_dataframe(wrong).first()["error"]["problems"][0]
    assert (problem["field"], problem["code"]) == ("audience", "wrong_type")
    empty = decide_dataframe(spark.createDataFrame([], "severity string, channel string"))
    assert empty.count() == 0 and "error" in empty.columns


def test_json_and_text_columns_read_as_the_local_batch_reads(spark: Any) -> None:
    lines = ['{"complaint_id": "j1", "severity": "high", "channel": "press", "audience": 20000, "customer_value": 1200.50}',
             '{"severity": "low", "channel": "email", "severity": "high"}', "not json", "[1, 2]"]
    out = decide_dataframe(spark.createDataFrame([(line,) for line in lines], "complaint string"), json_column="complaint").collect()
    assert out[0]["complaint_id"] == "j1" and out[0]["budget_amount"] == load_policy().decide(json.loads(lines[0], parse_float=Decimal)).budget.amount
    assert [[p["code"] for p in row["error"]["problems"]] for row in out[1:]] == [["repeated_key"], ["invalid_json"], ["not_an_object"]]
    cells = spark.createDataFrame([(" high ", "chat", "42", "")], "severity string, channel string, audience string, ` customer_value` string")
    row = decide_dataframe(cells, text=True).first()
    assert row["error"] is None and row["rule"] == load_policy().decide({"severity": "high", "channel": "chat", "audience": 42}).rule


def test_columns_that_cannot_work_are_refused_before_any_job(spark: Any) -> None:
    with pytest.raises(SparkError) as conflict:
        decide_dataframe(spark.createDataFrame([("low", "x")], "severity string, action string"))
    assert conflict.value.code == "column-conflict"
    with pytest.raises(SparkError) as missing:
        decide_dataframe(spark.createDataFrame([("low",)], "severity string"), json_column="complaint")
    assert missing.value.code == "json-column"


# -- the policy on executors --------------------------------------------------------------------------

def test_policy_files_compile_once_and_load_as_from_disk(tmp_path: Path) -> None:
    files = PolicyFiles.read()
    assert files.directory and [name for name, _ in files.files] == ["policy.yaml", "rules.yaml"]
    assert policy_for(files) is policy_for(files) and files.fingerprint == load_policy().fingerprint
    broken = tmp_path / "broken"
    shutil.copytree(default_policy_path(), broken, ignore=shutil.ignore_patterns("tests"))
    (broken / "rules.yaml").write_text("rules: [\n", encoding="utf-8")
    with pytest.raises(PolicyError) as on_disk:
        load_policy(broken)
    contents = tuple((p.name, p.read_bytes()) for p in sorted(broken.glob("*.yaml")))
    with pytest.raises(PolicyError) as from_bytes:
        parse_policy_files(contents, str(broken), directory=True)
    assert from_bytes.value.problems == on_disk.value.problems
    assert PolicyFiles.from_text(MINIMAL, "tiny.yaml").load().name == "tiny"


def executor_failure(spark: Any, files: PolicyFiles) -> SparkError:
    """Run a decision job whose executors get ``files``; the driver already trusts their fingerprint."""
    df = decide_dataframe(spark.createDataFrame([("low", "email")], "severity string, channel string"), files)
    with pytest.raises(Exception) as failed:  # Spark's wrapper around the executor's failure
        df.collect()
    found = SparkError.raised_in(failed.value)
    assert found is not None, failed.value
    return found


def test_an_executor_refuses_a_policy_that_is_another_or_does_not_load_and_nothing_is_written(spark: Any, tmp_path: Path) -> None:
    # A policy only this process has compiled: the driver finds its fingerprint in its cache, executors
    # (other processes) compile the bytes they were sent, as a machine with another engine version would.
    tiny = PolicyFiles.from_text(MINIMAL.replace("policy: tiny", "policy: tiny_executor_check"), "tiny.yaml")
    other = PolicyFiles(tiny.source, PolicyFiles.read().files, True, tiny.fingerprint)
    assert executor_failure(spark, other).code == "policy-mismatch"
    garbage = PolicyFiles("bad.yaml", (("bad.yaml", b"policy: [\n"),), False, tiny.fingerprint)
    doomed = decide_dataframe(spark.createDataFrame([("low", "email")], "severity string, channel string"), garbage)
    with pytest.raises(SparkError) as failed:
        write_decisions(doomed, str(tmp_path / "out.parquet"), "parquet")
    assert failed.value.code == "policy-invalid" and "bad.yaml:" in failed.value.message
    assert list(tmp_path.iterdir()) == []  # neither the output nor its hidden temporary directory


# -- replays ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def proposal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default policy with a bigger goodwill credit, dearer crises, misconduct answered personally, and gold from 2,000."""
    policy = tmp_path_factory.mktemp("proposal") / "acme"
    shutil.copytree(default_policy_path(), policy, ignore=shutil.ignore_patterns("tests"))
    rules = policy / "rules.yaml"
    text = rules.read_text(encoding="utf-8")
    for old, new in (("low: 10, medium: 25, high: 40", "low: 15, medium: 30, high: 40"), ("high: 150, critical: 300", "high: 150, critical: 350"),
                     ("action: executive_apology", "action: personal_outreach")):
        assert old in text
        text = text.replace(old, new)
    rules.write_text(text, encoding="utf-8")
    facts = policy / "policy.yaml"
    facts.write_text(facts.read_text(encoding="utf-8").replace("customer_value: {gte: 2500}}", "customer_value: {gte: 2000}}"), encoding="utf-8")
    return policy


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """JSON Lines a helpdesk exported: money as JSON numbers, ids on most, bad and blank lines among them."""
    path = tmp_path_factory.mktemp("history") / "complaints.jsonl"
    lines = []
    for i, row in enumerate(generated_rows(2000)):
        complaint = {k: v for k, v in local_complaint(row).items() if k != "received_at" and (k != "complaint_id" or i % 7)}
        lines.append("{" + ", ".join(f"{json.dumps(k)}: {json_value(v)}" for k, v in complaint.items()) + "}")
        if i % 400 == 17:
            lines.extend(["", "{not json", "[]"])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def json_value(value: Any) -> str:
    if isinstance(value, Decimal) or (isinstance(value, str) and re.fullmatch(r"[0-9]+\.[0-9]+", value)):
        return str(value)  # money as a JSON number, every digit kept
    return json.dumps(value)


def test_replay_summary_equals_gesture_diff_replay(spark: Any, history: Path, proposal: Path, tmp_path: Path) -> None:
    local = replay(load_policy(), load_policy(proposal), read_replay(history), top=10).to_dict()
    assert local["changed"] > 50 and local["bad_lines"] == 10 and local["transitions"]
    by_tier = {row["value"]: row for row in local["budget_by_fact"]["tier"]}
    assert list(by_tier) == ["standard", "silver", "gold", "platinum"] and by_tier["gold"]["delta"] != "0.00"
    assert {row["value"] for row in local["budget_by_fact"]["channel"]} == {"email", "phone", "chat", "app_review", "social_media", "press"}
    source = read_complaints(spark, str(history), "jsonl", keep_blank=True)
    assert source.df.rdd.getNumPartitions() > 1  # positions count across partitions
    assert replay_summary(source.df, None, str(proposal), json_column=source.json_column).to_dict() == local
    csv_path = tmp_path / "complaints.csv"
    with csv_path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, ["complaint_id", "customer_id", *FACTS])
        writer.writeheader()
        for line in history.read_text(encoding="utf-8").splitlines()[:600]:
            if line.startswith('{"'):
                writer.writerow(json.loads(line, parse_float=Decimal))
    table = read_complaints(spark, str(csv_path), "csv")
    spark_csv = replay_summary(table.df, None, str(proposal), text=True, first_line=table.first_line).to_dict()
    assert spark_csv == replay(load_policy(), load_policy(proposal), read_replay(csv_path), top=10).to_dict()


def test_replay_dataframe_sets_old_and_new_side_by_side(spark: Any, proposal: Path) -> None:
    rows = [("m1", "high", "chat", "staff_misconduct", None), ("m2", "low", "email", "other", "12,5")]
    df = spark.createDataFrame(rows, "complaint_id string, severity string, channel string, issue_type string, customer_value string")
    got = {r["complaint_id"]: r for r in replay_dataframe(df, load_policy(), str(proposal)).collect()}
    assert (got["m1"]["old_action"], got["m1"]["new_action"]) == ("executive_apology", "personal_outreach")
    assert got["m1"]["changed"] == ["action"] and got["m1"]["budget_delta"] == Decimal("0.00")
    assert got["m2"]["old_error"] == got["m2"]["new_error"] == "invalid_complaint" and got["m2"]["changed"] == []


# -- the command line -------------------------------------------------------------------------------

def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_cli_decide_writes_all_or_nothing(spark: Any, history: Path, tmp_path: Path) -> None:
    local = io.BytesIO()
    decide_stream(load_policy(), history.open("rb"), local)
    lines = local.getvalue().splitlines()
    invalid = sum(line.startswith(b'{"line"') for line in lines)
    out = tmp_path / "decisions.parquet"
    code, _, err = run("spark", "decide", str(history), str(out))
    assert code == 0 and f"{len(lines)} complaint(s), {invalid} invalid" in err, err  # as gesture decide --batch: blank lines skipped
    assert spark.read.parquet(str(out)).where("error is not null").count() == invalid
    code, _, err = run("spark", "decide", str(history), str(out))
    assert code == 2 and "output-exists" in err
    assert run("spark", "decide", str(history), str(tmp_path / "d.jsonl"), "-p", str(tmp_path / "nowhere"))[0] == 4
    assert run("spark", "decide", str(tmp_path / "missing.parquet"), str(tmp_path / "x.parquet"))[0] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["decisions.parquet"]  # nothing left behind by the failures
    assert run("spark", "decide", str(out), str(tmp_path / "again.parquet"))[0] == 2  # decisions again: column-conflict
    complaints = tmp_path / "complaints.parquet"
    table(spark, generated_rows(40), SCHEMA).write.parquet(str(complaints))
    code, _, err = run("spark", "decide", str(complaints), str(tmp_path / "decided.csv"))
    assert code == 0, err
    written = spark.read.option("header", True).csv(str(tmp_path / "decided.csv")).where("complaint_id = 'c00001'").first()
    assert json.loads(written["gestures"])[0]["id"] == "apology" and written["note"] == "extra 1"


def test_cli_replay_prints_what_gesture_diff_prints(spark: Any, history: Path, proposal: Path) -> None:
    default = str(default_policy_path())
    code, local, _ = run("diff", default, str(proposal), "--replay", str(history))
    assert code == 0 and "budget by tier:" in local and "budget by channel:" in local
    code, on_spark, _ = run("spark", "replay", str(history), "--old", default, "--new", str(proposal), "--fail-on-change")
    assert code == 1 and on_spark == local
    by_severity = ("--by", "severity", "--by", "issue_type")
    code, local, _ = run("diff", default, str(proposal), "--replay", str(history), *by_severity)
    assert code == 0 and "budget by severity:" in local and "budget by tier:" not in local
    assert run("spark", "replay", str(history), "--old", default, "--new", str(proposal), *by_severity) == (0, local, "")
    assert run("spark", "replay", str(history), "--old", default, "--new", str(proposal), "--by", "nope")[0] == 2


# -- helpdesk mappings ------------------------------------------------------------------------------

HELPDESK = Path(__file__).resolve().parent / "fixtures" / "helpdesk"


def test_a_mapping_turns_payloads_into_complaints_as_locally(spark: Any) -> None:
    policy, mapping = load_policy(), load_mapping("zendesk")
    texts = [path.read_text(encoding="utf-8") for path in sorted(HELPDESK.glob("zendesk_*.json"))]
    texts.append('{"ticket": {"id": 9, "priority": 5}}')
    expected = []
    for text in texts:
        try:
            expected.append(policy.decide(mapping.apply(json.loads(text, parse_float=Decimal))).decision_id)
        except ComplaintError as error:
            expected.append([(p.field, p.code) for p in error.problems])
    as_json = decide_dataframe(spark.createDataFrame([(t,) for t in texts], "payload string"), mapping="zendesk", json_column="payload")
    got = [r["decision_id"] or [(p["field"], p["code"]) for p in r["error"]["problems"]] for r in as_json.collect()]
    assert got == expected and isinstance(expected[-1], list)
    tickets = spark.read.option("multiLine", True).json([str(p) for p in sorted(HELPDESK.glob("zendesk_*.json"))])
    as_columns = {r["complaint_id"]: r["decision_id"] for r in decide_dataframe(tickets, mapping="zendesk").collect()}
    assert sorted(as_columns.values()) == sorted(expected[:-1])  # a struct column is the payload's object
    with pytest.raises(SparkError) as text_cells:
        decide_dataframe(spark.createDataFrame([("x",)], "ticket string"), mapping="zendesk", text=True)
    assert text_cells.value.code == "mapping"


@pytest.fixture(scope="module")
def tickets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Zendesk payloads as JSON Lines: the fixtures', some with other priorities and channels, one the mapping cannot read."""
    lines = []
    for i, path in enumerate(sorted(HELPDESK.glob("zendesk_*.json")) * 4):
        payload = json.loads(path.read_text(encoding="utf-8"))
        payload["ticket"]["id"] = 100 + i
        payload["ticket"]["priority"] = ("low", "normal", "high", "urgent")[i % 4]
        lines.append(json.dumps(payload))
    lines.insert(5, '{"ticket": {"id": 9, "priority": 5}}')
    path = tmp_path_factory.mktemp("tickets") / "tickets.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_replay_through_a_mapping_equals_the_local_replay(spark: Any, tickets: Path, proposal: Path) -> None:
    local = replay(load_policy(), load_policy(proposal), mapped(read_replay(tickets), load_mapping("zendesk"))).to_dict()
    assert local["changed"] > 0 and local["invalid_under_old"] == 1 and local["budget_by_fact"]["tier"]
    source = read_complaints(spark, str(tickets), "jsonl", keep_blank=True)
    assert replay_summary(source.df, None, str(proposal), mapping="zendesk", json_column=source.json_column).to_dict() == local
    rows = replay_dataframe(source.df, None, str(proposal), mapping="zendesk", json_column=source.json_column).collect()
    assert len(rows) == 13 and [r["old_error"] for r in rows].count("invalid_complaint") == 1
    assert sum(bool(r["changed"]) for r in rows) == local["changed"]
    default = str(default_policy_path())
    code, on_spark, _ = run("spark", "replay", str(tickets), "--old", default, "--new", str(proposal), "--mapping", "zendesk")
    assert code == 0 and on_spark == run("diff", default, str(proposal), "--replay", str(tickets), "--mapping", "zendesk")[1]
    assert run("spark", "replay", str(tickets), "--old", default, "--new", str(proposal), "--mapping", "nowhere.yaml")[0] == 4


def test_cli_decide_with_a_mapping(spark: Any, tmp_path: Path) -> None:
    payloads = tmp_path / "tickets.jsonl"
    payloads.write_text("".join(json.dumps(json.loads(p.read_text(encoding="utf-8"))) + "\n" for p in sorted(HELPDESK.glob("zendesk_*.json"))))
    code, _, err = run("spark", "decide", str(payloads), str(tmp_path / "out.parquet"), "--mapping", "zendesk")
    assert code == 0 and "3 complaint(s), 0 invalid" in err, err
    assert run("spark", "decide", str(payloads), str(tmp_path / "x.parquet"), "--mapping", str(tmp_path / "none.yaml"))[0] == 4
