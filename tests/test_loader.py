"""The quick YAML path must read exactly what the careful one reads, and still locate every mistake."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from gesture_engine import PolicyError, load_policy
from gesture_engine.loader import _parse_located, parse_yaml, read_policy_source

ROOT = Path(__file__).parent.parent
YAML_FILES = sorted(
    path for folder in ("rules", "tests/fixtures", "tests/hostile/policies", "benchmarks")
    for path in (ROOT / folder).rglob("*.y*ml")
)


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_quick_path_reads_what_the_careful_one_reads(path: Path) -> None:
    text = path.read_bytes().decode("utf-8", errors="replace")
    try:
        careful = _parse_located(text, "f.yaml")
    except PolicyError as refused:
        with pytest.raises(PolicyError) as quick:
            parse_yaml(text, "f.yaml")
        assert quick.value.problems == refused.problems
        return
    quick_doc = parse_yaml(text, "f.yaml")
    assert quick_doc.data == careful.data
    assert all(type(a) is type(b) for a, b in zip(_leaves(quick_doc.data), _leaves(careful.data), strict=True))
    for path_key, where in quick_doc.locations.items():
        assert careful.locations[path_key] == where
    assert quick_doc.complete().locations == careful.locations


def _leaves(value: object) -> list[object]:
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in (key, *_leaves(item))]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def test_quick_path_types_scalars_like_yaml() -> None:
    doc = parse_yaml("a: [1, 0x1f, 1.10, yes, ~, '7', 2026-01-02, 1d, 1_000, 012, on]\n", "f.yaml")
    assert doc.data == {"a": [1, 31, Decimal("1.10"), True, None, "7", "2026-01-02", "1d", 1000, 10, True]}
    assert doc.pending  # nothing unusual: the quick path took it


def test_a_mistake_deep_in_a_directory_policy_names_its_file_and_line(tmp_path: Path) -> None:
    source = read_policy_source(ROOT / "rules" / "default")
    assert source.pending
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
