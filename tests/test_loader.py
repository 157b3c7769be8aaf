"""The YAML reader: one builder over PyYAML's events, checked against PyYAML itself.

Whatever the parser (libyaml's or the pure-Python one), the data must be what PyYAML's own
composer reads (with floats as exact ``Decimal`` and timestamps as text), every value must be
located where PyYAML's nodes start, and problems must be the same. Hostile input is covered by
tests/test_hostile_policies.py.
"""

from __future__ import annotations

import string
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gesture_engine import PolicyError, load_policy
from gesture_engine.load import source as loader
from gesture_engine.load.source import Document, Location, PathKey, parse_policy_text, parse_yaml, read_policy_source

ROOT = Path(__file__).parent.parent
YAML_FILES = sorted(
    path for folder in ("rules", "tests", "benchmarks", "docs")
    for path in (ROOT / folder).rglob("*.y*ml")
)
PARSERS = {"default": loader.PARSER, "pure-python": yaml.SafeLoader}


@pytest.fixture(params=sorted(PARSERS))
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with each YAML parser: the results must not depend on whether libyaml is installed."""
    monkeypatch.setattr(loader, "PARSER", PARSERS[request.param])
    return str(request.param)


class _Oracle(yaml.SafeLoader):
    """PyYAML's own composer and constructor, typing floats and timestamps as policies do."""


_Oracle.add_constructor("tag:yaml.org,2002:float", lambda self, node: Decimal(node.value.replace("_", "")))
_Oracle.add_constructor("tag:yaml.org,2002:timestamp", lambda self, node: node.value)


