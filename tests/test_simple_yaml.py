"""The line-by-line reader must read exactly what PyYAML reads, or step aside.

Whatever ``read_simple_yaml`` accepts is compared, value by value and type by type, with the careful
event-based path, together with the locations of sections and their entries. Generated documents
mix the shapes it reads with the ones it must refuse (anchors, escapes, odd spacing, indentation
indicators, tabs, ...), and some are then mangled a few characters at a time.
"""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gesture_engine import PolicyError
from gesture_engine.loader import MAX_DEPTH, MAX_NODES, Location, _parse_located, _resolve_plain
from gesture_engine.simple_yaml import read_simple_yaml

ROOT = Path(__file__).parent.parent


def simple(text: str) -> tuple[dict[str, Any], dict[Any, Location]] | None:
    return read_simple_yaml(text, lambda line, column: Location("f.yaml", line, column), _resolve_plain, MAX_DEPTH, MAX_NODES)


def typed(value: Any) -> Any:
    """The value with every leaf's type spelled out: ``True == 1`` and ``Decimal('1.0') == 1``."""
    if isinstance(value, dict):
        return ("dict", [(key, typed(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ("list", [typed(item) for item in value])
    return (type(value).__name__, str(value))


def disagreement(text: str) -> str | None:
    """Why the simple reader disagrees with PyYAML on ``text``, or None (also when it steps aside)."""
    read = simple(text)
    if read is None:
        return None
    data, locations = read
    try:
        careful = _parse_located(text, "f.yaml")
    except PolicyError as refused:
        return f"accepted what the careful path refuses: {refused}"
    if typed(data) != typed(careful.data):
        return f"read {data!r}, PyYAML reads {careful.data!r}"
    shallow = {path: where for path, where in careful.locations.items() if len(path) <= 2}
    if locations != shallow:
        return f"locations {sorted(locations.items())} differ from {sorted(shallow.items())}"
    return None


# --- a generator of policy-shaped YAML, with deliberate trouble mixed in -------------------------

WORDS = ["medium", "high", "act_01", "Sincere apology", "1d", "4h", "12", "0", "-3", "1.50", "0.10", "yes", "No", "true", "OFF", "null",
         "it's", "2026-01-02", "a-b_c", "é", "two  spaces", "say no"]
TROUBLE = ["0x1F", "1e5", "1_000", "007", "~", "=", "<<", ".inf", "a:b", "a #b", "&a", "*a", "!t x", "? k", "%", "@", "`x`", "|", ">",
           "- x", "-", "5 apples", "\\", "x\ty", "\u00a0x"]
KEYS = ["severity", "channel", "audience", "tier", "gte", "lt", "in", "at_least", "label", "action", "k-1", "_k", "A"]
ODD_KEYS = ["on", "yes", "1", "'q'", '"q"', "a b", "a:b"]


def scalar(rng: random.Random) -> str:
    word = rng.choice(WORDS if rng.random() < 0.94 else TROUBLE)
    roll = rng.random()
    if roll < 0.08:
        return '"' + word.replace('"', "") + '"'
    if roll < 0.12:
        return "'" + word + "'"
    if roll < 0.125:
        return rng.choice(['"a\\nb"', "'it''s'", '"\\u00e9"'])
    return word


def key(rng: random.Random, taken: set[str]) -> str:
    if rng.random() < 0.02:
        return rng.choice(ODD_KEYS)
    choice = rng.choice(KEYS)
    if choice in taken and rng.random() < 0.9:
        choice = f"{choice}{len(taken)}"
    taken.add(choice)
    return choice


def flow(rng: random.Random, depth: int = 0) -> str:
    if depth > 2 or rng.random() < 0.35:
        return scalar(rng)
    space = rng.choice([" ", " ", "", "  "])
    if rng.random() < 0.45:
        items = [flow(rng, depth + 1) for _ in range(rng.randint(0, 3))]
        return "[" + ("," + space).join(items) + ("," if rng.random() < 0.05 else "") + "]"
    taken: set[str] = set()
    separator = lambda: rng.choice([": "] * 10 + [":", " : ", ":  "])
    pairs = [f"{key(rng, taken)}{separator()}{flow(rng, depth + 1)}" for _ in range(rng.randint(0, 3))]
    return "{" + ("," + space).join(pairs) + "}"


def block_scalar(rng: random.Random, indent: int) -> tuple[str, list[str]]:
    header = rng.choice(["|", "|-", "|+", ">", ">-", ">+", "|2", "> # note"])
    margin = indent + rng.choice([1, 2, 4])
    lines = [" " * margin + "First line."] if rng.random() < 0.9 else []
    for _ in range(rng.randint(0, 3)):
        roll = rng.random()
        if roll < 0.2:
            lines.append("")
        elif roll < 0.24:
            lines.append(" " * rng.randint(0, margin + 2))
        elif roll < 0.27:
            lines.append(" " * (margin + 1) + "deeper")
        else:
            lines.append(" " * margin + rng.choice(["Reach out within the hour.", "# not a comment", "a: b", "{tier}"]))
    return header, lines


def block(rng: random.Random, indent: int, depth: int) -> list[str]:
    lines: list[str] = []
    taken: set[str] = set()
    for _ in range(rng.randint(1, 3)):
        name = key(rng, taken)
        roll = rng.random()
        if roll < 0.3 and depth < 3:
            lines.append(" " * indent + name + ":")
            if rng.random() < 0.5:
                lines += block(rng, indent + rng.choice([1, 2, 4]), depth + 1)
                continue
            items_at = indent + rng.choice([0, 2])
            for _ in range(rng.randint(1, 3)):
                kind = rng.random()
                if kind < 0.4:
                    item = block(rng, items_at + 2, depth + 1)
                    item[0] = " " * items_at + "- " + item[0][items_at + 2:]
                    lines += item
                elif kind < 0.8:
                    lines.append(" " * items_at + "- " + (flow(rng) if rng.random() < 0.5 else scalar(rng)))
                else:
                    header, text = block_scalar(rng, items_at)
                    lines += [" " * items_at + "- " + header, *text]
        elif roll < 0.45:
            header, text = block_scalar(rng, indent)
            lines += [" " * indent + f"{name}: {header}", *text]
        elif roll < 0.5:
            lines += [" " * indent + "# a comment", " " * indent + f"{name}: {scalar(rng)}  # and another"]
        elif roll < 0.51:
            lines.append(" " * indent + name + ":")
        else:
            lines.append(" " * indent + f"{name}: " + (flow(rng) if rng.random() < 0.6 else scalar(rng)))
    return lines


def document(seed: int) -> str:
    rng = random.Random(seed)
    lines = []
    for number in range(rng.randint(1, 3)):  # sections: flow collections sit at least one level down
        lines.append(f"section{number}:")
        lines += block(rng, rng.choice([2, 2, 4]), 1)
    if rng.random() < 0.05:
        lines.insert(0, "---")
    text = "\n".join(lines) + ("\n" if rng.random() < 0.95 else "")
    if rng.random() < 0.15:  # mangle a few characters
        characters = list(text)
        for _ in range(rng.randint(1, 3)):
            characters.insert(rng.randrange(len(characters) + 1), rng.choice(" :-#{}[],'\"\n|>&*!?\t\\x1"))
        text = "".join(characters)
    return text


def test_generated_documents_read_as_pyyaml_reads_them() -> None:
    failures, accepted = [], 0
    for seed in range(2500):
        text = document(seed)
        if simple(text) is not None:
            accepted += 1
        why = disagreement(text)
        if why:
            failures.append(f"seed {seed}:\n{text}\n-> {why}")
    assert not failures, "\n\n".join(failures[:3])
    assert accepted > 500, "too few generated documents take the simple path to test it"


@pytest.mark.parametrize(
    "text",
    [
        "s:\n  a: {b:c}\n",  # a:b is one word in YAML, a pair in JSON
        "s:\n  a: {b: c, }\n",
        "s:\n  a: [b: c]\n",
        "s:\n  a: {yes: 1}\n",
        "s:\n  a: [0x1F, 1e5, 1.5e+3, 1_000, 007, .5, +1]\n",
        "s:\n  a: [5 apples]\n",
        's:\n  a: ["a\\nb", "\\u00e9"]\n',
        "s:\n  a: 'it''s'\n",
        "s:\n  a: |2\n     indented\n",
        "s:\n  a: |\n    no final line break",
        "s:\n\tb: 1\n",
        "s:\n  a: 1\r\n",
        "\ufeffs:\n  a: 1\n",
        "s:\n  a: {b: 1, b: 2}\n",
        "s:\n  a: 1\n  a: 2\n",
        "s:\n  a:\n  b: 1\n",
        "s:\n  a: &x 1\n  b: *x\n",
        "s:\n  a: x\n    y\n",
        "s:\n  a: [x,\n    y]\n",
        "s:\n  a: {b: c}}\n",
        "s:\n  a: [é, e\u00a0b]\n",
        "s:\n  - y: 1\n     z: 2\n",
        "s: {a: 1}\n",  # a whole section as a flow collection: its entries are located
        "s:\n  a: " + "[" * 70 + "]" * 70 + "\n",  # deeper than the loader's limit
        "s:\n  a:\n    - " + "[" * 70 + "]" * 70 + "\n",  # the same as a list item
    ],
)
def test_what_it_leaves_to_pyyaml(text: str) -> None:
    assert simple(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("s:\n  a: {b: True, c: NULL, d: Off, e: say no}\n", {"b": True, "c": None, "d": False, "e": "say no"}),
        (
            's:\n  a: {"b": 1, c: "x: y", d: [""], e: [-0, -0.0, 0.10, 1d]}\n',
            {"b": 1, "c": "x: y", "d": [""], "e": [0, Decimal("-0.0"), Decimal("0.10"), "1d"]},
        ),
        ("s:\n  a: >\n    one\n    two\n\n    three\n\n\n    four\n", "one two\nthree\n\nfour\n"),
        ("s:\n  a: |+\n    x\n\n\n  b: 1\n", "x\n\n\n"),
        ("s:\n  a: >-\n    # not a comment\n  # a comment\n  b: 1\n", "# not a comment"),
        ("s:\n  a: b  c  # comment\n", "b  c"),
        ("s:\n  a: ~\n", None),
    ],
)
def test_what_it_reads(text: str, expected: Any) -> None:
    read = simple(text)
    assert read is not None
    assert typed(read[0]["s"]["a"]) == typed(expected)
    assert disagreement(text) is None


@pytest.mark.parametrize("path", sorted((ROOT / "rules").rglob("*.yaml")), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_policies_we_ship_take_the_simple_path(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert simple(text) is not None
    assert disagreement(text) is None


def test_generated_benchmark_rules_take_the_simple_path() -> None:
    from benchmarks.table import dead_table, generate_table
    from benchmarks.translate import gesture_policy

    for table in (generate_table(300, seed=5), dead_table(300)):
        for name, text in gesture_policy(table, rules_per_file=100).items():
            assert simple(text) is not None, name
            assert disagreement(text) is None, name
