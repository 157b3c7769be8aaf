"""Shared fixtures: the default policy (loaded once) and a writer for small policies in tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from textwrap import dedent

import pytest

from gesture_engine import Policy, load_policy


@pytest.fixture(scope="session")
def default_policy() -> Policy:
    return load_policy()


MINIMAL = """\
policy: tiny
version: "1"
currency: USD
budget_cap: 100
facts:
  severity: {type: level, values: [low, medium, high], required: true}
  channel: {type: enum, values: [email, social], default: email}
  spend: {type: money, default: 0}
gestures:
  apology: {label: Apology}
  credit: {label: Credit, monetary: true}
actions:
  sorry: {label: Say sorry}
  pay: {label: Pay}
approval:
  levels: [agent, manager]
  ladder:
    - {up_to: 50, level: agent}
    - {level: manager}
rules:
  - id: high
    when: {severity: {at_least: high}}
    then:
      action: pay
      gestures: [apology, credit]
      budget: 40
      respond_within: 2h
  - id: fallback
    default: true
    then: {action: sorry, gestures: [apology], respond_within: 1d}
"""


@pytest.fixture
def write_policy(tmp_path: Path) -> Callable[..., Path]:
    """Write YAML text (dedented) to a file in tmp_path and return its path."""

    def write(text: str = MINIMAL, name: str = "policy.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text), encoding="utf-8")
        return path

    return write