def typed(value: Any) -> Any:
    """The value with every leaf's type spelled out: ``True == 1`` and ``Decimal('1.0') == 1``."""
    if isinstance(value, dict):
        return ("dict", [(key, typed(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ("list", [typed(item) for item in value])
    return (type(value).__name__, str(value))


def located(document: Document) -> dict[PathKey, Location]:
    """Every value's path and location, by walking the data."""
    found: dict[PathKey, Location] = {}
    pending: list[tuple[PathKey, Any]] = [((), document.data)]
    while pending:
        path, value = pending.pop()
        found[path] = document.locate(path)
        if isinstance(value, dict):
            pending.extend(((*path, key), item) for key, item in value.items())
        elif isinstance(value, list):
            pending.extend(((*path, index), item) for index, item in enumerate(value))
    return found


def node_locations(node: yaml.Node, file: str) -> dict[PathKey, Location]:
    """Where PyYAML's nodes start: a mapping's values at their own start, except that a nested
    mapping or list is located at its key (where a reader looks for it)."""
    found: dict[PathKey, Location] = {}

    def visit(path: PathKey, node: yaml.Node, mark: Any) -> None:
        found[path] = Location(file, mark.line + 1, mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            for key, item in node.value:
                at_key = isinstance(item, yaml.CollectionNode)
                visit((*path, key.value), item, key.start_mark if at_key else item.start_mark)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                visit((*path, index), item, item.start_mark)

    visit((), node, node.start_mark)
    return found


def outcome(text: str) -> tuple[str, Any]:
    """What reading ``text`` gives: the typed data and every location, or the problems (for a
    problem the YAML parser located, only its line: the column and wording are the library's)."""
    try:
        document = parse_yaml(text, "f.yaml")
    except PolicyError as refused:
        return "refused", [(p.line, p.code) if p.code == "yaml-syntax" else p for p in refused.problems]
    return "read", (typed(document.data), located(document))


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_both_parsers_read_every_repository_file_alike(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = path.read_bytes().decode("utf-8", errors="replace")
    default = outcome(text)
    monkeypatch.setattr(loader, "PARSER", yaml.SafeLoader)
    assert outcome(text) == default


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_data_and_locations_are_what_pyyaml_composes(path: Path, parser: str) -> None:
    text = path.read_bytes().decode("utf-8", errors="replace")
    try:
        document = parse_yaml(text, "f.yaml")
    except PolicyError:
        return  # refused: the hostile corpus says how
    if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=yaml.SafeLoader)):
        pytest.skip("PyYAML's nodes do not say where an alias was written")
    assert typed(document.data) == typed(yaml.load(text, Loader=_Oracle))
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if node is not None:
        assert located(document) == node_locations(node, "f.yaml")


def test_values_are_located_where_they_are_written(parser: str) -> None:
    text = (
        "policy: demo\n"
        "facts:\n"
        "  severity: {type: level, values: [low, high]}\n"
        "rules:\n"
        "  - id: a\n"
        "    when:\n"
        "      severity: {at_least: high}\n"
        "    then: {action: sorry, gestures: [note,\n"
        "                                     apology]}\n"
    )
    document = parse_yaml(text, "p.yaml")
    where = lambda *path: tuple(document.locate(path))[1:]
    assert where() == (1, 1)
    assert where("policy") == (1, 9)
    assert where("facts") == (2, 1)
    assert where("facts", "severity") == (3, 3)
    assert where("facts", "severity", "values", 1) == (3, 41)
    assert where("rules", 0) == (5, 5)
    assert where("rules", 0, "when") == (6, 5)
    assert where("rules", 0, "when", "severity", "at_least") == (7, 28)
    assert where("rules", 0, "then", "gestures", 1) == (9, 38)
    assert where("rules", 0, "then", "budget", "max") == (8, 5)  # absent: its nearest ancestor
    assert document.locate(("rules", 0, "then", "action")).file == "p.yaml"


def test_sections_and_entries_are_located_without_reading_the_file_again() -> None:
    """A valid policy asks only where its rules are: the second, recording reading never happens."""
    document = parse_yaml("rules:\n  - id: a\n    when: {severity: high}\n  - id: b\n", "p.yaml")
    positions = document.locations
    assert document.locate(("rules", 1)).line == 4
    assert getattr(positions, "text", None) is not None
    assert document.locate(("rules", 0, "when", "severity")) == Location("p.yaml", 3, 22)
    assert getattr(positions, "text", "") is None
    merged = loader.merge_documents([parse_yaml("rules:\n  - id: a\n    when: {x: 1}\n", "a.yaml"),
                                     parse_yaml("facts:\n  x: {type: integer}\n", "b.yaml")], "dir")
    assert merged.complete() is merged
    assert merged.locate(("facts", "x", "type")) == Location("b.yaml", 2, 13)


def test_plain_scalars_are_typed_as_yaml_types_them(parser: str) -> None:
    doc = parse_yaml("a: [1, 0x1f, 1.10, yes, ~, '7', 2026-01-02, 1d, 1_000, 012, on, Null, nope, '', 0, -3, +4, .5]\n", "f.yaml")
    assert typed(doc.data["a"]) == typed(
        [1, 31, Decimal("1.10"), True, None, "7", "2026-01-02", "1d", 1000, 10, True, None, "nope", "", 0, -3, 4, Decimal(".5")]
    )


def test_explicit_tags_of_plain_yaml_are_read_and_others_refused(parser: str) -> None:
    doc = parse_yaml("a: !!str 12\nb: !!int '7'\nc: !!float 1.5\nd: !!bool yes\ne: ! 12\nf: !!null ''\n", "f.yaml")
    assert typed(doc.data) == typed({"a": "12", "b": 7, "c": Decimal("1.5"), "d": True, "e": "12", "f": None})
    with pytest.raises(PolicyError) as info:
        parse_yaml("a: !!bool maybe\nb: !!int x\nc: !!binary aGk=\n", "f.yaml")
    assert [(p.line, p.column, p.path, p.code) for p in info.value.problems] == [
        (1, 4, "a", "yaml-tag"), (2, 4, "b", "yaml-tag"), (3, 4, "c", "yaml-tag"),
    ]


_PLAIN_CHARACTERS = string.ascii_letters[:12] + "nNoOtTyYuUlLsSrR" + string.digits + ".-+_:~x<=e "
_YAML11_WORDS = [w for base in ("yes", "no", "true", "false", "on", "off", "null", "y", "n", "nul", "tru", "ons")
                 for w in (base, base.capitalize(), base.upper(), base[:1] + base[1:].upper())]
_NUMBERS = r"[-+]?(0[xob]?)?[0-9_a-fA-F]{0,5}(\.[0-9_]{0,3})?([eE][-+]?[0-9]{1,2})?|[-+]?\.(inf|Inf|INF|nan|NaN|NAN)|[0-9]{1,2}(:[0-5]?[0-9]){1,2}"


@settings(max_examples=600, deadline=None)
@given(st.text(_PLAIN_CHARACTERS, max_size=8) | st.sampled_from(_YAML11_WORDS) | st.from_regex(_NUMBERS, fullmatch=True))
def test_every_plain_scalar_is_typed_as_pyyamls_resolver_says(text: str) -> None:
    """The builder's shortcuts (words, first characters, decimal digits) change nothing."""
    try:
        events = list(yaml.parse(f"k: {text}\n", Loader=yaml.SafeLoader))
    except yaml.YAMLError:
        return
    scalars = [e for e in events if isinstance(e, yaml.ScalarEvent)]
    if len(scalars) != 2 or scalars[1].value != text or not scalars[1].implicit[0]:
        return  # not a plain scalar on its own
    tag = loader._RESOLVER.resolve(yaml.ScalarNode, text, (True, False))
    expected = loader._typed(tag, text)
    try:
        value = parse_yaml(f"k: {text}\n", "f.yaml").data["k"]
    except PolicyError as refused:
        assert isinstance(expected, loader.Refusal), (text, refused)
        return
    assert typed(value) == typed(expected), (text, tag)


def test_nesting_is_refused_at_our_limit_with_our_code(parser: str) -> None:
    """libyaml stops on its own at 1000 levels, reading ahead of the events it hands out when they
    are on one line: the project's limit and location must win either way."""
    for text, line, column in (
        ("a: " + "[" * 1200 + "]" * 1200 + "\n", 1, 67),
        ("a:\n" + "".join(f"{'  ' * i}- \n" for i in range(1, 1100)), 65, 129),
        ("a: " + "\n".join("[" for _ in range(1100)) + "]" * 1100 + "\n", 64, 1),
    ):
        with pytest.raises(PolicyError) as info:
            parse_yaml(text, "f.yaml")
        [problem] = info.value.problems
        assert (problem.line, problem.column, problem.code) == (line, column, "yaml-depth")
        assert problem.path.startswith("a[0]")


def test_only_a_suspected_nesting_limit_reads_the_text_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """An ordinary syntax error is reported as the parser located it; when the brackets read ahead
    nest too deep, only the text up to our limit is read again."""
    readings: list[int] = []
    libyaml = loader.PARSER is not yaml.SafeLoader

    class Spy(loader.PARSER):  # type: ignore[misc, name-defined]
        def __init__(self, stream: str) -> None:
            readings.append(len(stream))
            super().__init__(stream)

    monkeypatch.setattr(loader, "PARSER", Spy)
    broken = "policy: x\nfacts: {a: [1, 2}\n" + "rule: [1]\n" * 1000
    with pytest.raises(PolicyError) as info:
        parse_yaml(broken, "f.yaml")
    assert [(p.line, p.code) for p in info.value.problems] == [(2, "yaml-syntax")]
    assert readings == [len(broken)]
    readings.clear()
    deep = "a: " + "[" * 1200 + "]" * 1200 + "\n" + "b: 1\n" * 1000
    with pytest.raises(PolicyError) as info:
        parse_yaml(deep, "f.yaml")
    assert [(p.line, p.column, p.code) for p in info.value.problems] == [(1, 67, "yaml-depth")]
    assert readings[0] == len(deep)
    assert readings[1:] == ([3 + 64] if libyaml else [])  # read again up to the bracket past the limit


def test_policy_text_is_checked_like_a_file(parser: str) -> None:
    document = parse_policy_text("policy: demo\nrules: []\n", "inline.yaml")
    assert document.data == {"policy": "demo", "rules": []}
    assert document.locate(("rules",)) == Location("inline.yaml", 2, 1)
    for text, code in (("# nothing\n", "file-empty"), ("- a\n", "file-shape"), ("a: [\n", "yaml-syntax"), ("x" * 20, "file-size")):
        with pytest.raises(PolicyError) as info:
            parse_policy_text(text, "inline.yaml", max_bytes=10 if code == "file-size" else loader.MAX_FILE_BYTES)
        assert [(p.file, p.code) for p in info.value.problems] == [("inline.yaml", code)]
    for read in (parse_yaml, parse_policy_text):
        with pytest.raises(PolicyError) as info:
            read("policy: demo\nname: bad \ud800 text\n", "inline.yaml")
        assert [(p.line, p.code) for p in info.value.problems] == [(2, "file-encoding")]


def test_a_directory_policy_locates_each_value_in_its_own_file() -> None:
    source = read_policy_source(ROOT / "rules" / "default")
    files = loader.policy_files(ROOT / "rules" / "default")
    offset = 0
    for file in files:
        alone = loader.read_yaml_file(file)
        for index in range(len(alone.data.get("rules", []))):
            assert source.locate(("rules", offset + index)) == alone.locate(("rules", index))
            assert source.locate(("rules", offset + index, "then")) == alone.locate(("rules", index, "then"))
        offset += len(alone.data.get("rules", []))
        for section in loader.MERGED_MAPPINGS:
            for name in alone.data.get(section, {}):
                assert source.locate((section, name)) == alone.locate((section, name))
    assert offset == len(source.data["rules"])


def test_a_mistake_deep_in_a_directory_policy_names_its_file_and_line(tmp_path: Path) -> None:
    policy_dir = tmp_path / "policy"
    policy_dir.mkdir()
    for path in (ROOT / "rules" / "default").glob("*.yaml"):
        (policy_dir / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    last = sorted(policy_dir.glob("*.yaml"))[-1]
    lines = last.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if "respond_within:" in line)
    lines[at] = lines[at].split("respond_within:")[0] + "respond_within: soon"
    last.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy(policy_dir)
    [problem] = info.value.problems
    assert (problem.file, problem.line) == (str(last), at + 1)
    assert problem.path.endswith(".then.respond_within")
