"""Export the ledger's events (JSON Lines or CSV) and import past goodwill from a CSV.

An import is how a company starts with its real history: each CSV row is goodwill already given,
recorded as a reservation issued in full at the row's time, so it counts in the customer's window
like any other. The whole file goes in one transaction or not at all.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from gesture_engine.errors import LedgerError
from gesture_engine.ledger.store import Event, to_minor
from gesture_engine.money import MINOR_UNITS, MONEY_LIMIT

EXPORT_FORMATS = ("jsonl", "csv")
IMPORT_COLUMNS = ("customer_id", "amount", "currency", "at", "complaint_id", "team", "gestures", "note")
"""Columns an import CSV may have; the first four are required. ``at``: ISO 8601 with a timezone, or a
date (midnight UTC). ``gestures``: gesture ids separated by spaces."""


def export_events(stream: Iterable[Event], out: IO[str], format: str) -> int:
    """Write every event to ``out`` as JSON Lines or CSV (a header, then one row per event); returns the count."""
    count = 0
    writer: Any = None
    for entry in stream:
        record = entry.to_dict()
        if format == "jsonl":
            out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        else:
            if writer is None:
                writer = csv.DictWriter(out, fieldnames=list(record), lineterminator="\n")
                writer.writeheader()
            record["gestures"] = " ".join(record["gestures"])
            record["detail"] = "" if record["detail"] is None else json.dumps(record["detail"], ensure_ascii=False, separators=(",", ":"))
            writer.writerow({k: "" if v is None else v for k, v in record.items()})
        count += 1
    return count


def read_import(text: str) -> list[dict[str, Any]]:
    """The rows of an import CSV, checked; LedgerError ``bad_import`` naming the first line at fault."""
    reader = csv.DictReader(io.StringIO(text))
    columns = reader.fieldnames or []
    missing = [name for name in IMPORT_COLUMNS[:4] if name not in columns]
    unknown = [name for name in columns if name not in IMPORT_COLUMNS]
    if missing or unknown:
        words = [f"missing column(s) {', '.join(missing)}"] if missing else []
        words += [f"unknown column(s) {', '.join(unknown)}"] if unknown else []
        raise LedgerError("bad_import", f"{'; '.join(words)}; expected {', '.join(IMPORT_COLUMNS)}", line=1)
    return list(_rows(reader))


def _rows(reader: csv.DictReader[str]) -> Iterator[dict[str, Any]]:
    for record in reader:
        line = reader.line_num

        def bad(message: str, line: int = line) -> LedgerError:
            return LedgerError("bad_import", message, line=line)

        if None in record:
            raise bad("more fields than columns")
        get = {key: (value or "").strip() for key, value in record.items()}
        customer, currency = get["customer_id"], get["currency"]
        if not customer or len(customer) > 200:
            raise bad("customer_id: expected 1 to 200 characters")
        if currency not in MINOR_UNITS:
            raise bad(f"currency: unknown ISO 4217 currency {currency!r}")
        try:
            amount = Decimal(get["amount"])
        except InvalidOperation:
            raise bad(f"amount: expected a decimal amount, got {get['amount']!r}") from None
        if not amount.is_finite() or amount < 0 or amount > MONEY_LIMIT:
            raise bad(f"amount: expected 0 to {MONEY_LIMIT}, got {get['amount']!r}")
        try:
            to_minor(amount, currency)
        except LedgerError as error:
            raise bad(f"amount: {error.message}") from None
        at = _time(get["at"])
        if at is None:
            raise bad(f"at: expected an ISO 8601 time with a timezone or a date, got {get['at']!r}")
        complaint = get.get("complaint_id") or f"import-{line}"
        team = get.get("team") or ""
        if len(complaint) > 200 or len(team) > 100:
            raise bad("complaint_id or team too long (200 and 100 characters)")
        key = f"{line}\x00{customer}\x00{complaint}\x00{at.isoformat()}\x00{amount}\x00{currency}"
        yield {
            "line": line, "reservation_id": "i" + hashlib.sha256(key.encode()).hexdigest()[:23], "customer_id": customer,
            "complaint_id": complaint, "team": team, "currency": currency, "amount": amount, "at": at,
            "gestures": get.get("gestures", "").split(), "note": get.get("note", ""),
        }


def _time(text: str) -> datetime | None:
    try:
        if len(text) == 10:
            return datetime.fromisoformat(text).replace(tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else None
