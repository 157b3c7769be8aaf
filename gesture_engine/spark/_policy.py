"""A policy as its files' bytes: what travels to Spark executors, compiled there once per process.

Executors may be other machines, without the driver's files. A task carries the policy's bytes and
the fingerprint the driver compiled them to; the first task in each executor process compiles them,
checks the fingerprint (another gesture-engine version there would decide differently) and keeps the
policy in a module-level cache, keyed by fingerprint, for every later task and batch.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from gesture_engine.errors import GestureError, PolicyError, Problem
from gesture_engine.load.compiler import compile_policy
from gesture_engine.load.source import parse_policy_files, policy_files
from gesture_engine.policy import Policy
from gesture_engine.resources import default_policy_path

CACHE_SIZE = 8
"""Compiled policies kept per process (a replay needs two); the oldest is dropped first."""
_COMPILED: dict[str, Policy] = {}


class SparkError(GestureError, ValueError):
    """Deciding on Spark failed as a whole (not one row: bad rows become error rows). ``code`` is stable:
    ``policy-invalid``, ``policy-mismatch``, ``policy-changed``, ``policy-source``, ``column-conflict``,
    ``json-column``, ``mapping``, ``output-exists``, ``input``."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")

    _RAISED = re.compile(r"gesture_engine\.spark\._policy\.SparkError: ([a-z-]+): (.+)")

    @classmethod
    def raised_in(cls, error: BaseException) -> SparkError | None:
        """The SparkError an executor raised, read back from the exception Spark gives the driver
        (its text holds the executor's traceback), or None when it holds none."""
        found = cls._RAISED.search(str(error))
        return None if found is None else cls(found[1], found[2].strip())


@dataclass(frozen=True)
class PolicyFiles:
    """A policy's files (name and bytes, or one file), where they came from, and their fingerprint."""

    source: str
    files: tuple[tuple[str, bytes], ...]
    directory: bool
    fingerprint: str

    @classmethod
    def read(cls, path: str | os.PathLike[str] | None = None) -> PolicyFiles:
        """Read the policy file or directory at ``path`` (None: the embedded default), compiling it once
        here to check it and learn its fingerprint. Raises ``PolicyError`` as ``load_policy`` does."""
        where = Path(path) if path is not None else default_policy_path()
        source = os.fspath(where)
        try:
            directory = where.is_dir()
            files = tuple((f.name, f.read_bytes()) for f in policy_files(where)) if directory else ((where.name, where.read_bytes()),)
        except OSError as exc:
            raise PolicyError([Problem(source, 1, 1, "", f"cannot read: {exc.strerror or exc}", "file-read")]) from None
        policy = _compile(source, files, directory)
        _remember(policy)
        return cls(source, files, directory, policy.fingerprint)

    @classmethod
    def from_text(cls, text: str, name: str = "<policy>") -> PolicyFiles:
        """A policy kept as YAML text (as ``loads_policy`` takes it)."""
        files = ((name, text.encode("utf-8")),)
        policy = _compile(name, files, False)
        _remember(policy)
        return cls(name, files, False, policy.fingerprint)

    @classmethod
    def of(cls, policy: Policy) -> PolicyFiles:
        """The files behind a loaded policy, read again from where it was loaded; refused when they
        changed since (the executors would decide by another policy)."""
        if not Path(policy.source).exists():
            raise SparkError("policy-source", f"policy {policy.name} was not loaded from a file ({policy.source}): "
                             "pass PolicyFiles.from_text(text) or a path")
        files = cls.read(policy.source)
        if files.fingerprint != policy.fingerprint:
            raise SparkError("policy-changed", f"{policy.source} changed since policy {policy.name} was loaded "
                             f"(fingerprint {files.fingerprint[:12]}, not {policy.fingerprint[:12]})")
        return files

    def load(self) -> Policy:
        """The compiled policy: from this process's cache, or compiled and checked now (see :func:`policy_for`)."""
        return policy_for(self)


def as_files(policy: Policy | PolicyFiles | str | os.PathLike[str] | None) -> PolicyFiles:
    """Whatever names a policy, as its files."""
    if isinstance(policy, PolicyFiles):
        return policy
    if isinstance(policy, Policy):
        return PolicyFiles.of(policy)
    return PolicyFiles.read(policy)


def policy_for(files: PolicyFiles) -> Policy:
    """The policy ``files`` hold, compiled at most once per process; raises ``SparkError`` when it does
    not load here (``policy-invalid``) or compiles to another fingerprint (``policy-mismatch``)."""
    policy = _COMPILED.get(files.fingerprint)
    if policy is not None:
        return policy
    try:
        policy = _compile(files.source, files.files, files.directory)
    except PolicyError as error:
        raise SparkError("policy-invalid", f"policy {files.source} does not load here: "
                         + "; ".join(str(p) for p in error.problems)) from None
    if policy.fingerprint != files.fingerprint:
        raise SparkError("policy-mismatch", f"policy {files.source} compiles here to fingerprint {policy.fingerprint[:12]}, "
                         f"not {files.fingerprint[:12]} as on the driver: is the same gesture-engine installed everywhere?")
    _remember(policy)
    return policy


def _compile(source: str, files: tuple[tuple[str, bytes], ...], directory: bool) -> Policy:
    return Policy(compile_policy(parse_policy_files(files, source, directory=directory)))


def _remember(policy: Policy) -> None:
    while len(_COMPILED) >= CACHE_SIZE:
        _COMPILED.pop(next(iter(_COMPILED)))
    _COMPILED[policy.fingerprint] = policy


class unwrapped:
    """Re-raise a failure an executor reported as our own ``SparkError`` (its code, its words) instead
    of Spark's wrapper with a Python traceback inside."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: object) -> None:
        if error is not None and not isinstance(error, SparkError):
            found = SparkError.raised_in(error)
            if found is not None:
                raise found from None
