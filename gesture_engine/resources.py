"""Where the embedded default policy and the JSON Schemas live.

The repository keeps one copy of each, at ``rules/default``, ``rules/mappings`` and ``schemas/``. A wheel carries them
inside the package as ``gesture_engine/_data/...`` (see pyproject.toml); a source checkout or an
editable install reads them straight from the repository.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_DATA = _PACKAGE / "_data"
_ROOT = _DATA if _DATA.is_dir() else _PACKAGE.parent


def default_policy_path() -> Path:
    """The embedded default policy directory."""
    return _ROOT / "rules" / "default"


def mappings_path() -> Path:
    """The directory of the shipped helpdesk mappings (``zendesk.yaml``, ``freshdesk.yaml``)."""
    return _ROOT / "rules" / "mappings"


def schema_path(name: str) -> Path:
    """A JSON Schema shipped with the engine, e.g. ``schema_path("policy")``."""
    return _ROOT / "schemas" / f"{name}.schema.json"
