"""``gesture serve`` against real servers: uvicorn on a free loopback port in a child process, httpx as the
client. Every endpoint, auth on and off, the ledger, reload with a good and a bad policy while requests
run, SIGTERM, and hostile requests (each answered with its status, the server still answering after)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("sqlalchemy")

from click.testing import CliRunner  # noqa: E402

from gesture_cli.main import cli  # noqa: E402
from gesture_engine import Policy  # noqa: E402
from gesture_engine.resources import default_policy_path  # noqa: E402
from gesture_engine.server.auth import TokenError, parse_tokens  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HELPDESK = Path(__file__).parent / "fixtures" / "helpdesk"
DECIDER = "d" * 24
APPROVER = "a" * 24
ISSUER = "i" * 24
TOKENS = f"helpdesk:decide:{DECIDER}\nlead:decide,approve:{APPROVER}\nfinance:issue:{ISSUER}\n"
COMPLAINT = {"severity": "high", "channel": "social_media", "audience": 120000, "customer_value": 800, "complaint_id": "T-1042"}


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path
    policy: Path

    def client(self, token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)

    def logged(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")]


def start(tmp: Path, *args: str, env: dict[str, str] | None = None) -> Server:
    """``gesture serve --port 0`` in a child process with a copy of the default policy; waits for its port in the log."""
    policy = tmp / "policy"
    shutil.copytree(default_policy_path(), policy, ignore=shutil.ignore_patterns("tests"))
    log = tmp / "serve.log"
    command = [sys.executable, "-c", "import sys; from gesture_cli.main import cli; sys.argv[0] = 'gesture'; cli()",
               "serve", "--port", "0", "--policy", str(policy), *args]
    environment = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'cli'}", **(env or {})}
    environment.pop("GESTURE_LEDGER", None)
    with open(log, "wb") as sink:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink, env=environment, cwd=tmp)
    workers = int(args[args.index("--workers") + 1]) if "--workers" in args else 1
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        lines = log.read_text().splitlines()
        ready = sum('"worker_ready"' in line for line in lines)
        for line in lines:
            if '"listening"' in line and ready >= workers:
                url = json.loads(line)["url"]
                return Server(process, url, log, policy)
        if process.poll() is not None:
            raise AssertionError(f"gesture serve exited {process.returncode}: {log.read_text()}")
        time.sleep(0.05)
    process.kill()
    raise AssertionError("gesture serve did not start")


def stop(server: Server) -> int:
    server.process.send_signal(signal.SIGTERM)
    return server.process.wait(15)


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("secured")
    server = start(tmp, "--ledger", f"sqlite:///{tmp / 'goodwill.db'}", "--log", str(tmp / "decisions.jsonl"), env={"GESTURE_TOKENS": TOKENS})
    yield server
    stop(server)


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start(tmp_path_factory.mktemp("open"), "--insecure-no-auth", "--max-body", "65536", "--timeout", "1")
    yield server
    stop(server)


def run_cli(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), input=stdin)
    return result.exit_code, result.stdout


# -- deciding ------------------------------------------------------------------------------------


def test_decisions_are_the_bytes_of_gesture_decide_json(open_server: Server, default_policy: Policy) -> None:
    with open_server.client() as client:
        answer = client.post("/v1/decisions", json=COMPLAINT)
    assert answer.status_code == 200
    code, printed = run_cli("decide", "-", "--json", stdin=json.dumps(COMPLAINT))
    assert code == 0
    assert answer.content == printed.encode()
    assert answer.headers["x-policy-fingerprint"] == default_policy.fingerprint
    assert json.loads(answer.content)["policy"]["fingerprint"] == default_policy.fingerprint


@pytest.mark.parametrize(("name", "fixture"), [("zendesk", "zendesk_urgent_twitter.json"), ("freshdesk", "freshdesk_billing_email.json")])
def test_decisions_of_helpdesk_payloads_through_a_mapping(open_server: Server, name: str, fixture: str) -> None:
    body = (HELPDESK / fixture).read_bytes()
    with open_server.client() as client:
        answer = client.post(f"/v1/decisions?mapping={name}", content=body, headers={"content-type": "application/json"})
        explained = client.post(f"/v1/explain?mapping={name}", content=body, headers={"content-type": "application/json"})
    code, printed = run_cli("decide", "--mapping", name, str(HELPDESK / fixture), "--json")
    assert (answer.status_code, code) == (200, 0)
    assert answer.content == printed.encode()
    assert explained.status_code == 200
    assert json.loads(explained.content)["complaint_id"] == json.loads(printed)["complaint_id"]


def test_a_payload_that_does_not_fit_the_mapping_is_422_naming_the_path(open_server: Server) -> None:
    with open_server.client() as client:
        answer = client.post("/v1/decisions?mapping=zendesk", json={"ticket": {"priority": "extreme", "tags": 5}})
        unknown = client.post("/v1/decisions?mapping=intercom", json={})
    assert answer.status_code == 422
    assert [(p["field"], p["code"]) for p in answer.json()["problems"]] == [("ticket.tags", "mapping_type"), ("ticket.priority", "unmapped_value")]
    assert (unknown.status_code, unknown.json()["error"]) == (400, "unknown_mapping")


@pytest.mark.parametrize(("query", "status"), [("redecide=no", 200), ("redecide=TRUE", 200), ("redecide=maybe", 422), ("redecide=", 422),
                                             ("redecide=yes&redecide=2", 422)])
def test_a_bad_query_flag_is_our_422_naming_the_parameter(open_server: Server, query: str, status: int) -> None:
    with open_server.client() as client:
        answer = client.post(f"/v1/decisions?{query}", json=COMPLAINT)
    assert answer.status_code == status
    if status == 422:
        assert answer.json()["error"] == "invalid_request"
        assert [(p["field"], p["code"]) for p in answer.json()["problems"]] == [("query.redecide", "invalid_parameter")]


def test_a_bad_complaint_is_422_with_every_problem(open_server: Server) -> None:
    with open_server.client() as client:
        answer = client.post("/v1/decisions", json={"severity": "huge", "audience": -1, "colour": "red"})
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "invalid_complaint"
    assert {(p["field"], p["code"]) for p in body["problems"]} >= {("severity", "wrong_type"), ("channel", "required"), ("colour", "unknown_field")}
    assert all(set(p) == {"field", "code", "message"} for p in body["problems"])


def test_policy_schemas_and_health(open_server: Server, default_policy: Policy) -> None:
    with open_server.client() as client:
        policy = client.get("/v1/policy").json()
        complaint_schema = client.get("/v1/schemas/complaint")
        decision_schema = client.get("/v1/schemas/decision")
        missing = client.get("/v1/schemas/nothing")
        health, ready = client.get("/healthz"), client.get("/readyz")
    assert (policy["name"], policy["fingerprint"]) == ("default", default_policy.fingerprint)
    severity = next(f for f in policy["facts"] if f["name"] == "severity")
    assert severity == {"name": "severity", "type": "level", "required": True, "description": severity["description"],
                        "values": ["low", "medium", "high", "critical"]}
    assert next(f for f in policy["facts"] if f["name"] == "audience")["default"] == 0
    assert complaint_schema.json()["properties"]["channel"]["enum"] == list(default_policy.facts["channel"].values)
    assert complaint_schema.headers["content-type"] == "application/schema+json"
    assert "properties" in decision_schema.json()
    assert missing.status_code == 404
    assert (health.status_code, ready.status_code, ready.json()["status"]) == (200, 200, "ready")


def test_openapi_uses_the_project_schemas_and_docs_are_served(open_server: Server) -> None:
    with open_server.client() as client:
        document = client.get("/openapi.json").json()
        docs = client.get("/docs")
    decide = document["paths"]["/v1/decisions"]["post"]
    assert decide["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Complaint"}
    assert decide["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Decision"}
    assert "severity" in document["components"]["schemas"]["Complaint"]["properties"]
    assert "#/$defs/" not in json.dumps(document)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_metrics_count_decisions_errors_and_name_the_policy(open_server: Server, default_policy: Policy) -> None:
    with open_server.client() as client:
        client.post("/v1/decisions", json={"severity": "low", "channel": "email"})
        client.post("/v1/decisions", json={"severity": "nope"})
        text = client.get("/metrics").text
    assert 'gesture_decisions_total{action="apologise_and_fix"' in text
    assert 'gesture_errors_total{kind="invalid_complaint"}' in text
    assert f'fingerprint="{default_policy.fingerprint}"' in text
    assert 'gesture_request_duration_seconds_bucket{endpoint="/v1/decisions"' in text


def test_metrics_of_two_workers_count_both_and_their_directory_goes_with_the_server(tmp_path: Path, default_policy: Policy) -> None:
    server = start(tmp_path, "--insecure-no-auth", "--workers", "2")
    metrics_dir = Path(next(r for r in server.logged() if r.get("event") == "listening")["metrics_dir"])

    def decide(_: int) -> int:
        with server.client() as client:  # a connection of its own, taken by whichever worker accepts it first
            return client.post("/v1/decisions", json=COMPLAINT).status_code

    try:
        sent, pids, deadline = 0, set(), time.monotonic() + 30
        while len(pids) < 2 and time.monotonic() < deadline:
            with ThreadPoolExecutor(8) as pool:
                assert set(pool.map(decide, range(16))) == {200}
            sent += 16
            pids = {r["pid"] for r in server.logged() if r.get("path") == "/v1/decisions"}
        assert len(pids) == 2, "both workers decided"
        for _ in range(6):  # each scrape on a new connection: answered by one worker or the other, the same counts
            with server.client() as client:
                lines = client.get("/metrics").text.splitlines()
            assert sum(float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith("gesture_decisions_total{")) == sent
            fingerprint = default_policy.fingerprint
            assert f'gesture_policy_info{{fingerprint="{fingerprint}",name="default",version="1.0.0"}} 1.0' in lines
    finally:
        assert stop(server) == 0
    assert not metrics_dir.exists()


def test_access_log_is_json_with_the_request_id(open_server: Server) -> None:
    with open_server.client() as client:
        given = client.get("/healthz", headers={"X-Request-Id": "abc-123"})
        made = client.get("/healthz?token=secret-in-query")
    assert given.headers["x-request-id"] == "abc-123"
    assert len(made.headers["x-request-id"]) == 32
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(r.get("request_id") == made.headers["x-request-id"] for r in open_server.logged()):
        time.sleep(0.05)
    records = {r.get("request_id"): r for r in open_server.logged()}
    assert records["abc-123"]["path"] == "/healthz" and records["abc-123"]["status"] == 200
    assert "secret-in-query" not in open_server.log.read_text()


# -- auth ----------------------------------------------------------------------------------------


def test_auth_401_without_a_token_403_without_the_scope(secured: Server) -> None:
    with secured.client() as anonymous, secured.client("x" * 24) as wrong, secured.client(DECIDER) as decider:
        assert anonymous.post("/v1/decisions", json=COMPLAINT).status_code == 401
        assert anonymous.post("/v1/decisions", json=COMPLAINT).headers["www-authenticate"].startswith("Bearer")
        assert wrong.get("/v1/policy").status_code == 401
        assert anonymous.get("/healthz").status_code == 200
        assert decider.post("/v1/reservations/r1/approve", json={"level": "manager"}).json()["error"] == "forbidden"
        assert decider.post("/v1/reservations/r1/issue", json={}).status_code == 403
    assert DECIDER not in secured.log.read_text()


def test_ledger_decide_approve_issue_release_goodwill_spend(secured: Server) -> None:
    complaint = {**COMPLAINT, "customer_id": "C-9", "complaint_id": "T-77"}
    with secured.client(DECIDER) as decider, secured.client(APPROVER) as lead, secured.client(ISSUER) as finance:
        made = decider.post("/v1/decisions?team=support", json=complaint)
        assert made.status_code == 200
        _, printed = run_cli("decide", "-", "--json", stdin=json.dumps(complaint))
        assert made.json()["decision"]["action"] == json.loads(printed)["action"]
        reservation = made.json()["reservation"]
        rid = reservation["reservation_id"]
        assert (reservation["state"], reservation["team"]) == ("reserved", "support")
        assert decider.post("/v1/decisions?team=support", json=complaint).json()["reservation"]["existing"] is True
        assert finance.post(f"/v1/reservations/{rid}/issue", json={}).json()["error"] == "approval_required"
        assert lead.post(f"/v1/reservations/{rid}/approve", json={"level": "agent"}).json()["error"] == "level_too_low"
        approved = lead.post(f"/v1/reservations/{rid}/approve", json={"level": "manager"})
        assert (approved.status_code, approved.json()["approvals"]) == (200, [{"actor": "lead", "level": "manager"}])
        issued = finance.post(f"/v1/reservations/{rid}/issue", json={"amount": "100.00"})
        assert (issued.json()["state"], issued.json()["issued"]) == ("issued", "100.00")
        again = finance.post(f"/v1/reservations/{rid}/issue", json={})
        assert (again.status_code, again.json()["error"]) == (409, "already_issued")
        assert lead.post("/v1/reservations/r-none/release").status_code == 404
        goodwill = decider.get("/v1/customers/C-9/goodwill").json()
        assert (goodwill["held"], len(goodwill["reservations"])) == ("100.00", 1)
        assert goodwill["history"] == {"goodwill_last_90d": "100.00"}  # the policy's history facts, as deciding would fill them
        spend = decider.get("/v1/teams/support/spend").json()
        assert spend["spend"] == [{"currency": "USD", "amount": "100.00"}]
        assert decider.get("/v1/teams/support/spend?period=2026-13").status_code == 422
        missing_ids = decider.post("/v1/decisions", json={"severity": "low", "channel": "email"})
        assert {p["field"] for p in missing_ids.json()["problems"]} == {"complaint_id", "customer_id"}
        assert decider.get("/readyz").json()["ledger"] == "reachable"
    logged = [json.loads(line) for line in (secured.log.parent / "decisions.jsonl").read_text().splitlines()]
    assert logged[0]["decision"]["complaint_id"] == "T-77"


def test_token_files_are_checked_without_showing_tokens() -> None:
    assert parse_tokens(TOKENS, "t").caller(APPROVER).name == "lead"  # type: ignore[union-attr]
    assert parse_tokens(TOKENS, "t").caller(APPROVER[:-1]) is None
    for bad in ("a:decide:short", "a:root:" + "x" * 20, "a:decide:" + "x" * 20 + "\na:decide:" + "y" * 20, "nonsense", ""):
        with pytest.raises(TokenError) as caught:
            parse_tokens(bad, "t")
        assert "x" * 20 not in str(caught.value)


def test_serve_refuses_to_start_without_tokens_or_with_a_bad_policy(tmp_path: Path) -> None:
    code, _ = run_cli("serve", "--port", "0")
    assert code == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("policy: x\n")
    result = CliRunner().invoke(cli, ["serve", "--insecure-no-auth", "--port", "0", "--policy", str(bad)])
    assert result.exit_code == 4


# -- reload and shutdown -------------------------------------------------------------------------


def test_reload_good_then_bad_policy_while_requests_run(tmp_path: Path) -> None:
    server = start(tmp_path, "--insecure-no-auth", "--quiet")
    policy_file = server.policy / "policy.yaml"
    original = policy_file.read_text()
    seen: list[tuple[int, str]] = []
    done = threading.Event()

    def traffic() -> None:
        with server.client() as client:
            while not done.is_set():
                answer = client.post("/v1/decisions", json=COMPLAINT)
                seen.append((answer.status_code, json.loads(answer.content)["policy"]["fingerprint"]))

    try:
        with server.client() as client:
            old = client.get("/v1/policy").json()["fingerprint"]
            worker = threading.Thread(target=traffic)
            worker.start()
            policy_file.write_text(original.replace('version: "1.0.0"', 'version: "1.0.1"'))
            server.process.send_signal(signal.SIGHUP)
            new = _wait_for(lambda: (fp := client.get("/v1/policy").json()["fingerprint"]) != old and fp)
            policy_file.write_text(original.replace("budget_cap: 1000", "budget_cap: lots"))
            server.process.send_signal(signal.SIGHUP)
            _wait_for(lambda: 'gesture_policy_reloads_total{result="refused"} 1.0' in client.get("/metrics").text)
            time.sleep(0.2)
            done.set()
            worker.join(10)
            assert client.get("/v1/policy").json()["version"] == "1.0.1"
        assert seen and all(status == 200 for status, _ in seen)
        assert {fingerprint for _, fingerprint in seen} <= {old, new}
        refused = [r for r in server.logged() if r.get("event") == "reload_refused"]
        assert refused[0]["kept"] == new
        assert any("budget_cap" in problem for problem in refused[0]["problems"])
    finally:
        done.set()
        assert stop(server) == 0


def test_sigterm_lets_in_flight_requests_finish(tmp_path: Path) -> None:
    server = start(tmp_path, "--insecure-no-auth", "--quiet", "--workers", "2")
    with socket.create_connection((server.url.split("//")[1].split(":")[0], int(server.url.rsplit(":", 1)[1]))) as slow:
        body = json.dumps(COMPLAINT).encode()
        slow.sendall(b"POST /v1/decisions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:10])
        time.sleep(0.3)
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        slow.sendall(body[10:])
        answer = slow.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200")
    assert server.process.wait(15) == 0


def _wait_for(condition: Any, seconds: float = 10) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


# -- hostile requests ----------------------------------------------------------------------------


def raw(server: Server, data: bytes, read_for: float = 3.0) -> bytes:
    host, port = server.url.split("//")[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=read_for) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        try:
            return sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            return b""


@pytest.mark.parametrize(("content", "ctype", "status", "code"), [
    (b'{"severity": "high", "chan', "application/json", 400, "invalid_json"),
    (b'{"severity": NaN, "channel": "email"}', "application/json", 400, "invalid_json"),
    (b'{"severity": "low", "severity": "high", "channel": "email"}', "application/json", 422, "invalid_complaint"),
    (b"[" * 5000 + b"]" * 5000, "application/json", 400, "too_deep"),
    (b'{"a":' * 40 + b"1" + b"}" * 40, "application/json", 400, "too_deep"),
    (b"\xff\xfe{}", "application/json", 400, "invalid_json"),
    (b"severity=high", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    (b'{"severity": "high"}', "text/plain", 415, "unsupported_media_type"),
    (b"[1, 2]", "application/json", 422, "invalid_complaint"),
    (b"x" * 70000, "application/json", 413, "too_large"),
])
def test_hostile_bodies(open_server: Server, content: bytes, ctype: str, status: int, code: str) -> None:
    with open_server.client() as client:
        answer = client.post("/v1/decisions", content=content, headers={"content-type": ctype})
        assert (answer.status_code, answer.json()["error"]) == (status, code)
        assert client.get("/healthz").status_code == 200


def test_ten_megabytes_chunked_is_413_and_the_server_goes_on(open_server: Server) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(160):
            yield b" " * 65536

    with open_server.client() as client:
        try:
            answer = client.post("/v1/decisions", content=chunks(), headers={"content-type": "application/json"})
            assert answer.status_code == 413
        except httpx.TransportError:
            pass  # the server may close the connection before the client has sent everything: refused either way
    with open_server.client() as client:
        assert client.post("/v1/decisions", json=COMPLAINT).status_code == 200


def test_a_slow_client_gets_408(open_server: Server) -> None:
    answer = raw(open_server, b"POST /v1/decisions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
                 read_for=5)
    assert answer.startswith(b"HTTP/1.1 408")


def test_unknown_paths_methods_and_huge_headers(open_server: Server) -> None:
    with open_server.client() as client:
        assert client.get("/v1/nothing").json()["error"] == "not_found"
        assert client.get("/v1/decisions").status_code == 405
    answer = raw(open_server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"x" * 100_000 + b"\r\n\r\n")
    assert answer == b"" or answer.split(b" ")[1] in (b"400", b"431")
    with open_server.client() as client:
        assert client.get("/healthz").status_code == 200
