"""A writer the kill -9 test runs as a subprocess: decides forever, printing each reservation id once committed."""

from __future__ import annotations

import sys

from gesture_engine.ledger import Ledger
from tests.ledger_support import complaint, ledger_policy


def main(url: str) -> None:
    policy = ledger_policy()
    with Ledger.open(url) as ledger:
        call = 0
        while True:
            _, reservation = ledger.decide(policy, complaint(f"k-{call}", f"cust-{call % 7}", "low"))
            print(reservation.reservation_id, flush=True)  # after the commit: this reservation must survive
            call += 1


if __name__ == "__main__":
    main(sys.argv[1])
